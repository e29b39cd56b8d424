// Average pooling forward: y = sum of the window / kernel^2 (padding counts as zeros, PyTorch's
// count_include_pad default). x and y are channel views, so a transition can write its output
// straight into the next dense block's feature map.
// Host defines: WORKGROUP.

struct Params {
  batch: u32, channels: u32, height: u32, width: u32,
  out_height: u32, out_width: u32, kernel: u32, stride: u32,
  pad: u32, x_offset: u32, x_batch_stride: u32, y_offset: u32,
  y_batch_stride: u32, _pad0: u32, _pad1: u32, _pad2: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;       // view of [batch, channels, height, width]
@group(0) @binding(1) var<storage, read_write> y: array<f32>; // view of [batch, channels, out_height, out_width]
@group(0) @binding(2) var<uniform> params: Params;

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

  var sum = 0.0;
  for (var kh = 0u; kh < params.kernel; kh++) {
    let ih = i32(oh * params.stride + kh) - i32(params.pad);
    if (ih < 0 || ih >= i32(params.height)) { continue; }
    for (var kw = 0u; kw < params.kernel; kw++) {
      let iw = i32(ow * params.stride + kw) - i32(params.pad);
      if (iw < 0 || iw >= i32(params.width)) { continue; }
      sum += x[base + u32(ih) * params.width + u32(iw)];
    }
  }
  y[params.y_offset + n * params.y_batch_stride + i % per_image] = sum / f32(params.kernel * params.kernel);
}
