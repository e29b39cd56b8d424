// Token bookkeeping around a ViT's sequence, one thread per output element.
//   MODE 0 (assemble): tokens[b, t, c] = (t == 0 ? cls[c] : emb[b, t - 1, c]) + pos[t, c]
//                      (the class token prepended to the patch embeddings, plus positions)
//   MODE 1 (gather):   out[b, t, c] = src[b, t + start, c] for t < T_out
//   MODE 2 (scatter):  out[b, t, c] = src[b, t - start, c] for start <= t < start + T_src,
//                      0 elsewhere (the gradient of a gather)
//
// Legend: B batch, T_out tokens written, T_src tokens per batch in the source, D features.
// Host defines:
//   MODE      0 assemble, 1 gather, 2 scatter
//   WORKGROUP threads per workgroup

struct Params {
  total: u32,        // B * T_out * D
  tokens_out: u32,
  tokens_src: u32,
  features: u32,
  start: u32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read> src: array<f32>;      // emb [B, T_out - 1, D] in MODE 0
@group(0) @binding(1) var<storage, read> cls: array<f32>;      // [D], read in MODE 0 only
@group(0) @binding(2) var<storage, read> pos: array<f32>;      // [T_out, D], read in MODE 0 only
@group(0) @binding(3) var<storage, read_write> out: array<f32>; // [B, T_out, D]
@group(0) @binding(4) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (index >= params.total) { return; }
  let d = params.features;
  let c = index % d;
  let t = (index / d) % params.tokens_out;
  let b = index / (d * params.tokens_out);

  if (MODE == 0u) {
    var value = 0.0;
    if (t == 0u) {
      value = cls[c];
    } else {
      value = src[(b * params.tokens_src + t - 1u) * d + c];
    }
    out[index] = value + pos[t * d + c];
  } else if (MODE == 1u) {
    out[index] = src[(b * params.tokens_src + t + params.start) * d + c];
  } else {
    var value = 0.0;
    if (t >= params.start && t < params.start + params.tokens_src) {
      value = src[(b * params.tokens_src + t - params.start) * d + c];
    }
    out[index] = value;
  }
}
