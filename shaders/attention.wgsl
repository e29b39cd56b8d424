// Fused multi-head scaled dot-product attention, forward, with an online softmax
// (FlashAttention-2, Dao 2023): each workgroup takes BLOCK_Q query rows of one (batch, head),
// one row per thread, and streams the keys and values through workgroup memory in tiles of
// BLOCK_K rows. Each thread keeps a running maximum m, a running sum l and an unnormalised
// output row, rescaled by exp(m_old - m_new) whenever the maximum grows, so the T x T
// attention matrix never exists in memory. Per row it also stores the log-sum-exp
// lse = m + log(l), from which the backward pass recomputes the probabilities.
//
// Legend: B batch, T tokens, H heads, D head dim (at most HEAD_DIM_MAX), W = H * D width.
//   qkv [B, T, 3, H, D]: the output of one linear layer, Q then K then V in every token row
//   out [B, T, H, D]:    heads side by side, ready for the output projection
//   lse [B, H, T]
// Grid: (ceil(T / BLOCK_Q), H, B).
// Host defines:
//   HEAD_DIM_MAX  register row length; rows shorter than it are padded with zeros
//   BLOCK_Q       threads per workgroup, one query row each
//   BLOCK_K       key and value rows per tile

struct Params {
  tokens: u32,
  heads: u32,
  head_dim: u32,
  scale: f32,   // usually 1 / sqrt(D)
}

@group(0) @binding(0) var<storage, read> qkv: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<storage, read_write> lse: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

var<workgroup> k_tile: array<f32, BLOCK_K * HEAD_DIM_MAX>;
var<workgroup> v_tile: array<f32, BLOCK_K * HEAD_DIM_MAX>;

// A finite stand-in for -infinity (WGSL has no infinite literals): exp(NEG_LARGE - m) is 0.
const NEG_LARGE: f32 = -3.0e38;

@compute @workgroup_size(BLOCK_Q)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let tokens = params.tokens;
  let head_dim = params.head_dim;
  let head = wid.y;
  let batch = wid.z;
  let width = params.heads * head_dim;
  let row_stride = 3u * width;
  // Q of token 0 for this batch and head; K and V follow at +W and +2W.
  let base = batch * tokens * row_stride + head * head_dim;
  let i = wid.x * BLOCK_Q + lid;
  let valid = i < tokens;

  // The query row, pre-scaled, so that a score is one dot product.
  var q: array<f32, HEAD_DIM_MAX>;
  var acc: array<f32, HEAD_DIM_MAX>;
  for (var d = 0u; d < HEAD_DIM_MAX; d++) {
    var value = 0.0;
    if (valid && d < head_dim) { value = qkv[base + i * row_stride + d] * params.scale; }
    q[d] = value;
    acc[d] = 0.0;
  }

  var m = NEG_LARGE;
  var l = 0.0;
  var s: array<f32, BLOCK_K>;
  for (var k0 = 0u; k0 < tokens; k0 += BLOCK_K) {
    let n = min(BLOCK_K, tokens - k0);

    // Load the tile's n rows of keys and values, with zeros in the columns past D. Rows past
    // n are never read, so they are not written.
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

    // The tile's scores and their maximum.
    var tile_max = NEG_LARGE;
    for (var j = 0u; j < n; j++) {
      var dot = 0.0;
      for (var d = 0u; d < HEAD_DIM_MAX; d++) { dot += q[d] * k_tile[j * HEAD_DIM_MAX + d]; }
      s[j] = dot;
      tile_max = max(tile_max, dot);
    }

    // Rescale what was accumulated under the old maximum, then add this tile.
    let m_new = max(m, tile_max);
    let correction = exp(m - m_new);
    l *= correction;
    for (var d = 0u; d < HEAD_DIM_MAX; d++) { acc[d] *= correction; }
    for (var j = 0u; j < n; j++) {
      let p = exp(s[j] - m_new);
      l += p;
      for (var d = 0u; d < HEAD_DIM_MAX; d++) { acc[d] += p * v_tile[j * HEAD_DIM_MAX + d]; }
    }
    m = m_new;
    workgroupBarrier();
  }

  if (!valid) { return; }
  let out_base = (batch * tokens + i) * width + head * head_dim;
  let inv_l = 1.0 / l;
  // A constant trip count lets the compiler unroll the loop, so the register row is only
  // indexed by constants and stays in registers; a loop to head_dim would spill it to memory.
  for (var d = 0u; d < HEAD_DIM_MAX; d++) {
    if (d < head_dim) { out[out_base + d] = acc[d] * inv_l; }
  }
  lse[(batch * params.heads + head) * tokens + i] = m + log(l);
}
