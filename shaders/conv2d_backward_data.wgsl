// conv2d gradient of the input as implicit GEMM:
//   dx[img, ci, ih, iw] = sum over (co, kh, kw) of w[co, ci, kh, kw] * dy[img, co, oh, ow]
// where oh = (ih + pad - kh) / stride when that division is exact and in range (same for ow).
//   M = C_in, K = C_out * KH * KW, N = batch * H * W.
// dy and dx are channel views (offset and batch stride in elements). With beta = 1 the result
// is added to dx, which is how a dense block accumulates gradients into its feature map.
// Flags in uniforms: pointwise (1x1, stride 1, no padding), dy_in_dx (dy is a view of dx's
// buffer, read through dx because WebGPU forbids binding one buffer both read-only and
// read-write in a dispatch; the host binds any read-only buffer as dy, and the two views never
// overlap).

struct Params {
  batch: u32, c_in: u32, height: u32, width: u32,
  c_out: u32, out_height: u32, out_width: u32, kernel_h: u32,
  kernel_w: u32, stride: u32, pad: u32, dy_offset: u32,
  dy_batch_stride: u32, dx_offset: u32, dx_batch_stride: u32, beta: f32,
  pointwise: u32, dy_in_dx: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;      // view of [batch, c_out, out_height, out_width]; unused when dy_in_dx is 1
@group(0) @binding(1) var<storage, read> w: array<f32>;       // [c_out, c_in, kernel_h, kernel_w]
@group(0) @binding(2) var<storage, read_write> dx: array<f32>; // view of [batch, c_in, height, width]
@group(0) @binding(3) var<uniform> params: Params;

fn read_dy(i: u32) -> f32 {
  if (params.dy_in_dx != 0u) { return dx[i]; }
  return dy[i];
}

fn load_a(m: u32, k: u32) -> f32 {
  if (m >= params.c_in) { return 0.0; }
  let taps = params.kernel_h * params.kernel_w;
  return w[((k / taps) * params.c_in + m) * taps + k % taps];
}

fn load_b(k: u32, n: u32) -> f32 {
  let plane = params.height * params.width;
  if (n >= params.batch * plane) { return 0.0; }
  let img = n / plane;
  let p = n % plane;
  let out_plane = params.out_height * params.out_width;
  let base = params.dy_offset + img * params.dy_batch_stride;
  if (params.pointwise != 0u) { return read_dy(base + k * out_plane + p); }

  let taps = params.kernel_h * params.kernel_w;
  let co = k / taps;
  let tap = k % taps;
  let sh = i32(p / params.width) + i32(params.pad) - i32(tap / params.kernel_w);
  let sw = i32(p % params.width) + i32(params.pad) - i32(tap % params.kernel_w);
  let s = i32(params.stride);
  if (sh < 0 || sw < 0 || sh % s != 0 || sw % s != 0) { return 0.0; }
  let oh = u32(sh / s);
  let ow = u32(sw / s);
  if (oh >= params.out_height || ow >= params.out_width) { return 0.0; }
  return read_dy(base + co * out_plane + oh * params.out_width + ow);
}

fn store(m: u32, n: u32, v: f32) {
  let plane = params.height * params.width;
  if (m >= params.c_in || n >= params.batch * plane) { return; }
  let index = params.dx_offset + (n / plane) * params.dx_batch_stride + m * plane + n % plane;
  var result = v;
  if (params.beta != 0.0) { result += params.beta * dx[index]; }
  dx[index] = result;
}

@compute @workgroup_size(WG, WG, 1)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_id) lid: vec3<u32>) {
  let m0 = wid.y * TILE_M;
  let n0 = wid.x * TILE_N;
  let k = params.c_out * params.kernel_h * params.kernel_w;
  let acc = gemm_tile(m0, n0, 0u, k, lid.x, lid.y);
  store_tile(m0, n0, lid.x, lid.y, acc);
}
