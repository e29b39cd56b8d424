// A reduced ViT fits 64 real Fashion-MNIST training images: the end-to-end check that patch
// embedding, attention, LayerNorm, GELU, the head and Adam work together. Reads the gzipped
// IDX files directly, so it runs wherever Debian's dataset-fashion-mnist is installed.
import { existsSync, readFileSync } from 'node:fs';
import { gunzipSync } from 'node:zlib';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { noGrad, ops, tensor, tidy } from '../../src/index.ts';
import { VisionTransformer } from '../../src/nn/models/vit.ts';
import { Adam } from '../../src/nn/optim.ts';

const DATA_DIR = process.env.FASHION_MNIST_DIR ?? '/usr/share/datasets/fashion-mnist';
const IMAGES = join(DATA_DIR, 'train-images-idx3-ubyte.gz');
const LABELS = join(DATA_DIR, 'train-labels-idx1-ubyte.gz');
const COUNT = 64;
const MAX_STEPS = 150;
const TARGET_ACCURACY = 0.95;

/** Reads the first `count` images, scaled to [0, 1] and standardised with the dataset's mean and std. */
function readImages(count: number): { pixels: Float32Array; labels: number[] } {
  const images = gunzipSync(readFileSync(IMAGES));
  const labels = gunzipSync(readFileSync(LABELS));
  // IDX headers: images 16 bytes (magic 2051, count, rows, cols), labels 8 (magic 2049, count).
  expect(images.readUInt32BE(0)).toBe(2051);
  expect(labels.readUInt32BE(0)).toBe(2049);
  const pixels = new Float32Array(count * 28 * 28);
  for (let i = 0; i < pixels.length; i++) pixels[i] = (images[16 + i] / 255 - 0.286) / 0.353;
  return { pixels, labels: Array.from(labels.subarray(8, 8 + count)) };
}

describe.skipIf(!existsSync(IMAGES))('vit fit', () => {
  it('fits 64 Fashion-MNIST images', async () => {
    const { pixels, labels } = readImages(COUNT);
    const model = new VisionTransformer({ imageSize: 28, patchSize: 7, inChannels: 1, width: 32, depth: 2, heads: 2, mlpDim: 64, numClasses: 10, seed: 1 });
    const images = tensor(pixels, [COUNT, 1, 28, 28], { name: 'images' });
    const optimizer = new Adam(model.namedParameters(), { lr: 3e-3 });

    const accuracy = async (): Promise<number> => {
      const logits = noGrad(() => tidy(() => model.forward(images)));
      const values = await logits.data();
      logits.dispose();
      let correct = 0;
      for (let i = 0; i < COUNT; i++) {
        const row = values.subarray(i * 10, i * 10 + 10);
        if (row.indexOf(Math.max(...row)) === labels[i]) correct++;
      }
      return correct / COUNT;
    };

    let reached = 0;
    let steps = 0;
    try {
      for (steps = 1; steps <= MAX_STEPS; steps++) {
        optimizer.zeroGrad();
        tidy(() => ops.crossEntropy(model.forward(images), labels).backward());
        optimizer.step();
        if (steps % 10 === 0) {
          reached = await accuracy();
          if (reached > TARGET_ACCURACY) break;
        }
      }
      expect(reached, `training accuracy after ${Math.min(steps, MAX_STEPS)} steps`).toBeGreaterThan(TARGET_ACCURACY);
    } finally {
      model.dispose();
      images.dispose();
      optimizer.dispose();
    }
  }, 300_000);
});
