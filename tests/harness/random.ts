/** Seeded inputs for tests: the same seed gives the same values in Node and the browser. */

/** mulberry32: a small 32-bit generator, good enough for test data. */
export function rng(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** `n` values uniform in [low, high). */
export function uniform(n: number, seed: number, low = -1, high = 1): Float64Array {
  const next = rng(seed);
  const out = new Float64Array(n);
  for (let i = 0; i < n; i++) out[i] = low + (high - low) * next();
  return out;
}

/** Rounds float64 values to float32, so that references start from what the GPU sees. */
export function f32(values: ArrayLike<number>): Float64Array {
  return Float64Array.from(Float32Array.from(values as ArrayLike<number>));
}
