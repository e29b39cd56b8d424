// Attention backward, first step: delta = rowsum(dO * O) for every query row, the term that
// the softmax backward subtracts, dS = P * (dP - delta). One thread per (batch, head, row).
//
// Legend: B batch, T tokens, H heads, D head dim, W = H * D.
//   out, dout [B, T, H, D]; delta [B, H, T]
// Host defines:
//   WORKGROUP threads per workgroup

struct Params {
  batch: u32,
  tokens: u32,
  heads: u32,
  head_dim: u32,
}

@group(0) @binding(0) var<storage, read> out: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read_write> delta: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let tokens = params.tokens;
  if (index >= params.batch * params.heads * tokens) { return; }
  // index = (batch * H + head) * T + i, the layout of delta.
  let i = index % tokens;
  let head = (index / tokens) % params.heads;
  let batch = index / (tokens * params.heads);
  let width = params.heads * params.head_dim;
  let base = (batch * tokens + i) * width + head * params.head_dim;
  var sum = 0.0;
  for (var d = 0u; d < params.head_dim; d++) { sum += dout[base + d] * out[base + d]; }
  delta[index] = sum;
}
