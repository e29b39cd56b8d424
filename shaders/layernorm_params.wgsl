// LayerNorm backward to its affine parameters, first stage: each workgroup sums a chunk of
// `rows_per_chunk` rows for WORKGROUP features, one feature per thread, and writes
//   dweight_partial[chunk, c] = sum over its rows of dy * xhat
//   dbias_partial[chunk, c]   = sum over its rows of dy
// The host then sums the partials over chunks. Splitting the rows keeps thousands of threads
// busy where one thread per feature would leave all but C of them idle.
//
// xhat = ((x - x0) - shift) * rstd, where x0 is the row's first element (shaders/layernorm.wgsl).
//
// Legend: N rows, C features per row, K = ceil(N / rows_per_chunk) chunks.
// Host defines:
//   WORKGROUP features per workgroup (grid x); grid y counts chunks

struct Params {
  rows: u32,
  features: u32,
  rows_per_chunk: u32,
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;                    // [N, C]
@group(0) @binding(1) var<storage, read> shift: array<f32>;                // [N]
@group(0) @binding(2) var<storage, read> rstd: array<f32>;                 // [N]
@group(0) @binding(3) var<storage, read> dy: array<f32>;                   // [N, C]
@group(0) @binding(4) var<storage, read_write> dweight_partial: array<f32>; // [K, C]
@group(0) @binding(5) var<storage, read_write> dbias_partial: array<f32>;   // [K, C]
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = params.features;
  let feature = wid.x * WORKGROUP + lid;
  if (feature >= c) { return; }
  let chunk = wid.y;
  let first = chunk * params.rows_per_chunk;
  let last = min(first + params.rows_per_chunk, params.rows);

  var dw = 0.0;
  var db = 0.0;
  for (var row = first; row < last; row++) {
    let g = dy[row * c + feature];
    dw += g * ((x[row * c + feature] - x[row * c]) - shift[row]) * rstd[row];
    db += g;
  }
  dweight_partial[chunk * c + feature] = dw;
  dbias_partial[chunk * c + feature] = db;
}
