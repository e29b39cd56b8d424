// LayerNorm backward to the input, one workgroup per row. With xhat = (x - mean) * rstd and
// g = dy * weight:
//   dx = rstd * (g - mean(g) - xhat * mean(g * xhat))
//
// The forward pass saved each row's mean as `shift`, an offset from the row's first element
// x0 (shaders/layernorm.wgsl), so xhat = ((x - x0) - shift) * rstd.
//
// Legend: N rows, C features per row.
// Host defines:
//   WORKGROUP threads per row (a power of two); in main_serial, rows per workgroup, one
//             thread each (for software adapters, see src/kernels/strategy.ts)

struct Params {
  rows: u32,
  features: u32,
  _pad0: u32,
  _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;            // [N, C]
@group(0) @binding(1) var<storage, read> weight: array<f32>;       // [C]
@group(0) @binding(2) var<storage, read> shift: array<f32>;        // [N]
@group(0) @binding(3) var<storage, read> rstd: array<f32>;         // [N]
@group(0) @binding(4) var<storage, read> dy: array<f32>;           // [N, C]
@group(0) @binding(5) var<storage, read_write> dx: array<f32>;     // [N, C]
@group(0) @binding(6) var<uniform> params: Params;

var<workgroup> partial: array<vec2<f32>, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg);
  if (row >= params.rows) { return; }
  let c = params.features;
  let base = row * c;
  let x0 = x[base];
  let mu = shift[row];
  let r = rstd[row];

  // Both row sums in one tree: sum(g) and sum(g * xhat).
  var s = vec2<f32>(0.0);
  for (var i = lid; i < c; i += WORKGROUP) {
    let g = dy[base + i] * weight[i];
    s += vec2<f32>(g, g * ((x[base + i] - x0) - mu) * r);
  }
  partial[lid] = s;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] += partial[lid + stride]; }
    workgroupBarrier();
  }
  let means = partial[0] / f32(c);

  for (var i = lid; i < c; i += WORKGROUP) {
    let g = dy[base + i] * weight[i];
    let xhat = ((x[base + i] - x0) - mu) * r;
    dx[base + i] = r * (g - means.x - xhat * means.y);
  }
}

@compute @workgroup_size(WORKGROUP)
fn main_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let row = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (row >= params.rows) { return; }
  let c = params.features;
  let base = row * c;
  let x0 = x[base];
  let mu = shift[row];
  let r = rstd[row];

  var s = vec2<f32>(0.0);
  for (var i = 0u; i < c; i++) {
    let g = dy[base + i] * weight[i];
    s += vec2<f32>(g, g * ((x[base + i] - x0) - mu) * r);
  }
  let means = s / f32(c);

  for (var i = 0u; i < c; i++) {
    let g = dy[base + i] * weight[i];
    let xhat = ((x[base + i] - x0) - mu) * r;
    dx[base + i] = r * (g - means.x - xhat * means.y);
  }
}
