/** Differentiable LayerNorm over the last axis, with affine parameters (PyTorch's nn.LayerNorm). */
import * as K from '../../kernels/layernorm.ts';
import { record } from '../tape.ts';
import { Tensor } from '../tensor.ts';

/**
 * `(x - mean) / sqrt(var + eps) * weight + bias` over the last axis of `x` [..., C], with the
 * biased variance, as PyTorch computes it. `weight` and `bias` are [C].
 */
export function layerNorm(x: Tensor, weight: Tensor, bias: Tensor, eps = 1e-5): Tensor {
  const { y, shift, rstd } = K.layerNormForward(x, weight, bias, eps);
  record('layerNorm', [x, weight, bias], [y], [x, weight, shift, rstd], ([sx, sweight, sshift, srstd], [dy]) => {
    const dx = x.requiresGrad ? K.layerNormBackwardInput(sx, sweight, sshift, srstd, dy!) : null;
    if (!weight.requiresGrad && !bias.requiresGrad) return [dx, null, null];
    const { dweight, dbias } = K.layerNormBackwardParams(sx, sshift, srstd, dy!);
    return [dx, weight.requiresGrad ? dweight : null, bias.requiresGrad ? dbias : null];
  });
  shift.dispose();
  rstd.dispose();
  return y;
}
