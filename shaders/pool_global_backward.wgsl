// Global average pooling backward: dx[n, c, p] = dy[n, c] / plane.
// Host defines: WORKGROUP.

struct Params {
  batch: u32, channels: u32, plane: u32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;       // [batch, channels]
@group(0) @binding(1) var<storage, read_write> dx: array<f32>; // [batch, channels, plane]
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (i >= params.batch * params.channels * params.plane) { return; }
  dx[i] = dy[i / params.plane] / f32(params.plane);
}
