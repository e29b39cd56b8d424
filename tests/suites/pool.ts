// Pooling: max 3x3 stride 2 padding 1, average 2x2 stride 2 and global average, forward
// against float64 references on awkward shapes, writing into a feature map, and backward
// rules against finite differences.
import { gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import { FeatureMap } from '../../src/autograd/ops/conv.ts';
import { assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';
import { poolRef } from '../reference/cnn.ts';

const MAX = { kernel: 3, stride: 2, padding: 1 };
const AVG = { kernel: 2, stride: 2, padding: 0 };

const cases: Case[] = [];

for (const shape of [[1, 1, 1, 1], [2, 3, 7, 7], [1, 5, 8, 9], [1, 33, 2, 3]]) {
  const [n, c, h, w] = shape;
  cases.push({
    name: `max 3x3/2/1 forward [${shape}]`,
    run: async () => {
      const x = f32(uniform(n * c * h * w, h * w + c, -1, 1));
      const y = tidy(() => ops.maxPool2d(tensor(x, shape), MAX));
      assertClose(await y.data(), poolRef('max', x, n * c, h, w, 3, 2, 1), 'max pool', { atol: 0, rtol: 0 });
      y.dispose();
    },
  });
}

for (const shape of [[1, 1, 2, 2], [2, 3, 7, 7], [1, 33, 4, 5], [3, 5, 1, 3]]) {
  const [n, c, h, w] = shape;
  const fits = h >= 2 && w >= 2;
  cases.push({
    name: `avg 2x2/2 forward [${shape}]`,
    run: async () => {
      const x = f32(uniform(n * c * h * w, h * w + 2 * c, -1, 1));
      if (!fits) {
        await assertThrows(() => tidy(() => ops.avgPool2d(tensor(x, shape), AVG)), /does not fit input/, 'window larger than input');
        return;
      }
      const y = tidy(() => ops.avgPool2d(tensor(x, shape), AVG));
      assertClose(await y.data(), poolRef('avg', x, n * c, h, w, 2, 2, 0), 'avg pool', { atol: 1e-6, rtol: 1e-6 });
      y.dispose();
    },
  });
}

for (const shape of [[1, 1, 1, 1], [2, 5, 7, 7], [3, 33, 2, 3]]) {
  const [n, c, h, w] = shape;
  cases.push({
    name: `global average forward [${shape}]`,
    run: async () => {
      const x = f32(uniform(n * c * h * w, 3 * c, -1, 1));
      const y = tidy(() => ops.globalAvgPool2d(tensor(x, shape)));
      assertEqual(y.shape, [n, c], 'shape');
      const ref = new Float64Array(n * c);
      for (let i = 0; i < n * c; i++) for (let p = 0; p < h * w; p++) ref[i] += x[i * h * w + p] / (h * w);
      assertClose(await y.data(), ref, 'global pool', { atol: 1e-6, rtol: 1e-5 });
      y.dispose();
    },
  });
}

cases.push({
  name: 'avg pool into a feature map',
  run: async () => {
    // A transition's pool writes the first 3 channels of the next block's [2, 7, 2, 2] map.
    const x = f32(uniform(2 * 3 * 16, 8, -1, 1));
    const map = new FeatureMap([2, 7, 2, 2]);
    const initial = map.current;
    const y = tidy(() => ops.avgPool2d(tensor(x, [2, 3, 4, 4]), { ...AVG, into: map }));
    assertEqual(map.filled, 3, 'channels filled');
    const out = await y.data();
    const ref = poolRef('avg', x, 6, 4, 4, 2, 2, 0);
    const slice = new Float64Array(24);
    for (let n = 0; n < 2; n++) slice.set(out.subarray(n * 28, n * 28 + 12), n * 12);
    assertClose(slice, ref, 'written channels', { atol: 1e-6, rtol: 1e-6 });
    initial.dispose();
    y.dispose();
  },
});

const GRADS: [string, (x: Tensor) => Tensor, number[]][] = [
  ['max 3x3/2/1', (x) => ops.maxPool2d(x, MAX), [2, 3, 7, 6]],
  ['avg 2x2/2', (x) => ops.avgPool2d(x, AVG), [2, 3, 5, 4]],
  ['global average', (x) => ops.globalAvgPool2d(x), [2, 3, 3, 2]],
];

for (const [name, fn, shape] of GRADS) {
  cases.push({
    name: `${name} backward, finite differences`,
    run: async () => {
      // Distinct values spaced wider than the step, so max pooling has no near-ties.
      const size = shape.reduce((a, b) => a * b, 1);
      const values = Array.from({ length: size }, (_, i) => ((i * 37) % size) / size - 0.5);
      const x = tensor(values, shape, { requiresGrad: true, name: 'x' });
      await gradcheck(fn, [x], { eps: 1e-3, maxElements: 40 });
      x.grad?.dispose();
      x.dispose();
    },
  });
}

cases.push({
  name: 'pooling into a map, backward through the map',
  run: async () => {
    // Stem: max pool writes the map's first 3 channels; a 1x1 conv reads them and writes 2 more;
    // global pooling reads the whole map.
    const x = tensor(Array.from({ length: 2 * 3 * 36 }, (_, i) => ((i * 53) % 216) / 216 - 0.5), [2, 3, 6, 6], { requiresGrad: true, name: 'x' });
    const w = tensor(uniform(2 * 3, 9, -1, 1), [2, 3, 1, 1], { requiresGrad: true, name: 'w' });
    const fn = (xi: Tensor, wi: Tensor) => {
      const map = new FeatureMap([2, 5, 3, 3]);
      ops.maxPool2d(xi, { ...MAX, into: map });
      ops.conv2d(map.prefix(), wi, null, { into: map });
      return ops.globalAvgPool2d(map.prefix());
    };
    await gradcheck(fn, [x, w], { eps: 1e-3, maxElements: 30 });
    for (const t of [x, w]) {
      t.grad?.dispose();
      t.dispose();
    }
  },
});

export default suite('pool', cases);
