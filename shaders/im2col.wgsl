// im2col and col2im: the explicit column matrix of a convolution, for running it as GEMMs.
//
// The column matrix has one row per k = (ci, kh, kw), ci slowest, and one column per output
// pixel p = (oh, ow) of each image:
//   cols[img, k, p] = x[img, ci, oh * stride - pad + kh, ow * stride - pad + kw]  (0 outside)
// Two layouts, in both of which a row (img, k) is OH * OW contiguous values:
//   image-major (k_major 0): [batch, K, OH * OW], one GEMM operand per image (forward);
//   k-major (k_major 1):     [K, batch * OH * OW] with rows `row_stride` apart (at least
//                            batch * OH * OW, rounded up to a multiple of 4 so that the GEMM
//                            reads aligned vec4 runs whatever the batch): one operand for the
//                            whole batch.
// x and dx are channel views: image img starts at offset + img * batch_stride (elements).
//
// col2im is the adjoint, for either layout: every input pixel sums the column entries that
// read it, one thread per pixel, so no two threads write the same element. With a 1x1 window
// it turns k-major [C, batch * H * W] values back into a [batch, C, H, W] view.
//   dx[img, ci, ih, iw] = beta * dx[...] + sum over (kh, kw) with oh * stride = ih + pad - kh
//                         and ow * stride = iw + pad - kw in range of cols[img, k, (oh, ow)]
// Host defines: WORKGROUP.

struct Params {
  batch: u32, c_in: u32, height: u32, width: u32,
  out_height: u32, out_width: u32, kernel_h: u32, kernel_w: u32,
  stride: u32, pad: u32, offset: u32, batch_stride: u32,
  k_major: u32, beta: f32, row_stride: u32, _pad: u32,
}

@group(0) @binding(0) var<storage, read> source: array<f32>;       // im2col: x view; col2im: cols
@group(0) @binding(1) var<storage, read_write> destination: array<f32>; // im2col: cols; col2im: dx view
@group(0) @binding(2) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // One thread per row (img, k): its OH * OW pixels are contiguous in both layouts, and the
  // loop over them steps the input position instead of dividing per element.
  let row = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let taps = params.kernel_h * params.kernel_w;
  let rows = params.c_in * taps;
  if (row >= params.batch * rows) { return; }

  let img = row / rows;
  let k = row % rows;
  let plane = params.out_height * params.out_width;
  var out = (img * rows + k) * plane;
  if (params.k_major != 0u) { out = k * params.row_stride + img * plane; }
  let ci = k / taps;
  let kh = (k % taps) / params.kernel_w;
  let kw = k % params.kernel_w;
  let channel = params.offset + img * params.batch_stride + ci * params.height * params.width;

  var ih = i32(kh) - i32(params.pad);
  for (var oh = 0u; oh < params.out_height; oh++) {
    let row_inside = ih >= 0 && ih < i32(params.height);
    var iw = i32(kw) - i32(params.pad);
    for (var ow = 0u; ow < params.out_width; ow++) {
      var v = 0.0;
      if (row_inside && iw >= 0 && iw < i32(params.width)) {
        v = source[channel + u32(ih) * params.width + u32(iw)];
      }
      destination[out] = v;
      out += 1u;
      iw += i32(params.stride);
    }
    ih += i32(params.stride);
  }
}

@compute @workgroup_size(WORKGROUP)
fn col2im(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let image = params.height * params.width;
  if (i >= params.batch * params.c_in * image) { return; }

  let iw = i % params.width;
  let ih = (i / params.width) % params.height;
  let ci = (i / image) % params.c_in;
  let img = i / (image * params.c_in);
  let plane = params.out_height * params.out_width;
  let taps = params.kernel_h * params.kernel_w;
  // Element (img, k, p) of the columns is at k_base + k * k_stride + p.
  var k_base = img * params.c_in * taps * plane;
  var k_stride = plane;
  if (params.k_major != 0u) {
    k_base = img * plane;
    k_stride = params.row_stride;
  }

  var sum = 0.0;
  for (var kh = 0u; kh < params.kernel_h; kh++) {
    // oh * stride = ih + pad - kh must be a non-negative multiple of the stride, below out_height.
    let row = i32(ih + params.pad) - i32(kh);
    if (row < 0 || u32(row) % params.stride != 0u) { continue; }
    let oh = u32(row) / params.stride;
    if (oh >= params.out_height) { continue; }
    for (var kw = 0u; kw < params.kernel_w; kw++) {
      let column = i32(iw + params.pad) - i32(kw);
      if (column < 0 || u32(column) % params.stride != 0u) { continue; }
      let ow = u32(column) / params.stride;
      if (ow >= params.out_width) { continue; }
      let k = (ci * params.kernel_h + kh) * params.kernel_w + kw;
      sum += source[k_base + k * k_stride + oh * params.out_width + ow];
    }
  }

  let index = params.offset + img * params.batch_stride + ci * image + ih * params.width + iw;
  // beta = 0 must not read dx: the buffer may hold NaN from an earlier use.
  if (params.beta != 0.0) { sum += params.beta * destination[index]; }
  destination[index] = sum;
}

// The adjoint of a 1x1 window with stride 1 and no padding on k-major columns: a plain
// rearrangement of [C, batch * P] (rows `row_stride` apart) into a [batch, C, P] view, one
// thread per (channel, image) row of P contiguous values.
@compute @workgroup_size(WORKGROUP)
fn rearrange(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (row >= params.c_in * params.batch) { return; }
  let c = row / params.batch;
  let img = row % params.batch;
  let plane = params.height * params.width;
  let first = c * params.row_stride + img * plane;
  let target_first = params.offset + img * params.batch_stride + c * plane;
  for (var p = 0u; p < plane; p++) {
    var value = source[first + p];
    // beta = 0 must not read the view: the buffer may hold NaN from an earlier use.
    if (params.beta != 0.0) { value += params.beta * destination[target_first + p]; }
    destination[target_first + p] = value;
  }
}

// The kernel of a stride-1 convolution's input gradient, which is a convolution of dy with
// the kernel flipped in both axes and its channel axes swapped (see src/kernels/im2col.ts):
//   flipped[ci, co, kh, kw] = w[co, ci, KH - 1 - kh, KW - 1 - kw]
// One thread per element. Here `batch` holds C_out and `c_in` holds C_in.
@compute @workgroup_size(WORKGROUP)
fn flip_kernel(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let taps = params.kernel_h * params.kernel_w;
  if (i >= params.batch * params.c_in * taps) { return; }

  let tap = i % taps;
  let co = (i / taps) % params.batch;
  let ci = i / (taps * params.batch);
  destination[i] = source[(co * params.c_in + ci) * taps + taps - 1u - tap];
}
