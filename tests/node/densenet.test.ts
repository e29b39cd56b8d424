// DenseNet: torchvision's parameter count and names, forward shapes at 224x224, the batch-size
// limit, zero-copy versus naive concatenation (same outputs and gradients, lower peak memory),
// and fitting 64 real Fashion-MNIST images.
import { readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { getEngine, noGrad, ops, tensor, tidy } from '../../src/index.ts';
import { DenseNet, densenet121 } from '../../src/nn/models/densenet.ts';
import { Adam } from '../../src/nn/optim.ts';
import { uniform } from '../harness/random.ts';

const FASHION_MNIST = '/usr/share/datasets/fashion-mnist';

function readFashionMnist(count: number): { images: Float32Array; labels: Int32Array } {
  const images = gunzipSync(readFileSync(`${FASHION_MNIST}/train-images-idx3-ubyte.gz`));
  const labels = gunzipSync(readFileSync(`${FASHION_MNIST}/train-labels-idx1-ubyte.gz`));
  expect(images.readUInt32BE(0)).toBe(2051);
  expect(labels.readUInt32BE(0)).toBe(2049);
  const pixels = new Float32Array(count * 784);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (images[16 + i] / 255 - 0.2860) / 0.3530;
  return { images: pixels, labels: Int32Array.from(labels.subarray(8, 8 + count)) };
}

function argmaxRows(values: Float32Array | Int32Array, classes: number): number[] {
  const out: number[] = [];
  for (let r = 0; r < values.length / classes; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[r * classes + c] > values[r * classes + best]) best = c;
    out.push(best);
  }
  return out;
}

describe('densenet', () => {
  it('DenseNet121 has torchvision parameters', () => {
    const model = densenet121({ numClasses: 10 });
    try {
      expect(model.parameterCount()).toBe(6_964_106);
      const params = new Map(model.namedParameters().map(([name, t]) => [name, t.shape]));
      const expected: [string, number[]][] = [
        ['features.conv0.weight', [64, 3, 7, 7]],
        ['features.norm0.weight', [64]],
        ['features.denseblock1.denselayer1.norm1.weight', [64]],
        ['features.denseblock1.denselayer1.conv1.weight', [128, 64, 1, 1]],
        ['features.denseblock1.denselayer1.norm2.bias', [128]],
        ['features.denseblock1.denselayer1.conv2.weight', [32, 128, 3, 3]],
        ['features.denseblock1.denselayer6.norm1.weight', [224]],
        ['features.transition1.norm.weight', [256]],
        ['features.transition1.conv.weight', [128, 256, 1, 1]],
        ['features.denseblock3.denselayer24.conv1.weight', [128, 992, 1, 1]],
        ['features.transition3.conv.weight', [512, 1024, 1, 1]],
        ['features.denseblock4.denselayer16.conv2.weight', [32, 128, 3, 3]],
        ['features.norm5.weight', [1024]],
        ['classifier.weight', [10, 1024]],
        ['classifier.bias', [10]],
      ];
      for (const [name, shape] of expected) expect(params.get(name), name).toEqual(shape);
      expect(model.namedParameters().slice(0, 4).map(([name]) => name)).toEqual([
        'features.conv0.weight', 'features.norm0.weight', 'features.norm0.bias', 'features.denseblock1.denselayer1.norm1.weight',
      ]);
      const buffers = model.namedBuffers().map(([name]) => name);
      expect(buffers).toContain('features.denseblock2.denselayer12.norm2.running_var');
      expect(buffers).toContain('features.norm5.num_batches_tracked');
      expect(buffers.length).toBe(121 * 3);
    } finally {
      model.dispose();
    }
  });

  it('DenseNet121 forward at 224x224', async () => {
    const model = densenet121({ numClasses: 10 }).eval();
    try {
      expect(model.outputShapes(8).features).toEqual([8, 1024, 7, 7]);
      expect(model.outputShapes(8).logits).toEqual([8, 10]);
      const x = tensor(uniform(3 * 224 * 224, 1, -1, 1), [1, 3, 224, 224]);
      const { features, logits } = noGrad(() => model.forwardWithFeatures(x));
      expect(features.shape).toEqual([1, 1024, 7, 7]);
      expect(logits.shape).toEqual([1, 10]);
      const values = await logits.data();
      expect(values.every(Number.isFinite)).toBe(true);
      for (const t of [x, features, logits]) t.dispose();
    } finally {
      model.dispose();
    }
  }, 600_000);

  it('batch limit names the largest batch that fits', () => {
    const model = densenet121({ numClasses: 10 });
    try {
      // WebGPU's default maxStorageBufferBindingSize: 128 MiB.
      const limits = { maxStorageBufferBindingSize: 128 * 2 ** 20, maxBufferSize: 256 * 2 ** 20 };
      const fit = model.maxBatchSize(224, 224, limits);
      expect(fit.bytesPerImage).toBe(3_211_264);
      expect(fit.batch).toBe(41);
      expect(() => model.checkBatch(41, 224, 224, limits)).not.toThrow();
      expect(() => model.checkBatch(42, 224, 224, limits)).toThrow(/batch of 42 .* the largest batch that fits is 41/);
    } finally {
      model.dispose();
    }
  });

  it('zero-copy and naive concatenation agree; zero-copy peaks lower', async () => {
    const options = { growthRate: 8, blockConfig: [3, 3], numInitFeatures: 16, numClasses: 10, inChannels: 1, stem: 'small' as const, seed: 3 };
    const dense = new DenseNet(options);
    const naive = new DenseNet({ ...options, concat: 'naive' });
    const x = tensor(uniform(8 * 28 * 28, 5, -1, 1), [8, 1, 28, 28]);
    const labels = Int32Array.from({ length: 8 }, (_, i) => i % 10);
    const engine = getEngine();
    const step = (model: DenseNet) => {
      engine.pool.resetPeak();
      const before = engine.stats().liveBytes;
      const loss = tidy(() => {
        const l = ops.crossEntropy(model.forward(x), labels);
        l.backward();
        return l;
      });
      return { loss, peak: engine.stats().peakLiveBytes - before };
    };
    try {
      const a = step(dense);
      const b = step(naive);
      expect(await a.loss.item()).toBeCloseTo(await b.loss.item(), 4);
      const gradA = await dense.features.namedParameters()[0][1].grad!.data();
      const gradB = await naive.features.namedParameters()[0][1].grad!.data();
      for (let i = 0; i < gradA.length; i++) expect(gradA[i]).toBeCloseTo(gradB[i], 4);
      console.log(`training step peak memory: zero-copy ${a.peak} bytes, naive ${b.peak} bytes`);
      expect(a.peak).toBeLessThan(b.peak);
      a.loss.dispose();
      b.loss.dispose();
    } finally {
      x.dispose();
      dense.dispose();
      naive.dispose();
    }
  }, 300_000);

  it('fits 64 Fashion-MNIST images', async () => {
    const { images, labels } = readFashionMnist(64);
    // The ImageNet stem brings 28x28 down to 7x7, which keeps each step cheap on a software
    // adapter; the blocks and transitions are DenseNet's.
    const model = new DenseNet({ growthRate: 8, blockConfig: [2, 2], numInitFeatures: 16, numClasses: 10, inChannels: 1, stem: 'imagenet', seed: 1 });
    const optimizer = new Adam(model.namedParameters(), { lr: 1e-2 });
    const x = tensor(images, [64, 1, 28, 28]);
    const y = tensor(labels, [64], { dtype: 'i32' });
    let accuracy = 0;
    let steps = 0;
    try {
      for (steps = 1; steps <= 150; steps++) {
        const logits = tidy(() => {
          optimizer.zeroGrad();
          const out = model.forward(x);
          ops.crossEntropy(out, y).backward();
          optimizer.step();
          return out;
        });
        const predicted = argmaxRows(await logits.data(), 10);
        accuracy = predicted.filter((p, i) => p === labels[i]).length / 64;
        logits.dispose();
        if (accuracy > 0.95) break;
      }
      model.eval();
      const evalLogits = noGrad(() => model.forward(x));
      const evalAccuracy = argmaxRows(await evalLogits.data(), 10).filter((p, i) => p === labels[i]).length / 64;
      evalLogits.dispose();
      console.log(`fit: ${steps} steps, training-mode accuracy ${accuracy}, eval-mode accuracy ${evalAccuracy}`);
      expect(accuracy).toBeGreaterThan(0.95);
    } finally {
      x.dispose();
      y.dispose();
      model.dispose();
    }
  }, 900_000);
});
