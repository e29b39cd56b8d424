/** Differentiable inverted dropout (src/kernels/random.ts). */
import { dropoutMask } from '../../kernels/random.ts';
import { record } from '../tape.ts';
import type { Tensor } from '../tensor.ts';

// Random tensors are not differentiable; they are re-exported so that `ops` lists them.
export { randomUniform, randomNormal } from '../../kernels/random.ts';

/**
 * Zeroes each element of `x` with probability `p` and scales the rest by 1 / (1 - p) when
 * `training`. In eval mode, or when p is 0, it returns a view of `x` unchanged. The mask
 * depends only on `seed` and the element index, so a caller must pass a new seed for every
 * step. The gradient is the output gradient under the same mask and scale.
 */
export function dropout(x: Tensor, p: number, seed: number, training: boolean): Tensor {
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability ${p} must be in [0, 1]`);
  if (!training || p === 0) {
    const out = x.view(x.shape, x.name);
    record('dropout', [x], [out], [], (_, [g]) => [g!.view(x.shape)]);
    return out;
  }
  const out = dropoutMask(x, p, seed);
  record('dropout', [x], [out], [], (_, [g]) => [dropoutMask(g!, p, seed)]);
  return out;
}
