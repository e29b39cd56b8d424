/**
 * Fused multi-head scaled dot-product attention (shaders/attention*.wgsl), in the style of
 * FlashAttention-2 (Dao, "FlashAttention-2", 2023). The forward pass streams keys and values
 * through workgroup memory with an online softmax and stores only the output and one
 * log-sum-exp per query row. The backward pass recomputes the probabilities from them.
 *
 * Legend: B batch, T tokens, H heads, D head dim, W = H * D width.
 * The input is the packed output of one linear layer, qkv [B, T, 3 * W], laid out as
 * [B, T, 3, H, D] (timm's order), and the kernels read Q, K and V from it in place, so no
 * permute copies run. The output is [B, T, W] with the heads side by side.
 */
import forwardSource from '../../shaders/attention.wgsl';
import deltaSource from '../../shaders/attention_delta.wgsl';
import dqSource from '../../shaders/attention_dq.wgsl';
import dkvSource from '../../shaders/attention_dkv.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape } from '../autograd/tensor.ts';

/**
 * Floats of workgroup memory the tiles may use: 16 KiB, WebGPU's default
 * `maxComputeWorkgroupStorageSize`, which every adapter supports.
 */
const TILE_FLOATS = 4096;
/**
 * Threads per workgroup in every attention kernel, each owning one query or key row: 64, or
 * for sequences of at most 32 tokens the sequence length rounded up to a multiple of 8, so
 * that a ViT of 17 tokens runs 24 threads. Lavapipe runs a workgroup as 8-lane vectors, and
 * there the three attention passes at 17 tokens took about 30% less time with 24 threads than with 32.
 */
function rowsPerWorkgroup(tokens: number): number {
  if (tokens <= 32) return Math.max(8, Math.ceil(tokens / 8) * 8);
  return 64;
}
/** Register row lengths compiled; a head dim uses the smallest one that fits it. */
export const HEAD_DIM_VARIANTS = [16, 32, 64, 128] as const;
const DELTA_WORKGROUP = 256;

export interface AttentionShape {
  batch: number;
  tokens: number;
  heads: number;
  headDim: number;
  width: number;
}

/** Checks qkv [B, T, 3 * W] against `heads` and returns the dimensions. */
export function attentionShape(qkv: Tensor, heads: number): AttentionShape {
  if (qkv.dtype !== 'f32') throw new Error(`attention: qkv ${qkv.name} must be f32; got ${qkv.dtype}`);
  if (qkv.rank !== 3 || qkv.shape[2] % 3 !== 0) {
    throw new Error(`attention: qkv must be [batch, tokens, 3 * width]; got ${formatShape(qkv.shape)}`);
  }
  if (!Number.isInteger(heads) || heads < 1) throw new Error(`attention: heads must be a positive integer; got ${heads}`);
  const [batch, tokens] = qkv.shape;
  const width = qkv.shape[2] / 3;
  if (width % heads !== 0) {
    throw new Error(`attention: width ${width} (qkv ${formatShape(qkv.shape)}) is not divisible by ${heads} heads`);
  }
  const headDim = width / heads;
  const largest = HEAD_DIM_VARIANTS[HEAD_DIM_VARIANTS.length - 1];
  if (headDim > largest) {
    throw new Error(`attention: head dim ${headDim} (width ${width} / ${heads} heads) exceeds the supported ${largest}; use more heads`);
  }
  return { batch, tokens, heads, headDim, width };
}

/** Picks the compiled variant for a head dim and sequence length: register row length, threads and tile heights. */
function variant(headDim: number, tokens: number): { HEAD_DIM_MAX: number; BLOCK_Q: number; BLOCK_K: number; BACKWARD_TILE: number } {
  const dimMax = HEAD_DIM_VARIANTS.find((v) => v >= headDim)!;
  return {
    HEAD_DIM_MAX: dimMax,
    BLOCK_Q: rowsPerWorkgroup(tokens),
    // Two tiles (K and V, or Q and dO) share the budget.
    BLOCK_K: TILE_FLOATS / (2 * dimMax),
    // The key-side backward kernel also stores two per-row statistics, so its tiles halve.
    BACKWARD_TILE: TILE_FLOATS / (4 * dimMax),
  };
}

function uniforms(s: AttentionShape, scale: number): ArrayBuffer {
  return new Uniforms().u32(s.tokens, s.heads, s.headDim).f32(scale).finish();
}

function grid(s: AttentionShape, rowsPerWorkgroup: number): [number, number, number] {
  return [Math.ceil(s.tokens / rowsPerWorkgroup), s.heads, s.batch];
}

/**
 * Computes softmax(Q K^T * scale) V for every batch and head. Returns out [B, T, W] and the
 * log-sum-exp lse [B, H, T] that the backward pass needs. `scale` defaults to 1 / sqrt(D).
 */
export function attentionForward(qkv: Tensor, heads: number, scale?: number): { out: Tensor; lse: Tensor } {
  const s = attentionShape(qkv, heads);
  const out = Tensor.empty([s.batch, s.tokens, s.width], 'f32', 'attention');
  const lse = Tensor.empty([s.batch, s.heads, s.tokens], 'f32', 'attention.lse');
  if (out.size === 0) return { out, lse };
  const v = variant(s.headDim, s.tokens);
  getEngine().dispatch({
    kernel: {
      family: 'attention',
      source: forwardSource,
      defines: { HEAD_DIM_MAX: v.HEAD_DIM_MAX, BLOCK_Q: v.BLOCK_Q, BLOCK_K: v.BLOCK_K },
    },
    bindings: [qkv.binding(), out.binding(), lse.binding()],
    uniforms: uniforms(s, scale ?? 1 / Math.sqrt(s.headDim)),
    workgroups: grid(s, v.BLOCK_Q),
  });
  return { out, lse };
}

/**
 * Computes the gradient with respect to qkv [B, T, 3 * W], given the forward's input, output and
 * log-sum-exp and the output gradient dout [B, T, W].
 */
export function attentionBackward(qkv: Tensor, out: Tensor, lse: Tensor, dout: Tensor, heads: number, scale?: number): Tensor {
  const s = attentionShape(qkv, heads);
  if (dout.size !== out.size) {
    throw new Error(`attention backward: output gradient ${formatShape(dout.shape)} does not match the output ${formatShape(out.shape)}`);
  }
  const dqkv = Tensor.empty(qkv.shape, 'f32', 'attention.dqkv');
  if (dqkv.size === 0) return dqkv;
  const engine = getEngine();
  const v = variant(s.headDim, s.tokens);
  const params = uniforms(s, scale ?? 1 / Math.sqrt(s.headDim));

  // delta = rowsum(dO * O), per query row.
  const delta = Tensor.empty([s.batch, s.heads, s.tokens], 'f32', 'attention.delta');
  engine.dispatch({
    kernel: { family: 'attention_delta', source: deltaSource, defines: { WORKGROUP: DELTA_WORKGROUP } },
    bindings: [out.binding(), dout.binding(), delta.binding()],
    uniforms: new Uniforms().u32(s.batch, s.tokens, s.heads, s.headDim).finish(),
    workgroups: Math.ceil(delta.size / DELTA_WORKGROUP),
  });

  // dQ: one thread per query row, keys and values streamed.
  engine.dispatch({
    kernel: {
      family: 'attention_dq',
      source: dqSource,
      defines: { HEAD_DIM_MAX: v.HEAD_DIM_MAX, BLOCK_Q: v.BLOCK_Q, BLOCK_K: v.BLOCK_K },
    },
    bindings: [qkv.binding(), dout.binding(), lse.binding(), delta.binding(), dqkv.binding()],
    uniforms: params,
    workgroups: grid(s, v.BLOCK_Q),
  });

  // dK and dV: one thread per key row, queries and output gradients streamed.
  engine.dispatch({
    kernel: {
      family: 'attention_dkv',
      source: dkvSource,
      defines: { HEAD_DIM_MAX: v.HEAD_DIM_MAX, BLOCK_K: v.BLOCK_Q, BLOCK_Q: v.BACKWARD_TILE },
    },
    bindings: [qkv.binding(), dout.binding(), lse.binding(), delta.binding(), dqkv.binding()],
    uniforms: params,
    workgroups: grid(s, v.BLOCK_Q),
  });
  delta.dispose();
  return dqkv;
}
