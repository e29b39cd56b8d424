// Max pooling forward: y[n, c, oh, ow] = max over the window of x, with padding that never
// wins (PyTorch's -inf padding). Also writes the argmax (index within the input plane, the
// first maximum in row-major window order) that the backward pass routes the gradient to.
// x and y are channel views: image n starts at offset + n * batch_stride.
// Host defines: WORKGROUP.

struct Params {
  batch: u32, channels: u32, height: u32, width: u32,
  out_height: u32, out_width: u32, kernel: u32, stride: u32,
  pad: u32, x_offset: u32, x_batch_stride: u32, y_offset: u32,
  y_batch_stride: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;            // view of [batch, channels, height, width]
@group(0) @binding(1) var<storage, read_write> y: array<f32>;      // view of [batch, channels, out_height, out_width]
@group(0) @binding(2) var<storage, read_write> argmax: array<i32>; // [batch, channels, out_height, out_width]
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let out_plane = params.out_height * params.out_width;
  let per_image = params.channels * out_plane;
  if (i >= params.batch * per_image) { return; }
  let n = i / per_image;
  let c = (i % per_image) / out_plane;
  let oh = (i % out_plane) / params.out_width;
  let ow = i % params.out_width;
  let base = params.x_offset + n * params.x_batch_stride + c * params.height * params.width;

  var best = -3.4028234663852886e38;
  var best_index = -1;
  for (var kh = 0u; kh < params.kernel; kh++) {
    let ih = i32(oh * params.stride + kh) - i32(params.pad);
    if (ih < 0 || ih >= i32(params.height)) { continue; }
    for (var kw = 0u; kw < params.kernel; kw++) {
      let iw = i32(ow * params.stride + kw) - i32(params.pad);
      if (iw < 0 || iw >= i32(params.width)) { continue; }
      let index = ih * i32(params.width) + iw;
      let v = x[base + u32(index)];
      if (best_index < 0 || v > best) {
        best = v;
        best_index = index;
      }
    }
  }
  y[params.y_offset + n * params.y_batch_stride + i % per_image] = best;
  argmax[i] = best_index;
}
