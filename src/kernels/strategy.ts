/**
 * The work split of kernels that reduce rows, channels or axes. GPUs get a workgroup per
 * row (or chunk) and a tree reduction in workgroup memory. Software adapters (lavapipe,
 * SwiftShader) pay a fixed cost for every workgroup and barrier: profiled on lavapipe, that
 * was most of the time of a batchnorm or LayerNorm pass over a few thousand short rows. There
 * one thread reduces a whole row, and a workgroup covers many rows. The same switch makes
 * batchnorm's elementwise passes run a thread per (image, channel) row, which divides once per
 * row instead of once per value.
 */
import { getEngine } from '../gpu/engine.ts';

/** `auto` picks by adapter; tests force each strategy to check both. */
export const reductionConfig: { strategy: 'auto' | 'workgroup' | 'serial' } = { strategy: 'auto' };

/** Returns whether reductions on the current engine use a thread per row. */
export function serialReductions(): boolean {
  if (reductionConfig.strategy !== 'auto') return reductionConfig.strategy === 'serial';
  return getEngine().adapter.isSoftware;
}
