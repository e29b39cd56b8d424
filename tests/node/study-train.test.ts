// The study's training loop on a small MLP over real Fashion-MNIST images. A run interrupted
// after one epoch and resumed from its checkpoint ends with the same parameters and BatchNorm
// counters as an uninterrupted run. A corrupt checkpoint is reported by name.
import { mkdtempSync, rmSync, writeFileSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { DataLoader, DeviceSplit, balancedSubset, type FashionMnist } from '../../src/data/index.ts';
import { findFashionMnistDir, readFashionMnistDir } from '../../src/data/node.ts';
import { relu } from '../../src/autograd/ops/elementwise.ts';
import { reshape } from '../../src/autograd/ops/shape.ts';
import type { Tensor } from '../../src/autograd/tensor.ts';
import { BatchNorm2d } from '../../src/nn/layers/batchnorm.ts';
import { Linear } from '../../src/nn/layers/linear.ts';
import { Generator } from '../../src/nn/init.ts';
import { Module } from '../../src/nn/module.ts';
import { CheckpointError, loadCheckpoint, readCheckpointMeta } from '../../src/experiments/checkpoint.ts';
import { train, makeOptimizer } from '../../src/experiments/train.ts';
import type { TrainPreset } from '../../src/experiments/presets.ts';

class Mlp extends Module {
  readonly norm: BatchNorm2d;
  readonly fc1: Linear;
  readonly fc2: Linear;

  constructor(seed: number) {
    super();
    const gen = new Generator(seed);
    // The input normalisation gives the model a num_batches_tracked counter to carry across a resume.
    this.norm = this.registerModule('norm', new BatchNorm2d(1, { name: 'norm' }));
    this.fc1 = this.registerModule('fc1', new Linear(784, 32, { gen, name: 'fc1' }));
    this.fc2 = this.registerModule('fc2', new Linear(32, 10, { gen, name: 'fc2' }));
  }

  forward(x: Tensor): Tensor {
    return this.fc2.forward(relu(this.fc1.forward(reshape(this.norm.forward(x), [x.shape[0], 784]))));
  }
}

const found = findFashionMnistDir({});
const settings: TrainPreset = { epochs: 2, batchSize: 32, optimizer: 'adamw', lr: 2e-3, weightDecay: 0.01, schedule: 'cosine', warmupFraction: 0.2 };

async function parameters(model: Module): Promise<Float32Array[]> {
  return Promise.all(model.parameters().map(async (p) => (await p.data()) as Float32Array));
}

describe.skipIf(!found.dir)('study training loop', () => {
  let data: FashionMnist;
  let split: DeviceSplit;
  let loader: DataLoader;
  let evalLoader: DataLoader;
  let folder: string;

  beforeAll(async () => {
    data = await readFashionMnistDir(found.dir!);
    split = DeviceSplit.upload(data.train);
    const indices = balancedSubset(data.train.labels, 12, 5);
    const transform = { mean: [0.5], std: [0.5] };
    loader = new DataLoader(split, { batchSize: settings.batchSize, seed: 3, indices, transform });
    evalLoader = new DataLoader(split, { batchSize: 50, shuffle: false, indices: balancedSubset(data.train.labels, 5, 9), transform });
    folder = mkdtempSync(join(tmpdir(), 'study-train-'));
  });

  afterAll(() => {
    split?.dispose();
    if (folder) rmSync(folder, { recursive: true, force: true });
  });

  const log = () => {};

  it('resume equals uninterrupted run', async () => {
    const straight = new Mlp(1);
    const a = await train({ name: 'mlp', model: straight, settings, trainLoader: loader, evalLoader, seed: 3, checkpointPath: join(folder, 'a.safetensors'), resume: false, config: {}, log, interactive: false });

    const resumedModel = new Mlp(1);
    const path = join(folder, 'b.safetensors');
    const first = await train({ name: 'mlp', model: resumedModel, settings, trainLoader: loader, evalLoader, seed: 3, checkpointPath: path, resume: false, config: {}, log, stopAfterEpoch: 1, interactive: false });
    expect(first.epochs).toBe(1);
    expect(readCheckpointMeta(path).epoch).toBe(1);
    first.optimizer.dispose();
    resumedModel.dispose();

    // A fresh process would start from new initial values; the checkpoint must replace them all.
    const fresh = new Mlp(99);
    const b = await train({ name: 'mlp', model: fresh, settings, trainLoader: loader, evalLoader, seed: 3, checkpointPath: path, resume: true, config: {}, log, interactive: false });
    expect(b.steps).toBe(a.steps);
    expect(b.history.map((h) => h.trainLoss)).toEqual(a.history.map((h) => h.trainLoss));

    const expected = await parameters(straight);
    const actual = await parameters(fresh);
    actual.forEach((values, i) => expect(Array.from(values), `parameter ${i}`).toEqual(Array.from(expected[i])));
    const batches = async (model: Mlp) => Array.from(await model.stateDict().get('norm.num_batches_tracked')!.data());
    expect(await batches(fresh), 'num_batches_tracked').toEqual(await batches(straight));
    expect(Array.from(await fresh.norm.runningMean.data()), 'running_mean').toEqual(Array.from(await straight.norm.runningMean.data()));
    expect(b.history[1].trainAccuracy).toBeGreaterThan(0.3);
    for (const r of [a, b]) r.optimizer.dispose();
    straight.dispose();
    fresh.dispose();
  });

  it('corrupt checkpoint reported by name', () => {
    const path = join(folder, 'corrupt.safetensors');
    writeFileSync(path, new Uint8Array([1, 2, 3, 4, 5, 6, 7, 8, 9]));
    const model = new Mlp(2);
    const optimizer = makeOptimizer(model as never, settings);
    expect(() => loadCheckpoint(path, model, optimizer)).toThrow(CheckpointError);
    expect(() => loadCheckpoint(path, model, optimizer)).toThrow(new RegExp(`checkpoint ${path.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')} is corrupt`));
    expect(() => loadCheckpoint(join(folder, 'missing.safetensors'), model, optimizer)).toThrow(/cannot read checkpoint .*missing\.safetensors/);
    let message = '';
    try {
      loadCheckpoint(path, model, optimizer);
    } catch (error) {
      message = (error as Error).message;
    }
    expect(message.split(path).length - 1, `path occurrences in: ${message}`).toBe(1);
    optimizer.dispose();
    model.dispose();
  });

  it('checkpoint write leaves no temporary file', () => {
    expect(existsSync(join(folder, 'a.safetensors'))).toBe(true);
    expect(existsSync(join(folder, `.a.safetensors.${process.pid}.tmp`))).toBe(false);
  });
});
