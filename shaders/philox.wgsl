// Philox-4x32-10, the counter-based generator of Salmon, Moraes, Dror and Shaw, "Parallel
// random numbers: as easy as 1, 2, 3" (SC 2011), as in the Random123 library. It maps a 128-bit
// counter and a 64-bit key to 128 random bits using only 32-bit integer arithmetic, which WGSL
// defines exactly, so a seed gives the same bits on every adapter. Prepended by the host to
// random.wgsl and dropout.wgsl (src/kernels/random.ts).

const PHILOX_M0: u32 = 0xD2511F53u;
const PHILOX_M1: u32 = 0xCD9E8D57u;
const PHILOX_W0: u32 = 0x9E3779B9u;   // key schedule increments (golden ratio, sqrt(3) - 1)
const PHILOX_W1: u32 = 0xBB67AE85u;

// The high and low 32 bits of the 64-bit product a * b; WGSL has no 64-bit integers, so the
// high word is assembled from 16-bit halves.
fn mul_hi_lo(a: u32, b: u32) -> vec2<u32> {
  let a_lo = a & 0xffffu;
  let a_hi = a >> 16u;
  let b_lo = b & 0xffffu;
  let b_hi = b >> 16u;
  let lo_lo = a_lo * b_lo;
  let lo_hi = a_lo * b_hi;
  let hi_lo = a_hi * b_lo;
  let hi_hi = a_hi * b_hi;
  let middle = (lo_lo >> 16u) + (lo_hi & 0xffffu) + (hi_lo & 0xffffu);
  let high = hi_hi + (lo_hi >> 16u) + (hi_lo >> 16u) + (middle >> 16u);
  return vec2<u32>(high, a * b);
}

fn philox4x32_10(counter: vec4<u32>, key: vec2<u32>) -> vec4<u32> {
  var c = counter;
  var k = key;
  for (var r = 0u; r < 10u; r++) {
    let p0 = mul_hi_lo(PHILOX_M0, c.x);
    let p1 = mul_hi_lo(PHILOX_M1, c.z);
    c = vec4<u32>(p1.x ^ c.y ^ k.x, p1.y, p0.x ^ c.w ^ k.y, p0.y);
    k = k + vec2<u32>(PHILOX_W0, PHILOX_W1);
  }
  return c;
}

// A float in [0, 1) from the top 24 bits of a word: every value is exact in f32.
fn unit_float(bits: u32) -> f32 {
  return f32(bits >> 8u) * (1.0 / 16777216.0);
}
