// conv2d forward as implicit GEMM: y[img, co, oh, ow] = bias[co] + sum over (ci, kh, kw) of
// w[co, ci, kh, kw] * x[img, ci, oh * stride - pad + kh, ow * stride - pad + kw].
//   M = C_out, K = C_in * KH * KW, N = batch * OH * OW (the batch is folded into N).
// x and y are channel views inside larger buffers: image img of x starts at
// x_offset + img * x_batch_stride (elements), and likewise for y, so a dense block can read a
// prefix of its feature map and write its new channels in place.
// Flags in uniforms (not defines, so that each tile size compiles once): pointwise (1x1,
// stride 1, no padding: B is the input itself), has_bias, x_in_y (x is a view of y's buffer:
// WebGPU forbids binding one buffer both read-only and read-write in a dispatch, so x is then
// read through y; the host binds any read-only buffer as x, and the two views never overlap).

struct Params {
  batch: u32, c_in: u32, height: u32, width: u32,
  c_out: u32, out_height: u32, out_width: u32, kernel_h: u32,
  kernel_w: u32, stride: u32, pad: u32, x_offset: u32,
  x_batch_stride: u32, y_offset: u32, y_batch_stride: u32, beta: f32,
  pointwise: u32, has_bias: u32, x_in_y: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;      // view of [batch, c_in, height, width]; unused when x_in_y is 1
@group(0) @binding(1) var<storage, read> w: array<f32>;      // [c_out, c_in, kernel_h, kernel_w]
@group(0) @binding(2) var<storage, read> bias: array<f32>;   // [c_out]; any buffer when has_bias is 0
@group(0) @binding(3) var<storage, read_write> y: array<f32>; // view of [batch, c_out, out_height, out_width]
@group(0) @binding(4) var<uniform> params: Params;

fn read_x(i: u32) -> f32 {
  if (params.x_in_y != 0u) { return y[i]; }
  return x[i];
}

fn load_a(m: u32, k: u32) -> f32 {
  if (m >= params.c_out) { return 0.0; }
  return w[m * params.c_in * params.kernel_h * params.kernel_w + k];
}

fn load_b(k: u32, n: u32) -> f32 {
  let plane = params.out_height * params.out_width;
  if (n >= params.batch * plane) { return 0.0; }
  let img = n / plane;
  let p = n % plane;
  let base = params.x_offset + img * params.x_batch_stride;
  if (params.pointwise != 0u) { return read_x(base + k * plane + p); }

  let taps = params.kernel_h * params.kernel_w;
  let ci = k / taps;
  let tap = k % taps;
  let ih = i32((p / params.out_width) * params.stride + tap / params.kernel_w) - i32(params.pad);
  let iw = i32((p % params.out_width) * params.stride + tap % params.kernel_w) - i32(params.pad);
  if (ih < 0 || iw < 0 || ih >= i32(params.height) || iw >= i32(params.width)) { return 0.0; }
  return read_x(base + (ci * params.height + u32(ih)) * params.width + u32(iw));
}

fn store(m: u32, n: u32, v: f32) {
  let plane = params.out_height * params.out_width;
  if (m >= params.c_out || n >= params.batch * plane) { return; }
  let index = params.y_offset + (n / plane) * params.y_batch_stride + m * plane + n % plane;
  var result = v;
  if (params.has_bias != 0u) { result += bias[m]; }
  // beta = 0 must not read y: the buffer may hold NaN from an earlier use.
  if (params.beta != 0.0) { result += params.beta * y[index]; }
  y[index] = result;
}

@compute @workgroup_size(WG, WG, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE_N;
  let k = params.c_in * params.kernel_h * params.kernel_w;
  let acc = gemm_tile(m0, n0, 0u, k, lid.x, lid.y);
  store_tile(m0, n0, lid.x, lid.y, acc);
}
