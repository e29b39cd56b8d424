// Inverted dropout, one thread per block of 4 elements: element e is kept when the uniform
// u_e = unit_float(word) drawn exactly as random.wgsl draws it for the same seed satisfies
// u_e >= p, and is then scaled by 1 / (1 - p), so the expected value is unchanged. The mask is
// regenerated from the seed instead of stored: the backward pass runs this kernel on the
// output gradient with the same seed. philox.wgsl is prepended by the host.
//
// Host defines: WORKGROUP threads per workgroup.

struct Params {
  n: u32,
  key_lo: u32,
  key_hi: u32,
  _pad0: u32,
  p: f32,       // drop probability
  scale: f32,   // 1 / (1 - p), or 0 when p is 1
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let block = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let first = block * 4u;
  if (first >= params.n) { return; }
  let bits = philox4x32_10(vec4<u32>(block, 0u, 0u, 0u), vec2<u32>(params.key_lo, params.key_hi));

  for (var j = 0u; j < 4u; j++) {
    let e = first + j;
    if (e < params.n) {
      let keep = unit_float(bits[j]) >= params.p;
      out[e] = select(0.0, x[e] * params.scale, keep);
    }
  }
}
