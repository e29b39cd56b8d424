// Global average pooling: y[n, c] = mean of x[n, c, :, :]. One thread per (n, c); the planes
// DenseNet pools are small (7x7 at 224x224 input). x is a channel view.
// Host defines: WORKGROUP.

struct Params {
  batch: u32, channels: u32, plane: u32, x_offset: u32,
  x_batch_stride: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;       // view of [batch, channels, plane]
@group(0) @binding(1) var<storage, read_write> y: array<f32>; // [batch, channels]
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (i >= params.batch * params.channels) { return; }
  let base = params.x_offset + (i / params.channels) * params.x_batch_stride + (i % params.channels) * params.plane;
  var sum = 0.0;
  for (var p = 0u; p < params.plane; p++) { sum += x[base + p]; }
  y[i] = sum / f32(params.plane);
}
