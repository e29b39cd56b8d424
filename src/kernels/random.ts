/**
 * Seeded random tensors and the dropout mask, from the counter-based Philox-4x32-10 generator
 * (shaders/philox.wgsl). Element e of a tensor drawn with seed s depends only on s and e, so the
 * same seed gives the same uniform values on every adapter, bit for bit. Normal values go
 * through log, sqrt, sin and cos, whose last bits may differ between adapters.
 */
import philoxSource from '../../shaders/philox.wgsl';
import randomSource from '../../shaders/random.wgsl';
import dropoutSource from '../../shaders/dropout.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, checkShape, formatShape, type Shape } from '../autograd/tensor.ts';

// Philox is prepended here, once, so that every call passes the same source string.
const RANDOM_SOURCE = philoxSource + '\n' + randomSource;
const DROPOUT_SOURCE = philoxSource + '\n' + dropoutSource;

const WORKGROUP = 64;
/** Elements per thread: one Philox call yields four 32-bit words. */
const ELEMENTS_PER_THREAD = 4;
const TWO_POW_32 = 2 ** 32;

/** Splits a seed into the two 32-bit words of the Philox key; rejects non-integers. */
export function philoxKey(seed: number, op: string): [number, number] {
  if (!Number.isSafeInteger(seed) || seed < 0) {
    throw new Error(`${op}: seed ${seed} must be an integer in [0, 2^53)`);
  }
  return [seed % TWO_POW_32, Math.floor(seed / TWO_POW_32)];
}

function threadBlocks(n: number): number {
  return Math.ceil(Math.ceil(n / ELEMENTS_PER_THREAD) / WORKGROUP);
}

function fill(shape: Shape, seed: number, normal: boolean, a: number, b: number, op: string): Tensor {
  checkShape(shape);
  const [keyLo, keyHi] = philoxKey(seed, op);
  const out = Tensor.empty(shape, 'f32', op);
  if (out.size === 0) return out;
  getEngine().dispatch({
    kernel: { family: 'random', source: RANDOM_SOURCE, defines: { WORKGROUP, NORMAL: normal } },
    bindings: [out.binding()],
    uniforms: new Uniforms().u32(out.size, keyLo, keyHi, 0).f32(a, b).u32(0, 0).finish(),
    workgroups: threadBlocks(out.size),
  });
  return out;
}

/**
 * Draws a tensor uniform in [low, high) from `seed`. Each value is low + (high - low) * u with
 * u = k / 2^24, k the top 24 bits of a Philox word; in f32 the product can round up to `high`
 * when |low| is much larger than high - low.
 */
export function randomUniform(shape: Shape, seed: number, low = 0, high = 1): Tensor {
  if (!(low <= high)) throw new Error(`randomUniform: low ${low} must not exceed high ${high}`);
  return fill(shape, seed, false, low, high, 'randomUniform');
}

/** Draws a tensor from a normal distribution with the given mean and standard deviation. */
export function randomNormal(shape: Shape, seed: number, mean = 0, std = 1): Tensor {
  if (!(std >= 0)) throw new Error(`randomNormal: standard deviation ${std} must be non-negative`);
  return fill(shape, seed, true, mean, std, 'randomNormal');
}

/**
 * Applies the dropout mask of `seed` to `x`: elements whose uniform draw (the value that
 * `randomUniform(x.shape, seed)` has at the same index) is below `p` become 0, the others are
 * scaled by 1 / (1 - p). Running it on a gradient with the same seed gives the backward pass.
 */
export function dropoutMask(x: Tensor, p: number, seed: number): Tensor {
  if (x.dtype !== 'f32') throw new Error(`dropout: needs an f32 tensor; ${x.name} ${formatShape(x.shape)} is ${x.dtype}`);
  if (!(p >= 0 && p <= 1)) throw new Error(`dropout: probability ${p} must be in [0, 1]`);
  const [keyLo, keyHi] = philoxKey(seed, 'dropout');
  const out = Tensor.empty(x.shape, 'f32', 'dropout');
  if (out.size === 0) return out;
  getEngine().dispatch({
    kernel: { family: 'dropout', source: DROPOUT_SOURCE, defines: { WORKGROUP } },
    bindings: [x.binding(), out.binding()],
    uniforms: new Uniforms().u32(x.size, keyLo, keyHi, 0).f32(p, p === 1 ? 0 : 1 / (1 - p)).u32(0, 0).finish(),
    workgroups: threadBlocks(x.size),
  });
  return out;
}
