// Max pooling backward, as a gather (windows overlap, and WGSL has no float atomics): each
// input element sums the gradients of the outputs whose window covers it and whose argmax is
// this element. dy is a channel view; dx is a new contiguous tensor.
// Host defines: WORKGROUP.

struct Params {
  batch: u32, channels: u32, height: u32, width: u32,
  out_height: u32, out_width: u32, kernel: u32, stride: u32,
  pad: u32, dy_offset: u32, dy_batch_stride: u32, _pad0: u32,
}

@group(0) @binding(0) var<storage, read> dy: array<f32>;       // view of [batch, channels, out_height, out_width]
@group(0) @binding(1) var<storage, read> argmax: array<i32>;   // [batch, channels, out_height, out_width]
@group(0) @binding(2) var<storage, read_write> dx: array<f32>; // [batch, channels, height, width]
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let plane = params.height * params.width;
  if (i >= params.batch * params.channels * plane) { return; }
  let nc = i / plane;
  let p = i % plane;
  let ih = p / params.width;
  let iw = p % params.width;
  let out_plane = params.out_height * params.out_width;
  let n = nc / params.channels;
  let c = nc % params.channels;

  // Outputs oh with oh * stride - pad <= ih <= oh * stride - pad + kernel - 1.
  let top = i32(ih + params.pad) - i32(params.kernel) + 1;
  let left = i32(iw + params.pad) - i32(params.kernel) + 1;
  let s = i32(params.stride);
  let oh_begin = u32(max(0, (top + s - 1) / s));
  let ow_begin = u32(max(0, (left + s - 1) / s));
  let oh_end = min(params.out_height, (ih + params.pad) / params.stride + 1u);
  let ow_end = min(params.out_width, (iw + params.pad) / params.stride + 1u);
  var sum = 0.0;
  for (var oh = oh_begin; oh < oh_end; oh++) {
    for (var ow = ow_begin; ow < ow_end; ow++) {
      let o = nc * out_plane + oh * params.out_width + ow;
      if (argmax[o] == i32(p)) {
        sum += dy[params.dy_offset + n * params.dy_batch_stride + c * out_plane + oh * params.out_width + ow];
      }
    }
  }
  dx[i] = sum;
}
