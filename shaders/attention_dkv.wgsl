// Attention backward to the keys and values. Each thread owns one key row j of one
// (batch, head) and streams the queries, output gradients and per-row statistics through
// workgroup memory, recomputing the probabilities from the log-sum-exp:
//   p_ij  = exp(scale * q_i . k_j - lse_i)
//   dv_j  = sum_i p_ij dO_i
//   ds_ij = p_ij * (dO_i . v_j - delta_i)
//   dk_j  = scale * sum_i ds_ij q_i
// It writes the K and V thirds of dqkv.
//
// Legend: B batch, T tokens, H heads, D head dim (at most HEAD_DIM_MAX), W = H * D.
//   qkv, dqkv [B, T, 3, H, D]; dout [B, T, H, D]; lse, delta [B, H, T]
// Grid: (ceil(T / BLOCK_K), H, B).
// Host defines:
//   HEAD_DIM_MAX  register row length; rows shorter than it are padded with zeros
//   BLOCK_K       threads per workgroup, one key row each
//   BLOCK_Q       query rows per tile

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

var<workgroup> q_tile: array<f32, BLOCK_Q * HEAD_DIM_MAX>;
var<workgroup> g_tile: array<f32, BLOCK_Q * HEAD_DIM_MAX>;
var<workgroup> lse_tile: array<f32, BLOCK_Q>;
var<workgroup> delta_tile: array<f32, BLOCK_Q>;

@compute @workgroup_size(BLOCK_K)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tokens = params.tokens;
  let head_dim = params.head_dim;
  let head = wid.y;
  let batch = wid.z;
  let width = params.heads * head_dim;
  let row_stride = 3u * width;
  let base = batch * tokens * row_stride + head * head_dim;
  let stat_base = (batch * params.heads + head) * tokens;
  let j = wid.x * BLOCK_K + lid;
  let valid = j < tokens;

  var k: array<f32, HEAD_DIM_MAX>;
  var v: array<f32, HEAD_DIM_MAX>;
  var dk: array<f32, HEAD_DIM_MAX>;
  var dv: array<f32, HEAD_DIM_MAX>;
  for (var d = 0u; d < HEAD_DIM_MAX; d++) {
    var kv = 0.0;
    var vv = 0.0;
    if (valid && d < head_dim) {
      let offset = base + j * row_stride + d;
      kv = qkv[offset + width];
      vv = qkv[offset + 2u * width];
    }
    k[d] = kv;
    v[d] = vv;
    dk[d] = 0.0;
    dv[d] = 0.0;
  }

  for (var q0 = 0u; q0 < tokens; q0 += BLOCK_Q) {
    let n = min(BLOCK_Q, tokens - q0);

    // Load the tile of queries (pre-scaled), output gradients and row statistics.
    for (var e = lid; e < n * HEAD_DIM_MAX; e += BLOCK_K) {
      let i = e / HEAD_DIM_MAX;
      let d = e % HEAD_DIM_MAX;
      var qv = 0.0;
      var gv = 0.0;
      if (i < n && d < head_dim) {
        qv = qkv[base + (q0 + i) * row_stride + d] * params.scale;
        gv = dout[(batch * tokens + q0 + i) * width + head * head_dim + d];
      }
      q_tile[e] = qv;
      g_tile[e] = gv;
    }
    for (var i = lid; i < BLOCK_Q; i += BLOCK_K) {
      var row_lse = 0.0;
      var row_delta = 0.0;
      if (i < n) {
        row_lse = lse[stat_base + q0 + i];
        row_delta = delta[stat_base + q0 + i];
      }
      lse_tile[i] = row_lse;
      delta_tile[i] = row_delta;
    }
    workgroupBarrier();

    for (var i = 0u; i < n; i++) {
      var score = 0.0;
      var dp = 0.0;
      for (var d = 0u; d < HEAD_DIM_MAX; d++) {
        score += q_tile[i * HEAD_DIM_MAX + d] * k[d];
        dp += g_tile[i * HEAD_DIM_MAX + d] * v[d];
      }
      let p = exp(score - lse_tile[i]);
      let ds = p * (dp - delta_tile[i]);
      for (var d = 0u; d < HEAD_DIM_MAX; d++) {
        dv[d] += p * g_tile[i * HEAD_DIM_MAX + d];
        dk[d] += ds * q_tile[i * HEAD_DIM_MAX + d];
      }
    }
    workgroupBarrier();
  }

  if (!valid) { return; }
  // q_tile held scale * q, so dk already carries its factor of scale.
  let offset = base + j * row_stride;
  // A constant trip count lets the compiler unroll the loop, so the register row is only
  // indexed by constants and stays in registers; a loop to head_dim would spill it to memory.
  for (var d = 0u; d < HEAD_DIM_MAX; d++) {
    if (d < head_dim) {
      dqkv[offset + width + d] = dk[d];
      dqkv[offset + 2u * width + d] = dv[d];
    }
  }
}
