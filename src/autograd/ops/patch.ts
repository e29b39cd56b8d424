/**
 * Differentiable ViT token ops: patch embedding (unfold plus a linear layer whose weight keeps
 * the convolution layout [D, C, P, P], as timm's `patch_embed.proj`), the class token and
 * position embeddings, and token selection.
 */
import * as K from '../../kernels/patch.ts';
import { reduce } from '../../kernels/reduce.ts';
import { record } from '../tape.ts';
import { Tensor, formatShape } from '../tensor.ts';
import { linear } from './matmul.ts';
import { reshape } from './shape.ts';

/** Cuts images [B, C, H, W] into patches [B, N, C * P * P] (flattened as (c, ky, kx)). */
export function patchify(images: Tensor, patch: number): Tensor {
  const out = K.unfoldPatches(images, patch);
  record('patchify', [images], [out], [], (_, [g]) => [K.foldPatches(g!, images.shape, patch)]);
  return out;
}

/**
 * Computes a P x P convolution with stride P as unfold plus GEMM: images [B, C, H, W], weight
 * [D, C, P, P], bias [D] -> embeddings [B, N, D], patches in row-major order.
 */
export function patchEmbed(images: Tensor, weight: Tensor, bias: Tensor | null, patch: number): Tensor {
  const [features, channels, kh, kw] = weight.shape;
  if (weight.rank !== 4 || kh !== patch || kw !== patch || images.shape[1] !== channels) {
    throw new Error(
      `patchEmbed: weight ${formatShape(weight.shape)} does not match images ${formatShape(images.shape)} with patch ${patch} ` +
        `(expects [width, ${images.shape[1]}, ${patch}, ${patch}])`,
    );
  }
  return linear(patchify(images, patch), reshape(weight, [features, channels * patch * patch]), bias);
}

/**
 * Prepends the class token and adds position embeddings: emb [B, N, D], cls [1, 1, D],
 * pos [1, N + 1, D] -> [B, N + 1, D].
 */
export function addClassToken(emb: Tensor, cls: Tensor, pos: Tensor): Tensor {
  const out = K.assembleTokens(emb, cls, pos);
  const patches = emb.shape[1];
  record('addClassToken', [emb, cls, pos], [out], [], (_, [g]) => {
    const grad = g!;
    const demb = emb.requiresGrad ? K.gatherTokens(grad, 1, patches) : null;
    if (!cls.requiresGrad && !pos.requiresGrad) return [demb, null, null];
    // Both embeddings are shared by the batch, so their gradients sum over it.
    const dpos = reduce('sum', grad, [0], true);
    const dcls = cls.requiresGrad ? K.gatherTokens(dpos, 0, 1) : null;
    return [demb, dcls, pos.requiresGrad ? dpos.view(pos.shape) : null];
  });
  return out;
}

/** Copies tokens [start, start + count) of x [B, T, D] into a new [B, count, D]. */
export function selectTokens(x: Tensor, start: number, count: number): Tensor {
  const out = K.gatherTokens(x, start, count);
  const tokens = x.shape[1];
  record('selectTokens', [x], [out], [], (_, [g]) => [K.scatterTokens(g!, start, tokens)]);
  return out;
}
