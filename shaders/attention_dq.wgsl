// Attention backward to the queries. Each thread owns one query row i of one (batch, head)
// and streams the keys and values through workgroup memory, recomputing the probabilities
// from the forward pass's log-sum-exp instead of reading a stored attention matrix:
//   p_ij  = exp(scale * q_i . k_j - lse_i)
//   dp_ij = dO_i . v_j
//   ds_ij = p_ij * (dp_ij - delta_i)
//   dq_i  = scale * sum_j ds_ij k_j
// It writes the Q third of dqkv; attention_dkv.wgsl writes the other two.
//
// Legend: B batch, T tokens, H heads, D head dim (at most HEAD_DIM_MAX), W = H * D.
//   qkv, dqkv [B, T, 3, H, D]; dout [B, T, H, D]; lse, delta [B, H, T]
// Grid: (ceil(T / BLOCK_Q), H, B).
// Host defines:
//   HEAD_DIM_MAX  register row length; rows shorter than it are padded with zeros
//   BLOCK_Q       threads per workgroup, one query row each
//   BLOCK_K       key and value rows per tile

struct Params {
  tokens: u32,
  heads: u32,
  head_dim: u32,
  scale: f32,
}

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read> dout: array<f32>;
@group(0) @binding(2) var<storage, read> lse: array<f32>;
@group(0) @binding(3) var<storage, read> delta: array<f32>;
@group(0) @binding(4) var<storage, read_write> dqkv: array<f32>;
@group(0) @binding(5) var<uniform> params: Params;

var<workgroup> k_tile: array<f32, BLOCK_K * HEAD_DIM_MAX>;
var<workgroup> v_tile: array<f32, BLOCK_K * HEAD_DIM_MAX>;

@compute @workgroup_size(BLOCK_Q)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tokens = params.tokens;
  let head_dim = params.head_dim;
  let head = wid.y;
  let batch = wid.z;
  let width = params.heads * head_dim;
  let row_stride = 3u * width;
  let base = batch * tokens * row_stride + head * head_dim;
  let i = wid.x * BLOCK_Q + lid;
  let valid = i < tokens;

  var q: array<f32, HEAD_DIM_MAX>;
  var g: array<f32, HEAD_DIM_MAX>;
  var dq: array<f32, HEAD_DIM_MAX>;
  var row_lse = 0.0;
  var row_delta = 0.0;
  let dout_base = (batch * tokens + i) * width + head * head_dim;
  for (var d = 0u; d < HEAD_DIM_MAX; d++) {
    var qv = 0.0;
    var gv = 0.0;
    if (valid && d < head_dim) {
      qv = qkv[base + i * row_stride + d] * params.scale;
      gv = dout[dout_base + d];
    }
    q[d] = qv;
    g[d] = gv;
    dq[d] = 0.0;
  }
  if (valid) {
    let stat = (batch * params.heads + head) * tokens + i;
    row_lse = lse[stat];
    row_delta = delta[stat];
  }

  for (var k0 = 0u; k0 < tokens; k0 += BLOCK_K) {
    let n = min(BLOCK_K, tokens - k0);
    for (var e = lid; e < n * HEAD_DIM_MAX; e += BLOCK_Q) {
      let j = e / HEAD_DIM_MAX;
      let d = e % HEAD_DIM_MAX;
      var kv = 0.0;
      var vv = 0.0;
      if (j < n && d < head_dim) {
        let offset = base + (k0 + j) * row_stride + d;
        kv = qkv[offset + width];
        vv = qkv[offset + 2u * width];
      }
      k_tile[e] = kv;
      v_tile[e] = vv;
    }
    workgroupBarrier();

    for (var j = 0u; j < n; j++) {
      var score = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < HEAD_DIM_MAX; d++) {
        score += q[d] * k_tile[j * HEAD_DIM_MAX + d];
        dp += g[d] * v_tile[j * HEAD_DIM_MAX + d];
      }
      // Rows past T have lse 0 and scores 0, so p stays finite; they write nothing.
      let ds = exp(score - row_lse) * (dp - row_delta);
      for (var d = 0u; d < HEAD_DIM_MAX; d++) { dq[d] += ds * k_tile[j * HEAD_DIM_MAX + d]; }
    }
    workgroupBarrier();
  }

  if (!valid) { return; }
  // A constant trip count lets the compiler unroll the loop, so the register row is only
  // indexed by constants and stays in registers; a loop to head_dim would spill it to memory.
  for (var d = 0u; d < HEAD_DIM_MAX; d++) {
    if (d < head_dim) { dqkv[base + i * row_stride + d] = dq[d] * params.scale; }
  }
}
