// Backward of softmax and log-softmax over the last axis, one workgroup per row of [rows, cols].
//
// Host defines (src/kernels/softmax.ts):
//   WORKGROUP threads per workgroup (a power of two)
//   LOG       true for log-softmax, false for softmax
//
// With y the forward output and g the output gradient, per row:
//   softmax:     dx[j] = y[j] * (g[j] - sum_k g[k] y[k])
//   log-softmax: dx[j] = g[j] - exp(y[j]) * sum_k g[k]

struct Params {
  rows: u32,
  cols: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> y: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> dx: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> scratch: array<f32, WORKGROUP>;

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

  var local = 0.0;
  for (var j = lid; j < cols; j += WORKGROUP) {
    if (LOG) { local += grad[base + j]; } else { local += grad[base + j] * y[base + j]; }
  }
  let total = workgroup_sum(local, lid);

  for (var j = lid; j < cols; j += WORKGROUP) {
    let i = base + j;
    if (LOG) { dx[i] = grad[i] - exp(y[i]) * total; } else { dx[i] = y[i] * (grad[i] - total); }
  }
}
