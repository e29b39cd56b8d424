// Data transforms on the GPU against float64 references: bilinear resize as PyTorch's
// interpolate(mode='bilinear', align_corners=False), the fused batch kernel (gather,
// augmentation, resize, channels, normalisation), the loader's order and partial batches,
// Gaussian noise statistics, and the class-similarity matrix.
import { tensor } from '../../src/index.ts';
import {
  DataLoader, DeviceSplit, IMAGENET_NORMALIZATION, SYMMETRIC_NORMALIZATION, addGaussianNoise, balancedSubset, classCounts,
  classSimilarity, dataOverview, exampleGrid, resizeBilinear, sampleParams, scaledCosineMatrix, topPairs, transformImages, type HostSplit,
} from '../../src/data/index.ts';
import { assert, assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { rng, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';

// ---- float64 references -----------------------------------------------------------------------

/** PyTorch's source index for align_corners=False: lower and upper neighbours and the weight. */
function span(dst: number, inSize: number, outSize: number): [number, number, number] {
  const src = Math.max((inSize / outSize) * (dst + 0.5) - 0.5, 0);
  const lo = Math.min(Math.floor(src), inSize - 1);
  const hi = Math.min(lo + 1, inSize - 1);
  return [lo, hi, src - lo];
}

/** Bilinear resize of `planes` planes [P, inH, inW] to [P, outH, outW] via a pixel accessor. */
function resizeRef(planes: number, inH: number, inW: number, outH: number, outW: number, at: (p: number, y: number, x: number) => number): Float64Array {
  const out = new Float64Array(planes * outH * outW);
  for (let p = 0; p < planes; p++) {
    for (let y = 0; y < outH; y++) {
      const [y0, y1, ly] = span(y, inH, outH);
      for (let x = 0; x < outW; x++) {
        const [x0, x1, lx] = span(x, inW, outW);
        const top = at(p, y0, x0) * (1 - lx) + at(p, y0, x1) * lx;
        const bottom = at(p, y1, x0) * (1 - lx) + at(p, y1, x1) * lx;
        out[(p * outH + y) * outW + x] = top * (1 - ly) + bottom * ly;
      }
    }
  }
  return out;
}

/** Computes the batch kernel's float64 reference from params (index, dy, dx, flip) per sample. */
function batchRef(split: HostSplit, params: Int32Array, outH: number, outW: number, channels: number, mean: number[], std: number[]): Float64Array {
  const { rows, cols } = split;
  const batch = params.length / 4;
  const gray = resizeRef(batch, rows, cols, outH, outW, (b, y, x) => {
    const [index, dy, dx, flip] = params.subarray(4 * b, 4 * b + 4);
    const sy = y + dy;
    const sx = (flip ? cols - 1 - x : x) + dx;
    if (sy < 0 || sx < 0 || sy >= rows || sx >= cols) return 0;
    return split.images[(index * rows + sy) * cols + sx] / 255;
  });
  const plane = outH * outW;
  const out = new Float64Array(batch * channels * plane);
  for (let b = 0; b < batch; b++) {
    for (let c = 0; c < channels; c++) {
      const m = mean.length === 1 ? mean[0] : mean[c];
      const s = std.length === 1 ? std[0] : std[c];
      for (let i = 0; i < plane; i++) out[(b * channels + c) * plane + i] = (gray[b * plane + i] - m) / s;
    }
  }
  return out;
}

/** Creates a host split of `count` random images with labels i mod 10. */
function randomSplit(count: number, seed: number, rows = 28, cols = 28): HostSplit {
  const next = rng(seed);
  const images = Uint8Array.from({ length: count * rows * cols }, () => Math.floor(next() * 256));
  const labels = Uint8Array.from({ length: count }, (_, i) => i % 10);
  return { name: 'train', count, rows, cols, images, labels };
}

// ---- cases ------------------------------------------------------------------------------------

const cases: Case[] = [];

// Upsampling (the 28 -> 224 of the study), downsampling, odd and non-square sizes, size 1.
const RESIZES: [number, number, number, number, number][] = [
  [2, 28, 28, 224, 224],
  [3, 28, 28, 13, 13],
  [1, 7, 5, 11, 3],
  [2, 1, 1, 4, 4],
  [1, 5, 9, 1, 1],
  [1, 28, 28, 28, 28],
  [4, 3, 17, 64, 2],
];
for (const [planes, inH, inW, outH, outW] of RESIZES) {
  cases.push({
    name: `resize ${inH}x${inW} to ${outH}x${outW}`,
    run: async () => {
      const values = Float64Array.from(Float32Array.from(uniform(planes * inH * inW, inH * 7 + outW, 0, 1)));
      const x = tensor(values, [planes, inH, inW]);
      const out = resizeBilinear(x, [outH, outW]);
      assertEqual(out.shape, [planes, outH, outW], 'shape');
      const expected = resizeRef(planes, inH, inW, outH, outW, (p, y, xx) => values[(p * inH + y) * inW + xx]);
      assertClose(await out.data(), expected, 'resize', { atol: 1e-5, rtol: 0 });
      x.dispose();
      out.dispose();
    },
  });
}

cases.push({
  name: 'resize rejects bad sizes',
  run: async () => {
    const x = tensor([1, 2, 3, 4], [2, 2]);
    await assertThrows(() => resizeBilinear(x, 0), /output size 0 must be positive integers/, 'size 0');
    await assertThrows(() => resizeBilinear(x, [2.5, 3]), /output size/, 'fractional size');
    await assertThrows(() => resizeBilinear(x.view([4]), 3), /needs a tensor \[\.\.\., H, W\]; .* \[4\]/, 'rank 1');
    x.dispose();
  },
});

const TRANSFORMS: { name: string; size: number | [number, number]; channels: 1 | 3; mean: number[]; std: number[]; padding: number; flip: boolean }[] = [
  { name: 'identity, 1 channel', size: 28, channels: 1, mean: [0], std: [1], padding: 0, flip: false },
  { name: '224, ImageNet', size: 224, channels: 3, mean: [...IMAGENET_NORMALIZATION.mean], std: [...IMAGENET_NORMALIZATION.std], padding: 0, flip: false },
  { name: '32, symmetric', size: 32, channels: 3, mean: [...SYMMETRIC_NORMALIZATION.mean], std: [...SYMMETRIC_NORMALIZATION.std], padding: 0, flip: false },
  { name: 'crop and flip', size: 28, channels: 1, mean: [0.5], std: [0.5], padding: 4, flip: true },
  { name: 'crop, flip, 17x45', size: [17, 45], channels: 3, mean: [...IMAGENET_NORMALIZATION.mean], std: [...IMAGENET_NORMALIZATION.std], padding: 3, flip: true },
];
for (const t of TRANSFORMS) {
  cases.push({
    name: `batch transform ${t.name}`,
    run: async () => {
      const host = randomSplit(11, 5);
      const split = DeviceSplit.upload(host);
      const indices = Int32Array.from([10, 0, 3, 3, 7]);
      const params = sampleParams(indices, { padding: t.padding, flip: t.flip }, 42, 1);
      const images = transformImages(split, params, { size: t.size, channels: t.channels, mean: t.mean, std: t.std });
      const [outH, outW] = typeof t.size === 'number' ? [t.size, t.size] : t.size;
      assertEqual(images.shape, [5, t.channels, outH, outW], 'shape');
      const expected = batchRef(host, params, outH, outW, t.channels, t.mean, t.std);
      assertClose(await images.data(), expected, t.name, { atol: 1e-5, rtol: 1e-6 });
      images.dispose();
      split.dispose();
    },
  });
}

cases.push({
  name: 'augmentation is seeded',
  run: () => {
    const indices = Int32Array.from({ length: 200 }, (_, i) => i);
    const a = sampleParams(indices, { padding: 4, flip: true }, 1, 0);
    const again = sampleParams(indices, { padding: 4, flip: true }, 1, 0);
    const otherEpoch = sampleParams(indices, { padding: 4, flip: true }, 1, 1);
    assertEqual(Array.from(a), Array.from(again), 'same seed and epoch');
    assert(Array.from(a).join() !== Array.from(otherEpoch).join(), 'another epoch draws other crops');
    const shifts = new Set<number>();
    let flips = 0;
    for (let b = 0; b < 200; b++) {
      assert(Math.abs(a[4 * b + 1]) <= 4, `vertical shift ${a[4 * b + 1]} exceeds the padding 4`);
      assert(Math.abs(a[4 * b + 2]) <= 4, `horizontal shift ${a[4 * b + 2]} exceeds the padding 4`);
      shifts.add(a[4 * b + 1]);
      flips += a[4 * b + 3];
    }
    assertEqual(shifts.size, 9, 'distinct vertical shifts');
    assert(flips > 70, `${flips} of 200 flipped, expected about 100`);
    assert(flips < 130, `${flips} of 200 flipped, expected about 100`);
  },
});

cases.push({
  name: 'batch transform rejects bad options',
  run: async () => {
    const split = DeviceSplit.upload(randomSplit(3, 1));
    const params = sampleParams(Int32Array.from([0, 1]), undefined, 0, 0);
    await assertThrows(() => transformImages(split, params, { channels: 3, mean: [0.1, 0.2] }), /mean has 2 values for 3 channel\(s\)/, 'mean length');
    await assertThrows(() => transformImages(split, params, { std: 0 }), /std 0 must be positive/, 'std 0');
    await assertThrows(() => transformImages(split, sampleParams(Int32Array.from([3]), undefined, 0, 0)), /sample index 3 is outside the train split \(0-2\)/, 'index');
    split.dispose();
  },
});

cases.push({
  name: 'loader order seeded',
  run: () => {
    const split = DeviceSplit.upload(randomSplit(100, 2));
    const a = new DataLoader(split, { batchSize: 64, seed: 7 });
    const b = new DataLoader(split, { batchSize: 64, seed: 7 });
    const c = new DataLoader(split, { batchSize: 64, seed: 8 });
    assertEqual(Array.from(a.order(0)), Array.from(b.order(0)), 'same seed, same order');
    assert(Array.from(a.order(0)).join() !== Array.from(c.order(0)).join(), 'another seed gives another order');
    assert(Array.from(a.order(0)).join() !== Array.from(a.order(1)).join(), 'another epoch gives another order');
    assertEqual(Array.from(a.order(0)).sort((x, y) => x - y), Array.from({ length: 100 }, (_, i) => i), 'a permutation');
    const plain = new DataLoader(split, { batchSize: 64, shuffle: false });
    assertEqual(Array.from(plain.order(3)), Array.from({ length: 100 }, (_, i) => i), 'unshuffled order');
    split.dispose();
  },
});

cases.push({
  name: 'loader final partial batch',
  run: async () => {
    const host = randomSplit(100, 3);
    const split = DeviceSplit.upload(host);
    const loader = new DataLoader(split, { batchSize: 64, seed: 1, transform: { size: 8, channels: 3 } });
    assertEqual(loader.batchesPerEpoch, 2, 'batches');
    const sizes: number[] = [];
    const seen: number[] = [];
    for (const batch of loader.batches(0)) {
      sizes.push(batch.images.shape[0]);
      assertEqual(batch.images.shape.slice(1), [3, 8, 8], 'image shape');
      const labels = await batch.labels.data();
      assertEqual(Array.from(labels), Array.from(batch.indices, (i) => host.labels[i]), 'labels follow indices');
      seen.push(...batch.indices);
      batch.images.dispose();
      batch.labels.dispose();
    }
    assertEqual(sizes, [64, 36], 'batch sizes');
    assertEqual(seen, Array.from(loader.order(0)), 'batches follow the order');
    assertEqual(new DataLoader(split, { batchSize: 64, dropLast: true }).batchesPerEpoch, 1, 'dropLast');
    // The study's sizes: 60,000 mod 64 = 32 and 10,000 mod 64 = 16.
    assertEqual([60_000 % 64, 10_000 % 64], [32, 16], 'remainders');
    split.dispose();
  },
});

cases.push({
  name: 'loader subset',
  run: () => {
    const host = randomSplit(200, 4);
    const subset = balancedSubset(host.labels, 3, 9);
    assertEqual(subset.length, 30, 'subset size');
    assertEqual(classCounts(Uint8Array.from(subset, (i) => host.labels[i])), new Array(10).fill(3), 'balanced');
    assertEqual(Array.from(balancedSubset(host.labels, 3, 9)), Array.from(subset), 'seeded');
    const split = DeviceSplit.upload(host);
    const loader = new DataLoader(split, { batchSize: 8, indices: subset, seed: 2 });
    assertEqual([loader.batchesPerEpoch, loader.length], [4, 30], 'batches over the subset');
    assertEqual(Array.from(loader.order(0)).sort((a, b) => a - b), Array.from(subset), 'order covers the subset');
    split.dispose();
  },
});

cases.push({
  name: 'noise statistics',
  run: async () => {
    // On zeros with std 0.1 the clamp at +-1 (10 std away) never triggers, so out = noise.
    const n = 1 << 16;
    const x = tensor(new Float32Array(n), [n]);
    const noisy = addGaussianNoise(x, 0.1, 1234);
    const values = await noisy.data();
    let sum = 0;
    let squares = 0;
    for (const v of values) sum += v;
    const mean = sum / n;
    for (const v of values) squares += (v - mean) ** 2;
    const std = Math.sqrt(squares / (n - 1));
    // Standard errors: 0.1 / sqrt(n) = 4e-4 for the mean, 0.1 / sqrt(2n) = 2.8e-4 for the std.
    assert(Math.abs(mean) < 2e-3, `noise mean ${mean}, expected 0 within 2e-3`);
    assert(Math.abs(std - 0.1) < 2e-3, `noise std ${std}, expected 0.1 within 2e-3`);
    let beyond2 = 0;
    for (const v of values) if (Math.abs(v) > 0.2) beyond2++;
    assert(Math.abs(beyond2 / n - 0.0455) < 0.005, `${beyond2 / n} of values beyond 2 std, expected 0.0455`);

    const same = await addGaussianNoise(x, 0.1, 1234).data();
    const other = await addGaussianNoise(x, 0.1, 1235).data();
    assertEqual(Array.from(same.subarray(0, 64)), Array.from(values.subarray(0, 64)), 'same seed, same noise');
    assert(Array.from(other.subarray(0, 64)).join() !== Array.from(values.subarray(0, 64)).join(), 'another seed, other noise');
  },
});

cases.push({
  name: 'noise clamps to [-1, 1]',
  run: async () => {
    const n = 4096;
    const x = tensor(Float32Array.from({ length: n }, (_, i) => (i % 2 ? 0.95 : -0.95)), [n]);
    const values = await addGaussianNoise(x, 0.5, 7).data();
    let atBound = 0;
    for (const v of values) {
      assert(v >= -1, `noisy value ${v} is below -1`);
      assert(v <= 1, `noisy value ${v} is above 1`);
      if (Math.abs(v) === 1) atBound++;
    }
    assert(atBound > n / 4, `${atBound} of ${n} values reached a bound; expected about ${Math.round(0.46 * n)}`);
    assertEqual(Array.from(await addGaussianNoise(x, 0, 7).data()), Array.from(await x.data()), 'std 0 leaves x unchanged');
    await assertThrows(() => addGaussianNoise(x, -1, 0), /std -1 must be a finite number >= 0/, 'negative std');
  },
});

cases.push({
  name: 'similarity matrix symmetric',
  run: async () => {
    const host = randomSplit(40, 6);
    const { matrix, pairs } = await classSimilarity(host, 56);
    for (let i = 0; i < 10; i++) {
      assertClose([matrix[i][i]], [10], `diagonal ${i}`, { atol: 1e-9, rtol: 0 });
      for (let j = 0; j < 10; j++) assertEqual(matrix[i][j], matrix[j][i], `matrix[${i}][${j}] vs [${j}][${i}]`);
    }
    assertEqual(pairs.length, 5, 'pairs');
    for (let k = 1; k < pairs.length; k++) assert(pairs[k - 1].similarity >= pairs[k].similarity, 'pairs sorted by similarity');
    assert(pairs[0].a < pairs[0].b, 'top pair lists the lower class index first');
    assert(pairs[0].similarity === matrix[pairs[0].a][pairs[0].b], 'top pair similarity matches the matrix');
  },
});

cases.push({
  name: 'cosine matrix and top pairs',
  run: () => {
    // Rows: e1, e1 + e2, e2, -e1: cos(e1, e1 + e2) = 1/sqrt(2), cos(e1, -e1) = -1.
    const matrix = scaledCosineMatrix([1, 0, 1, 1, 0, 1, -1, 0], 4);
    assertClose(matrix.flat(), [10, 10 / Math.SQRT2, 0, -10, 10 / Math.SQRT2, 10, 10 / Math.SQRT2, -10 / Math.SQRT2, 0, 10 / Math.SQRT2, 10, 0, -10, -10 / Math.SQRT2, 0, 10], 'matrix', { atol: 1e-12, rtol: 0 });
    const pairs = topPairs(matrix, 2);
    assertEqual(pairs.map((p) => [p.a, p.b]), [[0, 1], [1, 2]], 'top pairs');
    assertEqual(pairs[0].names, ['T-shirt/top', 'Trouser'], 'class names');
  },
});

cases.push({
  name: 'data overview',
  run: async () => {
    const overview = await dataOverview({ train: randomSplit(50, 10), test: randomSplit(20, 11), source: 'memory' }, { examplesPerClass: 2, size: 32 });
    assertEqual(overview.counts.train, new Array(10).fill(5), 'train counts');
    assertEqual(overview.counts.test, new Array(10).fill(2), 'test counts');
    assertEqual(overview.examples[3], [3, 13], 'examples of class 3');
    assertEqual(overview.classNames[9], 'Ankle boot', 'class name');
    assertEqual(overview.similarity.pairs.length, 5, 'pairs');
  },
});

cases.push({
  name: 'example grid layout',
  run: () => {
    const host = randomSplit(30, 8);
    const grid = exampleGrid(host, 3, 2);
    assertEqual([grid.width, grid.height], [3 * 28 + 4, 10 * 28 + 18], 'size');
    // Class 4, example 2 is dataset index 24; its pixel (5, 6) lands at row 4 * 30 + 5, column 2 * 30 + 6.
    assertEqual(grid.pixels[(4 * 30 + 5) * grid.width + 2 * 30 + 6], host.images[24 * 784 + 5 * 28 + 6], 'pixel');
    assertEqual(grid.pixels[28 * grid.width], 0, 'gap row is black');
  },
});

export default suite('data-transforms', cases);
