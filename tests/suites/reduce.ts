// sum, mean and max over chosen axes: forward against a float64 reference on awkward shapes,
// ties in max, and backward rules against finite differences. The shapes cover size 1, primes,
// rows just under and over the 64- and 256-thread workgroups, inner, outer and several axes,
// and keepDims. The reduce kernel has two variants (a workgroup or a thread per output
// element), and every case runs with each.
import { gradcheck, ops, tensor, tidy } from '../../src/index.ts';
import { assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';
import { STRATEGIES, withStrategy } from '../harness/variants.ts';

type Op = 'sum' | 'mean' | 'max';

/** Reduces x of `shape` over `axes` in float64; returns the values and the shape with keepDims. */
function reduceRef(op: Op, x: ArrayLike<number>, shape: number[], axes: number[]): { values: Float64Array; keptShape: number[] } {
  const keptShape = shape.map((d, i) => (axes.includes(i) ? 1 : d));
  const size = keptShape.reduce((a, b) => a * b, 1);
  const values = new Float64Array(size).fill(op === 'max' ? -Infinity : 0);
  const counts = axes.reduce((n, i) => n * shape[i], 1);
  const coordinate = new Array<number>(shape.length).fill(0);
  for (let i = 0; i < x.length; i++) {
    let rest = i;
    for (let d = shape.length - 1; d >= 0; d--) {
      coordinate[d] = rest % shape[d];
      rest = Math.floor(rest / shape[d]);
    }
    let out = 0;
    for (let d = 0; d < shape.length; d++) out = out * keptShape[d] + (axes.includes(d) ? 0 : coordinate[d]);
    values[out] = op === 'max' ? Math.max(values[out], x[i]) : values[out] + x[i];
  }
  if (op === 'mean') for (let i = 0; i < size; i++) values[i] /= counts;
  return { values, keptShape };
}

// [shape, axes]: one element, a prime row, rows of 63, 64, 65, 255, 256 and 257 values, the
// outer axis of a matrix (bias gradients), a middle axis, two axes, negative and all axes.
// Neighbouring reduced axes merge into one strided axis; [0, 2] and [0, 2, 3] keep a gap.
const CASES: [number[], number[] | undefined][] = [
  [[1], [0]],
  [[7, 13], [1]],
  [[3, 63], [1]],
  [[2, 64], [-1]],
  [[5, 65], [1]],
  [[2, 255], [1]],
  [[3, 256], [1]],
  [[2, 257], [1]],
  [[257, 5], [0]],
  [[3, 17, 7], [1]],
  [[4, 9, 5], [0, 1]],
  [[2, 3, 4, 5], [0, 2, 3]],
  [[3, 4, 5], [0, 2]],
  [[2, 3, 4, 5], [1, 2]],
  [[6, 11], undefined],
  [[1000], undefined],
];

const cases: Case[] = [];

for (const strategy of STRATEGIES) {
  for (const [index, [shape, axes]] of CASES.entries()) {
    cases.push({
      name: `forward [${shape}] over ${axes ? `[${axes}]` : 'all'}, ${strategy}`,
      run: () => withStrategy(strategy, async () => {
        const n = shape.reduce((a, b) => a * b, 1);
        const x = f32(uniform(n, 20 + index, -3, 3));
        const normalized = (axes ?? shape.map((_, i) => i)).map((a) => (a < 0 ? a + shape.length : a));
        for (const op of ['sum', 'mean', 'max'] as const) {
          const expected = reduceRef(op, x, shape, normalized);
          const [dropped, kept] = tidy(() => {
            const xt = tensor(x, shape);
            return [ops[op](xt, axes), ops[op](xt, axes, true)];
          });
          assertEqual(kept.shape, expected.keptShape, `${op} shape with keepDims`);
          assertEqual(dropped.shape, expected.keptShape.filter((_, i) => !normalized.includes(i)), `${op} shape`);
          const tolerance = { atol: 1e-5 * Math.sqrt(n), rtol: 1e-5 };
          assertClose(await dropped.data(), expected.values, op, tolerance);
          assertClose(await kept.data(), expected.values, `${op} with keepDims`, tolerance);
          dropped.dispose();
          kept.dispose();
        }
      }),
    });
  }

  cases.push({
    name: `max gradient shared by ties, ${strategy}`,
    run: () => withStrategy(strategy, async () => {
      // Row 0 has its maximum 2 twice: each copy receives half of the output gradient.
      const x = tensor([2, 1, 2, -1, 0, 3], [2, 3], { requiresGrad: true, name: 'x' });
      tidy(() => ops.sum(ops.max(x, 1)).backward());
      assertClose(await x.grad!.data(), [0.5, 0, 0.5, 0, 0, 1], 'gradient', { atol: 0, rtol: 0 });
      x.grad!.dispose();
      x.dispose();
    }),
  });

  for (const op of ['sum', 'mean', 'max'] as const) {
    cases.push({
      name: `${op} backward, finite differences, ${strategy}`,
      run: () => withStrategy(strategy, async () => {
        // Distinct values keep max away from ties, where it has no derivative.
        const values = Array.from({ length: 3 * 4 * 5 }, (_, i) => ((i * 37) % 60) / 20 - 1.5);
        const x = tensor(values, [3, 4, 5], { requiresGrad: true, name: 'x' });
        await gradcheck((xi) => ops.mul(ops[op](xi, [0, 2]), tensor([1, -2, 3, 0.5], [4])), [x], { maxElements: 24 });
        x.grad?.dispose();
        x.dispose();
      }),
    });
  }
}

cases.push({
  name: 'long reductions keep precision',
  run: async () => {
    // 20,000 values in [0, 1) per row, past the serial variant's limit: with the adapter's own
    // choice of variant, each row sum stays within 1e-5 of the float64 sum.
    const x = f32(uniform(3 * 20000, 77, 0, 1));
    const expected = reduceRef('sum', x, [3, 20000], [1]).values;
    const y = tidy(() => ops.sum(tensor(x, [3, 20000]), 1));
    assertClose(await y.data(), expected, 'row sums', { atol: 0, rtol: 1e-5 });
    y.dispose();
  },
});

cases.push({
  name: 'rejects a repeated or out-of-range axis',
  run: async () => {
    const x = tensor(uniform(6, 1), [2, 3], { name: 'x' });
    await assertThrows(() => ops.sum(x, [1, 1]), /repeated axis in \[1, 1\]/, 'repeated axis');
    await assertThrows(() => ops.mean(x, 2), /axis 2 is out of range for shape \[2, 3\]/, 'axis out of range');
    x.dispose();
  },
});

export default suite('reduce', cases);
