// LayerNorm over the last axis: forward and all three gradients against float64 references,
// rows with a large mean, and finite differences. The row passes have two variants (a
// workgroup or a thread per row); the reference cases run with each.
import { gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import { assertClose, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';
import * as ref from '../reference/transformer.ts';
import { STRATEGIES, withStrategy } from '../harness/variants.ts';

// Shapes: one feature, primes, just under and over the 64- and 128-thread rows, ViT rows
// ([B, 197, 128]), and row counts around the 64-row chunks of the parameter gradient.
const SHAPES: number[][] = [[1, 1], [3, 7], [63], [5, 65], [2, 3, 128], [129, 129], [2, 197, 128], [1, 300]];
const EPS = 1e-5;

async function compareWithReference(shape: number[], seed: number, offset: number): Promise<void> {
  const features = shape[shape.length - 1];
  const n = shape.reduce((a, b) => a * b, 1);
  const x = f32(uniform(n, seed, offset - 2, offset + 2));
  const w = f32(uniform(features, seed + 1, 0.5, 1.5));
  const b = f32(uniform(features, seed + 2, -1, 1));
  const dy = f32(uniform(n, seed + 3, -1, 1));
  const expected = ref.layerNorm(x, w, b, features, EPS, dy);

  const xt = tensor(x, shape, { requiresGrad: true, name: 'x' });
  const wt = tensor(w, [features], { requiresGrad: true, name: 'weight' });
  const bt = tensor(b, [features], { requiresGrad: true, name: 'bias' });
  const dyt = tensor(dy, shape, { name: 'dy' });
  try {
    const y = tidy(() => {
      const out = ops.layerNorm(xt, wt, bt, EPS);
      out.backward(dyt);
      return out;
    });
    const label = `layerNorm [${shape}] around ${offset}`;
    // The same tolerance at every offset: the kernel centres each row on its first element,
    // so a large mean costs no precision.
    const atol = 2e-5;
    assertClose(await y.data(), expected.y, `${label} y`, { atol, rtol: 1e-5 });
    assertClose(await xt.grad!.data(), expected.dx, `${label} dx`, { atol: 5 * atol, rtol: 1e-4 });
    assertClose(await wt.grad!.data(), expected.dweight, `${label} dweight`, { atol: 1e-4 * Math.sqrt(n / features), rtol: 1e-4 });
    assertClose(await bt.grad!.data(), expected.dbias, `${label} dbias`, { atol: 1e-4 * Math.sqrt(n / features), rtol: 1e-4 });
    y.dispose();
  } finally {
    for (const t of [xt, wt, bt, dyt]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}

const cases: Case[] = [];

for (const strategy of STRATEGIES) {
  for (const [index, shape] of SHAPES.entries()) {
    cases.push({ name: `forward and backward, [${shape}], ${strategy}`, run: () => withStrategy(strategy, () => compareWithReference(shape, 10 + index, 0)) });
  }
  cases.push({ name: `large mean 1e4, [4, 128], ${strategy}`, run: () => withStrategy(strategy, () => compareWithReference([4, 128], 40, 1e4)) });
  cases.push({ name: `large mean -3e3, [3, 65], ${strategy}`, run: () => withStrategy(strategy, () => compareWithReference([3, 65], 41, -3e3)) });
}

cases.push({
  name: 'finite differences, [3, 5]',
  run: async () => {
    const x = tensor(uniform(15, 50, -2, 2), [3, 5], { requiresGrad: true, name: 'x' });
    const w = tensor(uniform(5, 51, 0.5, 1.5), [5], { requiresGrad: true, name: 'weight' });
    const b = tensor(uniform(5, 52, -1, 1), [5], { requiresGrad: true, name: 'bias' });
    try {
      await gradcheck((xi: Tensor, wi: Tensor, bi: Tensor) => ops.layerNorm(xi, wi, bi), [x, w, b], { eps: 1e-2, atol: 1e-2, rtol: 2e-2 });
    } finally {
      for (const t of [x, w, b]) {
        t.grad?.dispose();
        t.dispose();
      }
    }
  },
});

cases.push({
  name: 'rejects mismatched weight',
  run: async () => {
    const x = tensor(uniform(12, 60), [3, 4], { name: 'x' });
    const w = tensor(uniform(5, 61), [5], { name: 'weight' });
    const b = tensor(uniform(4, 62), [4], { name: 'bias' });
    try {
      await assertThrows(() => ops.layerNorm(x, w, b), /weight \[5\] does not match the last dimension of input \[3, 4\]/, 'layerNorm shape check');
    } finally {
      for (const t of [x, w, b]) t.dispose();
    }
  },
});

export default suite('layernorm', cases);
