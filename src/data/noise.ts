/**
 * Gaussian noise as the noise-robustness study applies it: `clamp(x + std * N(0, 1), -1, 1)`
 * on normalised inputs in [-1, 1], seeded, on the GPU.
 *
 * NOTE: shaders/noise.wgsl draws, adds and clamps in one kernel with its own counter-based
 * generator, so the noise of a seed differs from what `randomNormal` (Philox) draws for the
 * same seed.
 */
import noiseSource from '../../shaders/noise.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor } from '../autograd/tensor.ts';

const WORKGROUP = 256;

export interface NoiseOptions {
  /** Lower clamp bound (default -1). */
  low?: number;
  /** Upper clamp bound (default 1). */
  high?: number;
}

/**
 * Returns `clamp(x + std * z, low, high)` with z ~ N(0, 1) drawn from (`seed`, element
 * index): the same seed gives the same noise, so give each batch its own seed.
 */
export function addGaussianNoise(x: Tensor, std: number, seed: number, options: NoiseOptions = {}): Tensor {
  if (x.dtype !== 'f32') throw new Error(`addGaussianNoise needs an f32 tensor; ${x.name} is ${x.dtype}`);
  if (!(std >= 0) || !Number.isFinite(std)) throw new Error(`addGaussianNoise: std ${std} must be a finite number >= 0`);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`addGaussianNoise: seed ${seed} must be an integer in [0, 2^32)`);
  const low = options.low ?? -1;
  const high = options.high ?? 1;
  if (!(low <= high)) throw new Error(`addGaussianNoise: clamp bounds [${low}, ${high}] are reversed`);

  const out = Tensor.empty(x.shape, 'f32', 'noisy');
  if (out.size === 0) return out;
  getEngine().dispatch({
    kernel: { family: 'noise', source: noiseSource, defines: { WORKGROUP } },
    bindings: [x.binding(), out.binding()],
    uniforms: new Uniforms().u32(x.size, seed).f32(std, low, high).u32(0, 0, 0).finish(),
    workgroups: Math.ceil(x.size / WORKGROUP),
  });
  return out;
}
