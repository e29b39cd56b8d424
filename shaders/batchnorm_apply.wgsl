// Batchnorm forward, pass 3: y = x * scale[c] + shift[c], then ReLU when `relu` is 1 (the
// BN-ReLU pair DenseNet applies before each convolution). x and y are channel views: image n
// of x starts at x_offset + n * x_batch_stride.
// main_rows gives each thread one (image, channel) row of `plane` values instead of one value,
// so it divides once per row rather than three times per value: a software adapter scalarises
// integer division, which made it most of the cost of `main` there.
// Host defines: WORKGROUP.

struct Params {
  batch: u32, channels: u32, plane: u32, relu: u32,
  x_offset: u32, x_batch_stride: u32, y_offset: u32, y_batch_stride: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;       // view of [batch, channels, plane]
@group(0) @binding(1) var<storage, read> stats: array<f32>;   // [channels, 4]: mean, invstd, scale, shift
@group(0) @binding(2) var<storage, read_write> y: array<f32>; // view of [batch, channels, plane]
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let per_image = params.channels * params.plane;
  if (i >= params.batch * per_image) { return; }
  let n = i / per_image;
  let within = i % per_image;
  let c = within / params.plane;
  var v = x[params.x_offset + n * params.x_batch_stride + within] * stats[4u * c + 2u] + stats[4u * c + 3u];
  if (params.relu != 0u) { v = max(v, 0.0); }
  y[params.y_offset + n * params.y_batch_stride + within] = v;
}

@compute @workgroup_size(WORKGROUP)
fn main_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (row >= params.batch * params.channels) { return; }
  let n = row / params.channels;
  let c = row % params.channels;
  let scale = stats[4u * c + 2u];
  let shift = stats[4u * c + 3u];
  let x_first = params.x_offset + n * params.x_batch_stride + c * params.plane;
  let y_first = params.y_offset + n * params.y_batch_stride + c * params.plane;
  for (var p = 0u; p < params.plane; p++) {
    var v = x[x_first + p] * scale + shift;
    if (params.relu != 0u) { v = max(v, 0.0); }
    y[y_first + p] = v;
  }
}
