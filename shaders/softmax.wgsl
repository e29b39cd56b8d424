// Softmax and log-softmax over the last axis of a [rows, cols] tensor, one workgroup per row.
//
// Host defines (src/kernels/softmax.ts):
//   WORKGROUP threads per workgroup (a power of two); rows longer than it are strided over
//   LOG       true for log-softmax, false for softmax
//
// Numerically stable form: with m = max_j x[j] and s = sum_j exp(x[j] - m),
//   softmax[j]     = exp(x[j] - m) / s
//   log_softmax[j] = x[j] - m - log(s)
// Every exponent is <= 0, so nothing overflows, and s >= 1 because the maximum contributes
// exp(0). A row whose elements are all -inf has no finite maximum and gives NaN, as in PyTorch.

struct Params {
  rows: u32,
  cols: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// The lowest finite f32: WGSL has no infinity literal.
const LOWEST_F32: f32 = -3.4028234663852886e38;

var<workgroup> scratch: array<f32, WORKGROUP>;

// Maximum of `value` over the workgroup; every thread gets the result.
fn workgroup_max(value: f32, lid: u32) -> f32 {
  scratch[lid] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { scratch[lid] = max(scratch[lid], scratch[lid + stride]); }
    workgroupBarrier();
  }
  let result = scratch[0];
  // The next reduction overwrites scratch; every thread must have read the result first.
  workgroupBarrier();
  return result;
}

// Sum of `value` over the workgroup; every thread gets the result.
fn workgroup_sum(value: f32, lid: u32) -> f32 {
  scratch[lid] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { scratch[lid] = scratch[lid] + scratch[lid + stride]; }
    workgroupBarrier();
  }
  let result = scratch[0];
  workgroupBarrier();
  return result;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // The row depends only on the workgroup id, so this return is uniform across the workgroup
  // and the barriers below stay in uniform control flow.
  let row = linear_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let cols = params.cols;
  let base = row * cols;

  var local_max = LOWEST_F32;
  for (var j = lid; j < cols; j += WORKGROUP) { local_max = max(local_max, x[base + j]); }
  let row_max = workgroup_max(local_max, lid);

  var local_sum = 0.0;
  for (var j = lid; j < cols; j += WORKGROUP) { local_sum += exp(x[base + j] - row_max); }
  let row_sum = workgroup_sum(local_sum, lid);

  if (LOG) {
    // (x - m) - log(s), not x - (m + log(s)): for |m| near 1e38, m + log(s) rounds to m.
    let log_sum = log(row_sum);
    for (var j = lid; j < cols; j += WORKGROUP) { out[base + j] = (x[base + j] - row_max) - log_sum; }
  } else {
    let inverse = 1.0 / row_sum;
    for (var j = lid; j < cols; j += WORKGROUP) { out[base + j] = exp(x[base + j] - row_max) * inverse; }
  }
}
