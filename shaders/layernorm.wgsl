// LayerNorm forward over the last axis, one workgroup per row:
//   y = (x - mean) * rstd * weight + bias,  rstd = 1 / sqrt(var + eps)
// Rows with a large mean keep their precision in f32 in two ways. Every sum runs over values
// shifted by the row's first element x0 (x - x0 is exact for values within a factor of two of
// x0), so the mean is kept as x0 + shift and the centred values as (x - x0) - shift. The
// variance is the mean of those squared, from a second pass, not E[x^2] - mean^2.
//
// Legend: N rows (every leading dimension flattened), C features per row.
// Host defines:
//   WORKGROUP threads per row (a power of two); in main_serial, rows per workgroup, one
//             thread each (for software adapters, see src/kernels/strategy.ts)

struct Params {
  rows: u32,
  features: u32,
  eps: f32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;            // [N, C]
@group(0) @binding(1) var<storage, read> weight: array<f32>;       // [C]
@group(0) @binding(2) var<storage, read> bias: array<f32>;         // [C]
@group(0) @binding(3) var<storage, read_write> y: array<f32>;      // [N, C]
@group(0) @binding(4) var<storage, read_write> shift: array<f32>;  // [N], mean - x0
@group(0) @binding(5) var<storage, read_write> rstd: array<f32>;   // [N]
@group(0) @binding(6) var<uniform> params: Params;

var<workgroup> partial: array<f32, WORKGROUP>;

// Sums `value` over the workgroup; every thread receives the total.
fn workgroup_sum(lid: u32, value: f32) -> f32 {
  partial[lid] = value;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let total = partial[0];
  workgroupBarrier();
  return total;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let c = params.features;
  let base = row * c;

  let x0 = x[base];

  // Pass 1: the mean, as an offset from x0.
  var s = 0.0;
  for (var i = lid; i < c; i += WORKGROUP) { s += x[base + i] - x0; }
  let mu = workgroup_sum(lid, s) / f32(c);

  // Pass 2: the variance about the mean.
  var q = 0.0;
  for (var i = lid; i < c; i += WORKGROUP) {
    let d = (x[base + i] - x0) - mu;
    q += d * d;
  }
  let r = inverseSqrt(workgroup_sum(lid, q) / f32(c) + params.eps);

  for (var i = lid; i < c; i += WORKGROUP) {
    y[base + i] = ((x[base + i] - x0) - mu) * r * weight[i] + bias[i];
  }
  if (lid == 0u) {
    shift[row] = mu;
    rstd[row] = r;
  }
}

@compute @workgroup_size(WORKGROUP)
fn main_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (row >= params.rows) { return; }
  let c = params.features;
  let base = row * c;
  let x0 = x[base];

  var s = 0.0;
  for (var i = 0u; i < c; i++) { s += x[base + i] - x0; }
  let mu = s / f32(c);

  var q = 0.0;
  for (var i = 0u; i < c; i++) {
    let d = (x[base + i] - x0) - mu;
    q += d * d;
  }
  let r = inverseSqrt(q / f32(c) + params.eps);

  for (var i = 0u; i < c; i++) {
    y[base + i] = ((x[base + i] - x0) - mu) * r * weight[i] + bias[i];
  }
  shift[row] = mu;
  rstd[row] = r;
}
