/** Differentiable fused multi-head attention on a packed qkv tensor (src/kernels/attention.ts). */
import * as K from '../../kernels/attention.ts';
import { record } from '../tape.ts';
import { Tensor } from '../tensor.ts';

/**
 * Multi-head scaled dot-product attention, softmax(Q K^T / sqrt(D)) V, without a mask.
 * `qkv` [B, T, 3 * W] is laid out [B, T, 3, H, D], as timm's `attn.qkv` linear produces it;
 * the result is [B, T, W] with the heads side by side, ready for `attn.proj`.
 */
export function attention(qkv: Tensor, heads: number): Tensor {
  const { out, lse } = K.attentionForward(qkv, heads);
  record('attention', [qkv], [out], [qkv, out, lse], ([sqkv, sout, slse], [dout]) => [
    K.attentionBackward(sqkv, sout, slse, dout!, heads),
  ]);
  lse.dispose();
  return out;
}
