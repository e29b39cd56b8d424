// Seeded random fill, one thread per block of 4 elements. Block b takes the 4 words of
// philox4x32_10(counter = (b, 0, 0, 0), key = (seed_lo, seed_hi)) (philox.wgsl, prepended by
// the host), so element e's value depends only on the seed and e, never on the adapter or the
// workgroup size.
//
// Host defines (src/kernels/random.ts):
//   WORKGROUP    threads per workgroup
//   NORMAL       false: uniform in [a, b) as a + (b - a) * u with u = unit_float(word);
//                true: normal with mean a and standard deviation b, by the Box-Muller transform
//                on the word pairs (0, 1) and (2, 3) of each block.

struct Params {
  n: u32,
  key_lo: u32,
  key_hi: u32,
  _pad0: u32,
  a: f32,   // uniform: low; normal: mean
  b: f32,   // uniform: high; normal: standard deviation
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;

const TWO_PI: f32 = 6.283185307179586;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let block = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let first = block * 4u;
  if (first >= params.n) { return; }
  let bits = philox4x32_10(vec4<u32>(block, 0u, 0u, 0u), vec2<u32>(params.key_lo, params.key_hi));

  var values: vec4<f32>;
  if (NORMAL) {
    // Box-Muller: u1 in (0, 1] keeps the logarithm finite.
    let u1 = vec2<f32>(unit_float(bits.x), unit_float(bits.z)) + vec2<f32>(1.0 / 16777216.0);
    let u2 = vec2<f32>(unit_float(bits.y), unit_float(bits.w));
    let radius = sqrt(-2.0 * log(u1));
    let angle = TWO_PI * u2;
    let z = vec4<f32>(radius.x * cos(angle.x), radius.x * sin(angle.x), radius.y * cos(angle.y), radius.y * sin(angle.y));
    values = params.a + params.b * z;
  } else {
    let u = vec4<f32>(unit_float(bits.x), unit_float(bits.y), unit_float(bits.z), unit_float(bits.w));
    values = params.a + (params.b - params.a) * u;
  }

  for (var j = 0u; j < 4u; j++) {
    if (first + j < params.n) { out[first + j] = values[j]; }
  }
}
