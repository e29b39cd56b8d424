// Backward of the fused cross-entropy (cross_entropy.wgsl), one thread per logit:
//   dlogits[i, j] = g_i * scale * (softmax(x_i)[j] - (j == label_i))
// where softmax(x_i)[j] = exp((x[i, j] - m_i) - log_s_i) from the forward pass's `stats`.
// g_i is grad[i * grad_stride]: grad_stride is 1 for reduction 'none' (one gradient per row)
// and 0 for 'mean' and 'sum' (one scalar); scale is 1 / rows for 'mean' and 1 otherwise.
// A row whose label is outside [0, cols) gets NaN gradients, matching its NaN loss.
//
// Host defines: WORKGROUP threads per workgroup.

struct Params {
  rows: u32,
  cols: u32,
  grad_stride: u32,
  scale: f32,
  nan_bits: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> logits: array<f32>;
@group(0) @binding(1) var<storage, read> labels: array<i32>;
@group(0) @binding(2) var<storage, read> stats: array<f32>;
@group(0) @binding(3) var<storage, read> grad: array<f32>;
@group(0) @binding(4) var<storage, read_write> dlogits: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (i >= params.rows * params.cols) { return; }
  let row = i / params.cols;
  let col = i % params.cols;
  let label = labels[row];
  if (label < 0 || u32(label) >= params.cols) {
    dlogits[i] = bitcast<f32>(params.nan_bits);
    return;
  }
  let p = exp((logits[i] - stats[2u * row]) - stats[2u * row + 1u]);
  let one_hot = select(0.0, 1.0, u32(label) == col);
  dlogits[i] = grad[row * params.grad_stride] * params.scale * (p - one_hot);
}
