// Batchnorm backward, pass 3: dx = a[c] * g + b[c] * x + d[c] with g = dy masked by the ReLU
// (see batchnorm_grad_finalize.wgsl). With beta 1 the result is added to dx: a dense block
// accumulates every layer's gradient into the channel prefix of its feature map's gradient.
// All three are channel views (element offset, batch stride).
// main_rows gives each thread one (image, channel) row, as in batchnorm_apply.wgsl.
// Host defines: WORKGROUP.

struct Params {
  batch: u32, channels: u32, plane: u32, relu: u32,
  x_offset: u32, x_batch_stride: u32, dy_offset: u32, dy_batch_stride: u32,
  dx_offset: u32, dx_batch_stride: u32, beta: f32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read> dy: array<f32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;       // [channels, 4]: mean, invstd, scale, shift
@group(0) @binding(3) var<storage, read> coeffs: array<f32>;      // [channels, 3]: a, b, d
@group(0) @binding(4) var<storage, read_write> dx: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let per_image = params.channels * params.plane;
  if (i >= params.batch * per_image) { return; }
  let n = i / per_image;
  let within = i % per_image;
  let c = within / params.plane;
  let xv = x[params.x_offset + n * params.x_batch_stride + within];
  var g = dy[params.dy_offset + n * params.dy_batch_stride + within];
  if (params.relu != 0u && xv * stats[4u * c + 2u] + stats[4u * c + 3u] <= 0.0) { g = 0.0; }
  var v = coeffs[3u * c] * g + coeffs[3u * c + 1u] * xv + coeffs[3u * c + 2u];
  let index = params.dx_offset + n * params.dx_batch_stride + within;
  if (params.beta != 0.0) { v += params.beta * dx[index]; }
  dx[index] = v;
}

@compute @workgroup_size(WORKGROUP)
fn main_rows(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (row >= params.batch * params.channels) { return; }
  let n = row / params.channels;
  let c = row % params.channels;
  let scale = stats[4u * c + 2u];
  let shift = stats[4u * c + 3u];
  let a = coeffs[3u * c];
  let b = coeffs[3u * c + 1u];
  let d = coeffs[3u * c + 2u];
  let within = c * params.plane;
  let x_first = params.x_offset + n * params.x_batch_stride + within;
  let dy_first = params.dy_offset + n * params.dy_batch_stride + within;
  let dx_first = params.dx_offset + n * params.dx_batch_stride + within;
  for (var p = 0u; p < params.plane; p++) {
    let xv = x[x_first + p];
    var g = dy[dy_first + p];
    if (params.relu != 0u && xv * scale + shift <= 0.0) { g = 0.0; }
    var v = a * g + b * xv + d;
    // beta = 0 must not read dx: the buffer may hold NaN from an earlier use.
    if (params.beta != 0.0) { v += params.beta * dx[dx_first + p]; }
    dx[dx_first + p] = v;
  }
}
