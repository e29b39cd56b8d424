// Adds seeded Gaussian noise and clamps: out = clamp(x + std * z, low, high), z ~ N(0, 1).
// One thread per element.
//
// Host defines:
//   WORKGROUP threads per workgroup
//
// z is counter-based, so element i gets the same value for the same seed whatever the grid:
// two 32-bit hashes of (seed, i) give two uniforms in (0, 1), and the Box-Muller transform
// maps them to one normal value. The hash is Chris Wellons' "lowbias32" integer hash.

struct Params {
  n: u32,
  seed: u32,
  sigma: f32,  // the std of the noise (`std` is a reserved word in WGSL)
  low: f32,
  high: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

fn lowbias32(v: u32) -> u32 {
  var h = v;
  h ^= h >> 16u;
  h *= 0x7feb352du;
  h ^= h >> 15u;
  h *= 0x846ca68bu;
  h ^= h >> 16u;
  return h;
}

// A uniform value in (0, 1) from the top 24 bits of a hash; never 0, so log() is finite.
fn to_unit(h: u32) -> f32 {
  return (f32(h >> 8u) + 0.5) * (1.0 / 16777216.0);
}

const TWO_PI: f32 = 6.283185307179586;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (i >= params.n) { return; }
  let key = lowbias32(params.seed ^ 0x9e3779b9u);
  let u1 = to_unit(lowbias32(key ^ lowbias32(2u * i)));
  let u2 = to_unit(lowbias32(key ^ lowbias32(2u * i + 1u)));
  let z = sqrt(-2.0 * log(u1)) * cos(TWO_PI * u2);
  out[i] = clamp(x[i] + params.sigma * z, params.low, params.high);
}
