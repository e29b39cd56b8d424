/**
 * GPU transforms from uint8 images to model inputs.
 *
 * A split's pixels go to the GPU once, as bytes packed four to a u32 (60,000 x 784 bytes =
 * 47 MB for the training split). Each batch then costs one small upload (four i32 per
 * sample: dataset index, shift dy, shift dx, flip) and one dispatch of shaders/batch.wgsl,
 * which gathers, augments, resizes, replicates channels and normalises. The host never
 * touches pixels after the upload.
 */
import batchSource from '../../shaders/batch.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, tensor } from '../autograd/tensor.ts';
import type { HostSplit } from './fashion-mnist.ts';
import { outputSize } from './resize.ts';

const WORKGROUP = 256;
/** Integers per sample in the parameter tensor: index, dy, dx, flip. */
export const SAMPLE_PARAMS = 4;

/** ImageNet's per-channel mean and std, as torchvision's pretrained models expect. */
export const IMAGENET_NORMALIZATION = { mean: [0.485, 0.456, 0.406], std: [0.229, 0.224, 0.225] } as const;
/** Mean 0.5 and std 0.5: maps [0, 1] to [-1, 1]. */
export const SYMMETRIC_NORMALIZATION = { mean: [0.5], std: [0.5] } as const;

/** Seeded augmentation, drawn per (seed, epoch, dataset index). */
export interface AugmentOptions {
  /** Zero padding of a random crop back to the original size, in source pixels (0: no crop). */
  padding?: number;
  /** Flip horizontally with probability 0.5. */
  flip?: boolean;
}

export interface TransformOptions {
  /** Output height and width (one number for a square); the source size by default. */
  size?: number | readonly [number, number];
  /** 1 keeps grayscale; 3 replicates it into three channels. */
  channels?: 1 | 3;
  /** Per-channel mean, after scaling pixels to [0, 1]; one value applies to every channel. */
  mean?: readonly number[] | number;
  /** Per-channel std; one value applies to every channel. */
  std?: readonly number[] | number;
  augment?: AugmentOptions;
}

/** A batch: images [B, C, H, W] f32, labels [B] i32, and the dataset indices of its samples. */
export interface Batch {
  images: Tensor;
  labels: Tensor;
  indices: Int32Array;
}

/** One split on the GPU: its packed pixels, with the labels kept on the host. */
export class DeviceSplit {
  /** [count * rows * cols / 4] u32 words of packed pixels (stored under dtype 'i32'). */
  readonly pixels: Tensor;

  private constructor(readonly host: HostSplit, pixels: Tensor) {
    this.pixels = pixels;
  }

  /** Uploads a split's pixels once. */
  static upload(split: HostSplit): DeviceSplit {
    const bytes = split.count * split.rows * split.cols;
    // Storage buffers hold 4-byte words: pad the byte count to a multiple of 4.
    const words = Math.max(1, Math.ceil(bytes / 4));
    const pixels = Tensor.empty([words], 'i32', `${split.name} pixels`);
    if (bytes > 0) getEngine().write(pixels.storage.entry, split.images.subarray(0, bytes));
    return new DeviceSplit(split, pixels);
  }

  get count(): number {
    return this.host.count;
  }

  get labels(): Uint8Array {
    return this.host.labels;
  }

  dispose(): void {
    this.pixels.dispose();
  }
}

/** Expands a mean or std option to three channel values, checking its length. */
function perChannel(value: readonly number[] | number | undefined, fallback: number, channels: number, what: string): number[] {
  let values = [fallback];
  if (typeof value === 'number') values = [value];
  if (Array.isArray(value)) values = [...value];
  if (values.length !== 1 && values.length !== channels) {
    throw new Error(`transform: ${what} has ${values.length} values for ${channels} channel(s); give 1 or ${channels}`);
  }
  const out = values.length === 1 ? [values[0], values[0], values[0]] : [...values, 0, 0].slice(0, 3);
  if (what === 'std' && out.slice(0, channels).some((s) => !(s > 0))) throw new Error(`transform: std ${JSON.stringify(value)} must be positive`);
  return out;
}

/** Hashes a 32-bit integer (lowbias32, the same hash as in shaders/noise.wgsl). */
export function hash32(v: number): number {
  let h = v >>> 0;
  h ^= h >>> 16;
  h = Math.imul(h, 0x7feb352d);
  h ^= h >>> 15;
  h = Math.imul(h, 0x846ca68b);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Hashes several integers into one, so a key such as (seed, epoch, index) gets one value. */
export function hashKey(...values: number[]): number {
  let h = 0x9e3779b9;
  for (const v of values) h = hash32((h ^ hash32(v >>> 0)) + 0x7f4a7c15);
  return h;
}

/**
 * Fills the per-sample parameters (index, dy, dx, flip) for dataset `indices`. Augmentation
 * draws from (seed, epoch, index), so a sample gets the same crop and flip in an epoch
 * whatever its position in the batch order.
 */
export function sampleParams(indices: Int32Array, augment: AugmentOptions | undefined, seed: number, epoch: number): Int32Array {
  const params = new Int32Array(indices.length * SAMPLE_PARAMS);
  const padding = augment?.padding ?? 0;
  if (!Number.isInteger(padding) || padding < 0) throw new Error(`augment.padding ${padding} must be a non-negative integer`);
  for (let b = 0; b < indices.length; b++) {
    params[SAMPLE_PARAMS * b] = indices[b];
    if (!padding && !augment?.flip) continue;
    const h = hashKey(seed, epoch, indices[b]);
    const span = 2 * padding + 1;
    params[SAMPLE_PARAMS * b + 1] = (h % span) - padding;
    params[SAMPLE_PARAMS * b + 2] = (Math.floor(h / span) % span) - padding;
    params[SAMPLE_PARAMS * b + 3] = augment?.flip ? hash32(h) & 1 : 0;
  }
  return params;
}

/**
 * Builds images [B, C, H, W] f32 from `params` (see `sampleParams`) in one dispatch: gather,
 * augmentation, bilinear resize, channel replication, then (v / 255 - mean) / std.
 */
export function transformImages(split: DeviceSplit, params: Int32Array, options: TransformOptions = {}): Tensor {
  const { rows, cols, count } = split.host;
  const [outH, outW] = outputSize(options.size ?? [rows, cols], 'transform');
  const channels = options.channels ?? 1;
  if (channels !== 1 && channels !== 3) throw new Error(`transform: channels ${channels} must be 1 or 3`);
  const mean = perChannel(options.mean, 0, channels, 'mean');
  const std = perChannel(options.std, 1, channels, 'std');
  const batch = params.length / SAMPLE_PARAMS;
  if (!Number.isInteger(batch)) throw new Error(`transform: ${params.length} sample parameters are not a multiple of ${SAMPLE_PARAMS}`);
  for (let b = 0; b < batch; b++) {
    const index = params[SAMPLE_PARAMS * b];
    if (index < 0 || index >= count) throw new Error(`transform: sample index ${index} is outside the ${split.host.name} split (0-${count - 1})`);
  }

  const out = Tensor.empty([batch, channels, outH, outW], 'f32', 'images');
  if (out.size === 0) return out;
  const samples = tensor(params, [params.length], { dtype: 'i32', name: 'sample params' });
  const n = batch * outH * outW;
  getEngine().dispatch({
    kernel: { family: 'batch', source: batchSource, defines: { WORKGROUP } },
    bindings: [split.pixels.binding(), samples.binding(), out.binding()],
    uniforms: new Uniforms()
      .u32(n, channels, rows, cols, outH, outW)
      .f32(rows / outH, cols / outW, ...mean, ...std.map((s) => 1 / s))
      .u32(0, 0)
      .finish(),
    workgroups: Math.ceil(n / WORKGROUP),
  });
  samples.dispose();
  return out;
}
