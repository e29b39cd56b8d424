// batchnorm2d: training and eval forward against float64 references (statistics, running
// updates, fused ReLU), stability on a channel with a large mean, channel views, and backward
// rules against finite differences and a float64 reference. The statistics passes have two
// variants (a workgroup or a thread per chunk); the cases that use them run with each.
import { getEngine, gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import { FeatureMap } from '../../src/autograd/ops/conv.ts';
import { assertClose, assertEqual } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';
import { STRATEGIES, withStrategy } from '../harness/variants.ts';
import { batchnormEvalRef, batchnormTrainGradRef, batchnormTrainRef } from '../reference/cnn.ts';



interface Params {
  gamma: Tensor;
  beta: Tensor;
  mean: Tensor;
  variance: Tensor;
  values: { gamma: Float64Array; beta: Float64Array; mean: Float64Array; variance: Float64Array };
}

function params(c: number, seed: number, requiresGrad = false): Params {
  const values = {
    gamma: f32(uniform(c, seed, 0.5, 1.5)),
    beta: f32(uniform(c, seed + 1, -0.5, 0.5)),
    mean: f32(uniform(c, seed + 2, -0.5, 0.5)),
    variance: f32(uniform(c, seed + 3, 0.5, 2)),
  };
  return {
    gamma: tensor(values.gamma, [c], { requiresGrad, name: 'gamma' }),
    beta: tensor(values.beta, [c], { requiresGrad, name: 'beta' }),
    mean: tensor(values.mean, [c], { name: 'running_mean' }),
    variance: tensor(values.variance, [c], { name: 'running_var' }),
    values,
  };
}

function disposeAll(p: Params, ...more: Tensor[]): void {
  for (const t of [p.gamma, p.beta, p.mean, p.variance, ...more]) {
    t.grad?.dispose();
    t.dispose();
  }
}

// [batch, channels, height, width]: batch 1, channels 1, 3, 5, 33, images 1x1 and 7x7, and
// 429 values per channel, which the serial variant splits into two chunks of 256 with the
// boundary inside an image.
const SHAPES = [
  [1, 1, 1, 2],
  [2, 5, 7, 7],
  [1, 33, 3, 3],
  [3, 3, 1, 1],
  [4, 1, 7, 7],
  [3, 2, 11, 13],
];

const cases: Case[] = [];

cases.push({
  name: 'training step on [4, 3, 4]',
  run: async () => {
    // Channel 0 of the four rows contains 1-4, 2-5, 3-6 and 4-7: mean 4, biased variance 2.5,
    // unbiased 2.6667. As [N, C, L] = [N, C, L, 1].
    const values: number[] = [];
    for (let n = 0; n < 4; n++) for (let c = 0; c < 3; c++) for (let l = 0; l < 4; l++) values.push(c === 0 ? n + l + 1 : (n * 7 + c * 3 + l * 5) % 11);
    const p = {
      gamma: tensor([1, 1, 1], [3]),
      beta: tensor([0, 0, 0], [3]),
      mean: tensor([0, 0, 0], [3]),
      variance: tensor([1, 1, 1], [3]),
    };
    const y = tidy(() => ops.batchNorm2d(tensor(values, [4, 3, 4]).view([4, 3, 4, 1]), p.gamma, p.beta, p.mean, p.variance, { training: true }));
    const out = await y.data();
    assertClose([out[0]], [-1.8974], 'first output', { atol: 1e-4, rtol: 0 });
    assertClose([(await p.mean.data())[0]], [0.4], 'running mean', { atol: 1e-6, rtol: 0 });
    assertClose([(await p.variance.data())[0]], [1.1667], 'running variance', { atol: 1e-4, rtol: 0 });
    const ref = batchnormTrainRef(values, 4, 3, 4, [1, 1, 1], [0, 0, 0], [0, 0, 0], [1, 1, 1]);
    assertClose(out, ref.y, 'output', { atol: 1e-5, rtol: 1e-5 });
    assertClose(await p.variance.data(), ref.runningVar, 'running variances', { atol: 1e-5, rtol: 1e-5 });
    for (const t of [y, p.gamma, p.beta, p.mean, p.variance]) t.dispose();
  },
});

for (const shape of SHAPES) {
  const [n, c, h, w] = shape;
  for (const relu of [false, true]) {
    for (const variant of STRATEGIES) {
      cases.push({
        name: `training forward [${shape}]${relu ? ' with ReLU' : ''}, ${variant}`,
        run: () => withStrategy(variant, async () => {
          const x = f32(uniform(n * c * h * w, n + c + h, -2, 3));
          const p = params(c, 5);
          const ref = batchnormTrainRef(x, n, c, h * w, p.values.gamma, p.values.beta, p.values.mean, p.values.variance, { relu });
          const y = tidy(() => ops.batchNorm2d(tensor(x, shape), p.gamma, p.beta, p.mean, p.variance, { training: true, relu }));
          assertClose(await y.data(), ref.y, 'output', { atol: 1e-5, rtol: 1e-4 });
          assertClose(await p.mean.data(), ref.runningMean, 'running mean', { atol: 1e-6, rtol: 1e-5 });
          assertClose(await p.variance.data(), ref.runningVar, 'running variance', { atol: 1e-6, rtol: 1e-5 });
          disposeAll(p, y);
        }),
      });
      cases.push({
        name: `training backward [${shape}]${relu ? ' with ReLU' : ''}, ${variant}`,
        run: () => withStrategy(variant, async () => {
          const xValues = f32(uniform(n * c * h * w, 3 * n + c, -2, 3));
          const dyValues = f32(uniform(n * c * h * w, 5 * n + h, -1, 1));
          const p = params(c, 7, true);
          const ref = batchnormTrainGradRef(xValues, dyValues, n, c, h * w, p.values.gamma, p.values.beta, { relu });
          const x = tensor(xValues, shape, { requiresGrad: true, name: 'x' });
          const y = ops.batchNorm2d(x, p.gamma, p.beta, p.mean, p.variance, { training: true, relu });
          const loss = tidy(() => ops.sum(ops.mul(y, tensor(dyValues, shape))));
          loss.backward();
          assertClose(await x.grad!.data(), ref.dx, 'dx', { atol: 1e-4, rtol: 1e-3 });
          assertClose(await p.gamma.grad!.data(), ref.dgamma, 'dgamma', { atol: 1e-4, rtol: 1e-3 });
          assertClose(await p.beta.grad!.data(), ref.dbeta, 'dbeta', { atol: 1e-4, rtol: 1e-3 });
          disposeAll(p, x, y, loss);
        }),
      });
    }
    cases.push({
      name: `eval forward [${shape}]${relu ? ' with ReLU' : ''}`,
      run: async () => {
        const x = f32(uniform(n * c * h * w, 2 * n + c, -2, 3));
        const p = params(c, 9);
        const y = tidy(() => ops.batchNorm2d(tensor(x, shape), p.gamma, p.beta, p.mean, p.variance, { training: false, relu }));
        const ref = batchnormEvalRef(x, n, c, h * w, p.values.gamma, p.values.beta, p.values.mean, p.values.variance, { relu });
        assertClose(await y.data(), ref, 'output', { atol: 1e-5, rtol: 1e-4 });
        assertClose(await p.mean.data(), p.values.mean, 'running mean unchanged', { atol: 0, rtol: 0 });
        disposeAll(p, y);
      },
    });
  }
}

for (const variant of STRATEGIES) {
cases.push({
  name: `statistics of a channel with a large mean, ${variant}`,
  run: () => withStrategy(variant, async () => {
    // 2 * 80 * 80 = 12800 values per channel, several chunks; mean 1000 and spread 1: a naive
    // E[x^2] - E[x]^2 in f32 loses every digit of the variance here.
    const shape = [2, 2, 80, 80];
    const x = f32(uniform(2 * 2 * 6400, 3, 999, 1001));
    const p = params(2, 1);
    const ref = batchnormTrainRef(x, 2, 2, 6400, p.values.gamma, p.values.beta, p.values.mean, p.values.variance);
    const y = tidy(() => ops.batchNorm2d(tensor(x, shape), p.gamma, p.beta, p.mean, p.variance, { training: true }));
    assertClose(await p.variance.data(), ref.runningVar, 'running variance', { atol: 0, rtol: 1e-4 });
    assertClose(await y.data(), ref.y, 'output', { atol: 1e-3, rtol: 1e-3 });
    disposeAll(p, y);
  }),
});
}

for (const variant of STRATEGIES) cases.push({
  name: `channel prefix in, slice of a map out, ${variant}`,
  run: () => withStrategy(variant, async () => {
    // Normalise channels [0, 3) of a [2, 5, 3, 3] map into channels [5, 8) of another map.
    const x = f32(uniform(2 * 5 * 9, 4, -1, 1));
    const prefix = new Float64Array(2 * 3 * 9);
    for (let n = 0; n < 2; n++) prefix.set(x.subarray(n * 45, n * 45 + 27), n * 27);
    const p = params(3, 2);
    const ref = batchnormTrainRef(prefix, 2, 3, 9, p.values.gamma, p.values.beta, p.values.mean, p.values.variance, { relu: true });
    const source = new FeatureMap([2, 5, 3, 3]);
    source.current.write(x);
    source.filled = 5;
    const target = new FeatureMap([2, 8, 3, 3]);
    target.filled = 5;
    const initial = target.current;
    const written = tidy(() => ops.batchNorm2d(source.prefix(3), p.gamma, p.beta, p.mean, p.variance, { training: true, relu: true, into: target }));
    assertEqual(target.filled, 8, 'channels filled');
    assertEqual(written === target.current, true, 'returns the new version');
    const out = await written.data();
    const slice = new Float64Array(2 * 27);
    for (let n = 0; n < 2; n++) slice.set(out.subarray(n * 72 + 45, n * 72 + 72), n * 27);
    assertClose(slice, ref.y, 'written slice', { atol: 1e-5, rtol: 1e-4 });
    disposeAll(p, source.current, initial, written);
  }),
});

for (const [training, relu, variant] of [[true, false, 'workgroup'], [true, true, 'workgroup'], [true, true, 'serial'], [false, true, 'workgroup'], [false, true, 'serial']] as const) {
  cases.push({
    name: `backward finite differences, ${training ? 'training' : 'eval'}${relu ? ' with ReLU' : ''}, ${variant}`,
    run: () => withStrategy(variant, async () => {
      // A small step crosses the ReLU's kink for few elements, and the tolerance absorbs them.
      // Keeping inputs away from the kink would need the forward output.
      const x = tensor(uniform(3 * 4 * 5, 11, -2, 2), [3, 4, 5, 1], { requiresGrad: true, name: 'x' });
      const p = params(4, 12, true);
      await gradcheck((xi, g, b) => ops.batchNorm2d(xi, g, b, p.mean, p.variance, { training, relu }), [x, p.gamma, p.beta], { eps: 1e-3, atol: 2e-2, rtol: 2e-2, maxElements: 24 });
      disposeAll(p, x);
    }),
  });
}

// The batchnorms that read one map's prefixes in training share its channels' statistics
// (ops/batchnorm.ts): each reads the partial statistics of channels that earlier ones computed
// and adds those of the channels written since. A channel has 429 values (3 images of 11x13),
// two chunks in the serial variant, with the boundary inside an image.
for (const variant of STRATEGIES) cases.push({
  name: `shared statistics of map prefixes, ${variant}`,
  run: () => withStrategy(variant, async () => {
    const [batch, channels, plane] = [3, 7, 11 * 13];
    const x = f32(uniform(batch * channels * plane, 21, -1, 1));
    const prefixOf = (count: number) => {
      const values = new Float64Array(batch * count * plane);
      for (let n = 0; n < batch; n++) values.set(x.subarray(n * channels * plane, (n * channels + count) * plane), n * count * plane);
      return values;
    };
    const engine = getEngine();

    // Channels are only read once written: 4 first, then all 7. The last read adds no channel,
    // so it runs no statistics pass, only the merge and the normalisation.
    const reads = [[4, 2], [4, 4], [7, 7], [7, 3]];
    const p = reads.map(([, count]) => params(count, 30 + count));
    const dispatches: number[] = [];
    const outputs = tidy(() => {
      const map = new FeatureMap([batch, channels, 11, 13]);
      map.current.write(x);
      return reads.map(([filled, count], i) => {
        map.filled = filled;
        const before = engine.stats().dispatches;
        const y = ops.batchNorm2d(map.prefix(count), p[i].gamma, p[i].beta, p[i].mean, p[i].variance, { training: true });
        dispatches.push(engine.stats().dispatches - before);
        return y;
      });
    });

    for (const [i, [, count]] of reads.entries()) {
      const { values } = p[i];
      const ref = batchnormTrainRef(prefixOf(count), batch, count, plane, values.gamma, values.beta, values.mean, values.variance);
      assertClose(await outputs[i].data(), ref.y, `y of prefix ${count}`, { atol: 1e-5, rtol: 1e-4 });
      assertClose(await p[i].mean.data(), ref.runningMean, `running mean of prefix ${count}`, { atol: 1e-6, rtol: 1e-5 });
      assertClose(await p[i].variance.data(), ref.runningVar, `running variance of prefix ${count}`, { atol: 1e-6, rtol: 1e-5 });
      disposeAll(p[i], outputs[i]);
    }
    assertEqual(dispatches[3], 2, 'dispatches of a read that adds no channel');
  }),
});

// Lowering `filled` means channels may be written again, so their shared statistics are
// dropped: after a rewind and new values, the next read must match the new values.
cases.push({
  name: 'map rewind drops shared statistics',
  run: async () => {
    const shape = [2, 4, 3, 3] as const;
    const first = f32(uniform(2 * 4 * 9, 40, -1, 1));
    const second = f32(uniform(2 * 4 * 9, 41, 3, 5));
    const p = params(4, 42);
    const y = tidy(() => {
      const map = new FeatureMap(shape);
      map.current.write(first);
      map.filled = 4;
      ops.batchNorm2d(map.prefix(), p.gamma, p.beta, p.mean, p.variance, { training: true });
      map.filled = 0;
      map.current.write(second);
      map.filled = 4;
      return ops.batchNorm2d(map.prefix(), p.gamma, p.beta, p.mean, p.variance, { momentum: 0, training: true });
    });
    const ref = batchnormTrainRef(second, 2, 4, 9, p.values.gamma, p.values.beta, p.values.mean, p.values.variance);
    assertClose(await y.data(), ref.y, 'y after the rewind', { atol: 1e-5, rtol: 1e-4 });
    disposeAll(p, y);
  },
});

// A map returned from its scope takes its tensors along, but not the shared statistics, which
// the scope frees. Later reads of the map compute their own statistics and leave nothing behind.
cases.push({
  name: 'map returned from its scope leaks nothing',
  run: async () => {
    const engine = getEngine();
    const x = f32(uniform(2 * 6 * 15, 43, -1, 1));
    const p = params(3, 44);
    const before = engine.stats().liveBytes;
    const map = tidy(() => {
      const m = new FeatureMap([2, 6, 3, 5]);
      m.current.write(x);
      m.filled = 3;
      ops.batchNorm2d(m.prefix(3), p.gamma, p.beta, p.mean, p.variance, { training: true }).dispose();
      return m;
    });
    map.filled = 6;
    const q = params(6, 45);
    const y = tidy(() => ops.batchNorm2d(map.prefix(), q.gamma, q.beta, q.mean, q.variance, { training: true }));
    const ref = batchnormTrainRef(x, 2, 6, 15, q.values.gamma, q.values.beta, q.values.mean, q.values.variance);
    assertClose(await y.data(), ref.y, 'y of a later read', { atol: 1e-5, rtol: 1e-4 });
    for (const t of [y, map.current]) t.dispose();
    disposeAll(q);
    assertEqual(engine.stats().liveBytes - before, 0, 'live bytes left');
    disposeAll(p);
  },
});

cases.push({
  name: 'backward into a map prefix, finite differences',
  run: async () => {
    // BN-ReLU reads channels [0, 3) of a map that a 1x1 conv filled; the conv's gradient comes
    // back through the map's gradient buffer.
    const x = tensor(uniform(2 * 2 * 9, 13, -1, 1), [2, 2, 3, 3], { requiresGrad: true, name: 'x' });
    const w = tensor(uniform(5 * 2, 14, -1, 1), [5, 2, 1, 1], { requiresGrad: true, name: 'w' });
    const p = params(3, 15, true);
    const fn = (xi: Tensor, wi: Tensor, g: Tensor, b: Tensor) => {
      const map = new FeatureMap([2, 5, 3, 3]);
      ops.conv2d(xi, wi, null, { into: map });
      return ops.batchNorm2d(map.prefix(3), g, b, p.mean, p.variance, { training: true });
    };
    await gradcheck(fn, [x, w, p.gamma, p.beta], { eps: 1e-3, atol: 2e-2, rtol: 2e-2, maxElements: 16 });
    disposeAll(p, x, w);
  },
});

export default suite('batchnorm', cases);
