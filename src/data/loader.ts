/**
 * Seeded data loader over a split on the GPU. Each epoch has its own order (a Fisher-Yates
 * shuffle seeded by (seed, epoch)), the last batch keeps the remainder unless `dropLast` is
 * set, and batches are built on the GPU by transforms.ts, so the host only computes indices.
 */
import { tensor } from '../autograd/tensor.ts';
import { CLASS_COUNT } from './idx.ts';
import { DeviceSplit, sampleParams, transformImages, hashKey, type Batch, type TransformOptions } from './transforms.ts';

export interface LoaderOptions {
  batchSize: number;
  /** Shuffle each epoch (default true); otherwise dataset order. */
  shuffle?: boolean;
  seed?: number;
  /** Drop a final batch smaller than `batchSize` (default false: keep it). */
  dropLast?: boolean;
  /** Dataset indices to draw from (a subset for reduced presets); the whole split by default. */
  indices?: Int32Array;
  transform?: TransformOptions;
}

/** mulberry32: a small seeded generator of uniform values in [0, 1). */
export function mulberry32(seed: number): () => number {
  let state = seed >>> 0;
  return () => {
    state = (state + 0x6d2b79f5) >>> 0;
    let t = state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Shuffles `values` in place with a generator seeded by `seed` (Fisher-Yates). */
export function shuffleInPlace(values: Int32Array, seed: number): Int32Array {
  const next = mulberry32(seed);
  for (let i = values.length - 1; i > 0; i--) {
    const j = Math.floor(next() * (i + 1));
    const t = values[i];
    values[i] = values[j];
    values[j] = t;
  }
  return values;
}

/**
 * Returns a seeded subset with the same number of samples from each class (`perClass`), in
 * dataset order: the reduced presets' training and test sets.
 */
export function balancedSubset(labels: Uint8Array, perClass: number, seed: number): Int32Array {
  if (!Number.isInteger(perClass) || perClass < 1) throw new Error(`balancedSubset: perClass ${perClass} must be a positive integer`);
  const byClass: number[][] = Array.from({ length: CLASS_COUNT }, () => []);
  for (let i = 0; i < labels.length; i++) byClass[labels[i]].push(i);
  const chosen: number[] = [];
  for (let c = 0; c < CLASS_COUNT; c++) {
    if (byClass[c].length < perClass) throw new Error(`balancedSubset: class ${c} has ${byClass[c].length} samples, fewer than perClass ${perClass}`);
    const order = shuffleInPlace(Int32Array.from(byClass[c]), hashKey(seed, c));
    chosen.push(...order.subarray(0, perClass));
  }
  return Int32Array.from(chosen.sort((a, b) => a - b));
}

export class DataLoader {
  readonly batchSize: number;
  readonly shuffle: boolean;
  readonly seed: number;
  readonly dropLast: boolean;
  readonly indices: Int32Array;
  readonly transform: TransformOptions;

  constructor(readonly split: DeviceSplit, options: LoaderOptions) {
    if (!Number.isInteger(options.batchSize) || options.batchSize < 1) throw new Error(`DataLoader: batchSize ${options.batchSize} must be a positive integer`);
    this.batchSize = options.batchSize;
    this.shuffle = options.shuffle ?? true;
    this.seed = options.seed ?? 0;
    this.dropLast = options.dropLast ?? false;
    this.transform = options.transform ?? {};
    this.indices = options.indices ?? Int32Array.from({ length: split.count }, (_, i) => i);
    for (const i of this.indices) {
      if (i < 0 || i >= split.count) throw new Error(`DataLoader: subset index ${i} is outside the ${split.host.name} split (0-${split.count - 1})`);
    }
  }

  /** Samples per epoch (after `dropLast`). */
  get length(): number {
    return this.dropLast ? this.batchesPerEpoch * this.batchSize : this.indices.length;
  }

  get batchesPerEpoch(): number {
    const full = Math.floor(this.indices.length / this.batchSize);
    return this.dropLast || this.indices.length % this.batchSize === 0 ? full : full + 1;
  }

  /** Returns the dataset indices of an epoch in the order its batches take them. */
  order(epoch: number): Int32Array {
    const order = Int32Array.from(this.indices);
    return this.shuffle ? shuffleInPlace(order, hashKey(this.seed, epoch)) : order;
  }

  /**
   * Yields the batches of `epoch`. The caller owns each batch's tensors: dispose them (or
   * build the batch inside `tidy`) once the step is recorded.
   */
  *batches(epoch = 0): Generator<Batch> {
    const order = this.order(epoch);
    for (let b = 0; b < this.batchesPerEpoch; b++) {
      yield this.batch(order.subarray(b * this.batchSize, Math.min(order.length, (b + 1) * this.batchSize)), epoch);
    }
  }

  /** Builds the batch of the given dataset indices, with the augmentation of `epoch`. */
  batch(indices: Int32Array, epoch = 0): Batch {
    const params = sampleParams(indices, this.transform.augment, this.seed, epoch);
    const images = transformImages(this.split, params, this.transform);
    const labels = tensor(Int32Array.from(indices, (i) => this.split.labels[i]), [indices.length], { dtype: 'i32', name: 'labels' });
    return { images, labels, indices: Int32Array.from(indices) };
  }
}
