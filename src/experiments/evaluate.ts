/**
 * Inference over a data loader: logits for every sample (clean or with seeded Gaussian noise),
 * and latency per batch and per image. Runs in eval mode without recording on the tape, and
 * restores the model's mode afterwards.
 */
import { noGrad } from '../autograd/tape.ts';
import { tidy } from '../autograd/scope.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { getEngine } from '../gpu/engine.ts';
import { addGaussianNoise } from '../data/noise.ts';
import { hashKey } from '../data/transforms.ts';
import type { DataLoader } from '../data/loader.ts';
import type { Module } from '../nn/module.ts';
import { argmaxRows, softmaxRows } from './metrics.ts';

export type Classifier = Module & { forward(x: Tensor): Tensor };

export interface NoiseSpec {
  std: number;
  seed: number;
  /** Clamp bounds: the range of clean normalised inputs. */
  low: number;
  high: number;
}

export interface Predictions {
  /** [samples, classes] in the loader's order. */
  logits: Float32Array;
  labels: Int32Array;
  /** Dataset index of each row. */
  indices: Int32Array;
  classes: number;
  /** Wall time of the forward passes including readback, in seconds. */
  seconds: number;
  batches: number;
}

/** Runs the model over every batch of `loader` (epoch 0 order) and returns its logits. */
export async function predict(model: Classifier, loader: DataLoader, noise: NoiseSpec | null = null): Promise<Predictions> {
  const wasTraining = model.training;
  model.eval();
  const logitRows: Float32Array[] = [];
  const labels: number[] = [];
  const indices: number[] = [];
  let classes = 0;
  let batchIndex = 0;
  const start = performance.now();
  try {
    for (const batch of loader.batches(0)) {
      const logits = noGrad(() =>
        tidy(() => {
          const input = noise ? addGaussianNoise(batch.images, noise.std, hashKey(noise.seed, batchIndex), { low: noise.low, high: noise.high }) : batch.images;
          return model.forward(input);
        }),
      );
      batch.images.dispose();
      batch.labels.dispose();
      classes = logits.shape[1];
      logitRows.push((await logits.data()) as Float32Array);
      logits.dispose();
      for (const i of batch.indices) {
        indices.push(i);
        labels.push(loader.split.labels[i]);
      }
      batchIndex++;
    }
  } finally {
    model.train(wasTraining);
  }
  const seconds = (performance.now() - start) / 1000;
  const logits = new Float32Array(logitRows.reduce((n, r) => n + r.length, 0));
  let offset = 0;
  for (const r of logitRows) {
    logits.set(r, offset);
    offset += r.length;
  }
  return { logits, labels: Int32Array.from(labels), indices: Int32Array.from(indices), classes, seconds, batches: batchIndex };
}

/** Accuracy and mean cross-entropy (natural log) of predictions. */
export function accuracyAndLoss(p: Predictions): { accuracy: number; loss: number } {
  const probabilities = softmaxRows(p.logits, p.classes);
  const predicted = argmaxRows(p.logits, p.classes);
  let correct = 0;
  let loss = 0;
  for (let i = 0; i < p.labels.length; i++) {
    if (predicted[i] === p.labels[i]) correct++;
    loss -= Math.log(Math.max(probabilities[i * p.classes + p.labels[i]], 1e-300));
  }
  const n = Math.max(1, p.labels.length);
  return { accuracy: correct / n, loss: loss / n };
}

export interface Latency {
  /** Batch size of the per-batch figure. */
  batchSize: number;
  /** Median wall time of one forward pass over a batch, readback included, in milliseconds. */
  msPerBatch: number;
  /** msPerBatch / batchSize. */
  msPerImage: number;
  /** Median wall time of a forward pass over one image, in milliseconds. */
  msSingleImage: number;
  adapter: string;
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b);
  return sorted[Math.floor(sorted.length / 2)];
}

async function timeForward(model: Classifier, images: Tensor, repeats: number): Promise<number> {
  const times: number[] = [];
  // The first pass compiles pipelines and is left out.
  for (let r = 0; r <= repeats; r++) {
    const start = performance.now();
    const logits = noGrad(() => tidy(() => model.forward(images)));
    await logits.data();
    logits.dispose();
    if (r > 0) times.push(performance.now() - start);
  }
  return median(times);
}

/** Times inference on the first batch of `loader` and on its first image alone. */
export async function measureLatency(model: Classifier, loader: DataLoader, repeats = 3): Promise<Latency> {
  const wasTraining = model.training;
  model.eval();
  try {
    const order = loader.order(0);
    const batch = loader.batch(order.subarray(0, Math.min(loader.batchSize, order.length)));
    const single = loader.batch(order.subarray(0, 1));
    const msPerBatch = await timeForward(model, batch.images, repeats);
    const msSingleImage = await timeForward(model, single.images, repeats);
    const batchSize = batch.indices.length;
    for (const t of [batch.images, batch.labels, single.images, single.labels]) t.dispose();
    return { batchSize, msPerBatch, msPerImage: msPerBatch / batchSize, msSingleImage, adapter: getEngine().adapter.name };
  } finally {
    model.train(wasTraining);
  }
}
