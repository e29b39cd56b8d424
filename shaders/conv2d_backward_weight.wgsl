// conv2d gradient of the weights as implicit GEMM:
//   dw[co, ci, kh, kw] = sum over (img, oh, ow) of dy[img, co, oh, ow] * x[img, ci, ih, iw]
// with ih = oh * stride - pad + kh, iw = ow * stride - pad + kw.
//   M = C_out, N = C_in * KH * KW, K = batch * OH * OW.
// K is long (every pixel of every image), so it is split into `splits` ranges of k_chunk
// (workgroup z); range z writes partial[z, M, N] and the host sums the ranges.
// Flags in uniforms: pointwise (1x1, stride 1, no padding).

struct Params {
  batch: u32, c_in: u32, height: u32, width: u32,
  c_out: u32, out_height: u32, out_width: u32, kernel_h: u32,
  kernel_w: u32, stride: u32, pad: u32, x_offset: u32,
  x_batch_stride: u32, dy_offset: u32, dy_batch_stride: u32, k_chunk: u32,
  pointwise: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;           // view of [batch, c_out, out_height, out_width]
@group(0) @binding(1) var<storage, read> x: array<f32>;            // view of [batch, c_in, height, width]
@group(0) @binding(2) var<storage, read_write> partial: array<f32>; // [splits, c_out, c_in * kernel_h * kernel_w]
@group(0) @binding(3) var<uniform> params: Params;

var<private> split: u32;

fn load_a(m: u32, k: u32) -> f32 {
  if (m >= params.c_out) { return 0.0; }
  let plane = params.out_height * params.out_width;
  return dy[params.dy_offset + (k / plane) * params.dy_batch_stride + m * plane + k % plane];
}

fn load_b(k: u32, n: u32) -> f32 {
  let taps = params.kernel_h * params.kernel_w;
  if (n >= params.c_in * taps) { return 0.0; }
  let plane = params.out_height * params.out_width;
  let img = k / plane;
  let p = k % plane;
  let base = params.x_offset + img * params.x_batch_stride;
  if (params.pointwise != 0u) { return x[base + n * plane + p]; }

  let ci = n / taps;
  let tap = n % taps;
  let ih = i32((p / params.out_width) * params.stride + tap / params.kernel_w) - i32(params.pad);
  let iw = i32((p % params.out_width) * params.stride + tap % params.kernel_w) - i32(params.pad);
  if (ih < 0 || iw < 0 || ih >= i32(params.height) || iw >= i32(params.width)) { return 0.0; }
  return x[base + (ci * params.height + u32(ih)) * params.width + u32(iw)];
}

fn store(m: u32, n: u32, v: f32) {
  let columns = params.c_in * params.kernel_h * params.kernel_w;
  if (m >= params.c_out || n >= columns) { return; }
  partial[(split * params.c_out + m) * columns + n] = v;
}

@compute @workgroup_size(WG, WG, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  split = wid.z;
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE_N;
  let k_total = params.batch * params.out_height * params.out_width;
  let k_begin = wid.z * params.k_chunk;
  let k_end = min(k_total, k_begin + params.k_chunk);
  let acc = gemm_tile(m0, n0, k_begin, k_end, lid.x, lid.y);
  store_tile(m0, n0, lid.x, lid.y, acc);
}
