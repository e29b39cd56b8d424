/**
 * In-page training: a small DenseNet (two dense blocks of two layers, growth rate 8, the
 * study's small stem) learns from 80 of the bundled images with Adam and is tested on the
 * other 20 after each epoch. It shows that the backward pass and the optimizer run in the
 * browser; with 80 images it cannot learn Fashion-MNIST well.
 */
import { tidy } from '../../src/autograd/scope.ts';
import { noGrad } from '../../src/autograd/tape.ts';
import { crossEntropy } from '../../src/autograd/ops/softmax.ts';
import { DataLoader } from '../../src/data/loader.ts';
import { DeviceSplit, SYMMETRIC_NORMALIZATION } from '../../src/data/transforms.ts';
import { DenseNet } from '../../src/nn/models/densenet.ts';
import { Adam } from '../../src/nn/optim.ts';
import { IMAGE_SIZE, type Sample } from './sample.ts';

/** Images of each class kept out of training, for the test accuracy. */
export const TEST_PER_CLASS = 2;
const BATCH_SIZE = 16;

export interface TrainOptions {
  epochs: number;
  learningRate: number;
  seed?: number;
}

export interface TrainCallbacks {
  /** Runs one step's GPU work; the page queues it behind other GPU jobs. */
  runStep<T>(step: () => Promise<T>): Promise<T>;
  onLoss(step: number, loss: number): void;
  onEpoch(epoch: number, step: number, testAccuracy: number, trainLoss: number): void;
  shouldStop(): boolean;
}

/** Splits the sample per class: the last `TEST_PER_CLASS` images of each class are the test set. */
export function splitSample(sample: Sample): { train: Int32Array; test: Int32Array } {
  const byClass = new Map<number, number[]>();
  for (let i = 0; i < sample.count; i++) byClass.set(sample.labels[i], [...(byClass.get(sample.labels[i]) ?? []), i]);
  const train: number[] = [];
  const test: number[] = [];
  for (const indices of byClass.values()) {
    train.push(...indices.slice(0, -TEST_PER_CLASS));
    test.push(...indices.slice(-TEST_PER_CLASS));
  }
  return { train: Int32Array.from(train.sort((a, b) => a - b)), test: Int32Array.from(test.sort((a, b) => a - b)) };
}

/** Trains for `options.epochs` epochs or until `shouldStop()`; returns a one-line summary. */
export async function trainInPage(sample: Sample, options: TrainOptions, callbacks: TrainCallbacks): Promise<string> {
  const { epochs, learningRate, seed = 0 } = options;
  if (!(Number.isInteger(epochs) && epochs >= 1)) throw new Error(`epochs ${epochs} must be a positive integer`);
  if (!(learningRate > 0 && learningRate <= 1)) throw new Error(`learning rate ${learningRate} must be in (0, 1]`);

  const split = DeviceSplit.upload({ name: 'train', count: sample.count, rows: IMAGE_SIZE, cols: IMAGE_SIZE, images: sample.images, labels: sample.labels });
  const { train, test } = splitSample(sample);
  const transform = { size: IMAGE_SIZE, channels: 1 as const, ...SYMMETRIC_NORMALIZATION };
  const trainLoader = new DataLoader(split, { batchSize: BATCH_SIZE, indices: train, seed, transform });
  const testLoader = new DataLoader(split, { batchSize: test.length, indices: test, shuffle: false, transform });
  const model = new DenseNet({ growthRate: 8, blockConfig: [2, 2], numInitFeatures: 16, bnSize: 2, stem: 'small', numClasses: 10, inChannels: 1, seed });
  const optimizer = new Adam(model.namedParameters(), { lr: learningRate });

  let step = 0;
  let accuracy = 0;
  let epoch = 0;
  try {
    for (epoch = 1; epoch <= epochs && !callbacks.shouldStop(); epoch++) {
      model.train();
      let lossSum = 0;
      let batches = 0;
      for (const indices of batchIndices(trainLoader, epoch)) {
        if (callbacks.shouldStop()) break;
        const loss = await callbacks.runStep(async () => {
          const lossTensor = tidy(() => {
            const batch = trainLoader.batch(indices, epoch);
            const value = crossEntropy(model.forward(batch.images), batch.labels);
            value.backward();
            return value;
          });
          optimizer.step();
          optimizer.zeroGrad();
          const [value] = await lossTensor.data();
          lossTensor.dispose();
          return value;
        });
        step++;
        batches++;
        lossSum += loss;
        callbacks.onLoss(step, loss);
        // Let the page paint the curve between steps.
        await new Promise((resolve) => setTimeout(resolve, 0));
      }
      if (batches === 0) break;
      accuracy = await callbacks.runStep(() => testAccuracy(model, testLoader));
      callbacks.onEpoch(epoch, step, accuracy, lossSum / batches);
    }
  } finally {
    for (const [, t] of model.stateDict()) t.dispose();
    for (const entry of optimizer.stateEntries()) entry.tensor.dispose();
    split.dispose();
  }
  const stopped = epoch <= epochs ? ` (stopped after ${step} steps)` : '';
  return `Trained ${model.parameterCount().toLocaleString('en-US')} parameters for ${step} steps${stopped}: test accuracy ${(100 * accuracy).toFixed(0)}% on ${test.length} held-out images.`;
}

/** Yields the dataset indices of each batch of an epoch, in the loader's seeded order. */
function* batchIndices(loader: DataLoader, epoch: number): Generator<Int32Array> {
  const order = loader.order(epoch);
  for (let start = 0; start < order.length; start += loader.batchSize) yield order.subarray(start, start + loader.batchSize);
}

async function testAccuracy(model: DenseNet, loader: DataLoader): Promise<number> {
  model.eval();
  const [indices] = batchIndices(loader, 0);
  const { logits, labels } = noGrad(() =>
    tidy(() => {
      const batch = loader.batch(indices);
      return { logits: model.forward(batch.images), labels: batch.labels };
    }),
  );
  const values = await logits.data();
  const truth = await labels.data();
  logits.dispose();
  labels.dispose();
  let correct = 0;
  for (let b = 0; b < truth.length; b++) {
    let best = 0;
    for (let k = 1; k < 10; k++) if (values[b * 10 + k] > values[b * 10 + best]) best = k;
    if (best === truth[b]) correct++;
  }
  return correct / truth.length;
}
