/**
 * Philox-4x32-10 on the host, the test oracle for shaders/philox.wgsl: the same rounds on
 * 32-bit integers, checked against the known-answer vectors of the Random123 library.
 */
const M0 = 0xd2511f53;
const M1 = 0xcd9e8d57;
const W0 = 0x9e3779b9;
const W1 = 0xbb67ae85;

/** Returns the high and low 32-bit words of a * b for 32-bit unsigned a and b. */
function mulHiLo(a: number, b: number): [number, number] {
  const product = BigInt(a) * BigInt(b);
  return [Number(product >> 32n), Number(product & 0xffffffffn)];
}

/** Returns the four output words for a counter of four words and a key of two. */
export function philox4x32(counter: readonly number[], key: readonly number[]): number[] {
  let [c0, c1, c2, c3] = counter.map((v) => v >>> 0);
  let [k0, k1] = key.map((v) => v >>> 0);
  for (let round = 0; round < 10; round++) {
    const [hi0, lo0] = mulHiLo(M0, c0);
    const [hi1, lo1] = mulHiLo(M1, c2);
    [c0, c1, c2, c3] = [(hi1 ^ c1 ^ k0) >>> 0, lo1, (hi0 ^ c3 ^ k1) >>> 0, lo0];
    k0 = (k0 + W0) >>> 0;
    k1 = (k1 + W1) >>> 0;
  }
  return [c0, c1, c2, c3];
}

/** Computes the uniform values in [0, 1) that randomUniform(shape, seed) draws for n elements. */
export function philoxUniform(n: number, seed: number): Float64Array {
  const key = [seed % 2 ** 32, Math.floor(seed / 2 ** 32)];
  const out = new Float64Array(n);
  for (let block = 0; block * 4 < n; block++) {
    const words = philox4x32([block, 0, 0, 0], key);
    for (let j = 0; j < 4 && block * 4 + j < n; j++) out[block * 4 + j] = (words[j] >>> 8) / 2 ** 24;
  }
  return out;
}
