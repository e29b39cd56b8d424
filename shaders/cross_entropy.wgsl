// Fused log-softmax and negative log-likelihood: per-row cross-entropy of logits [rows, cols]
// against integer class labels [rows], one workgroup per row.
//
// Host defines (src/kernels/softmax.ts):
//   WORKGROUP threads per workgroup (a power of two)
//
// With m = max_j x[j] and log_s = log(sum_j exp(x[j] - m)) (every exponent <= 0):
//   loss = log_s - (x[label] - m)
// The backward kernel (cross_entropy_backward.wgsl) reads m and log_s from `stats` [rows, 2]
// instead of recomputing them. They are kept apart because m + log_s rounds to m when |m| is
// near 1e38.
//
// A label outside [0, cols) cannot index the row: its loss is NaN (bits from the host, since
// WGSL has no NaN literal), so a mean or sum over the batch is NaN as well.

struct Params {
  rows: u32,
  cols: u32,
  nan_bits: u32,   // 0x7fc00000, a quiet NaN
  _pad0: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read_write> loss: array<f32>;
@group(0) @binding(3) var<storage, read_write> stats: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const LOWEST_F32: f32 = -3.4028234663852886e38;

var<workgroup> scratch: array<f32, WORKGROUP>;

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

fn workgroup_sum(value: f32, lid: u32) -> f32 {
  scratch[lid] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { scratch[lid] = scratch[lid] + scratch[lid + stride]; }
    workgroupBarrier();
  }
  return scratch[0];
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Uniform across the workgroup: the row depends only on the workgroup id.
  let row = linear_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let cols = params.cols;
  let base = row * cols;

  var local_max = LOWEST_F32;
  for (var j = lid; j < cols; j += WORKGROUP) { local_max = max(local_max, logits[base + j]); }
  let row_max = workgroup_max(local_max, lid);

  var local_sum = 0.0;
  for (var j = lid; j < cols; j += WORKGROUP) { local_sum += exp(logits[base + j] - row_max); }
  let log_sum = log(workgroup_sum(local_sum, lid));

  if (lid == 0u) {
    stats[2u * row] = row_max;
    stats[2u * row + 1u] = log_sum;
    let label = labels[row];
    if (label < 0 || u32(label) >= cols) {
      loss[row] = bitcast<f32>(params.nan_bits);
    } else {
      loss[row] = log_sum - (logits[base + u32(label)] - row_max);
    }
  }
}
