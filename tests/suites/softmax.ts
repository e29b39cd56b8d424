// Softmax, log-softmax and cross-entropy: forward against float64 references, extreme logits,
// backward against finite differences, and label validation.
import { gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import { assert, assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';

/** float64 softmax (or log-softmax) over the last axis of a row-major [rows, cols] array. */
function softmaxRef(x: ArrayLike<number>, cols: number, log: boolean): Float64Array {
  const out = new Float64Array(x.length);
  for (let base = 0; base < x.length; base += cols) {
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, x[base + j]);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += Math.exp(x[base + j] - max);
    for (let j = 0; j < cols; j++) {
      out[base + j] = log ? x[base + j] - max - Math.log(sum) : Math.exp(x[base + j] - max) / sum;
    }
  }
  return out;
}

/** float64 per-row cross-entropy. */
function crossEntropyRef(x: ArrayLike<number>, labels: ArrayLike<number>, cols: number): Float64Array {
  const logp = softmaxRef(x, cols, true);
  return Float64Array.from(labels, (label, i) => -logp[i * cols + label]);
}

function labelsFor(rows: number, cols: number, seed: number): Int32Array {
  return Int32Array.from(uniform(rows, seed, 0, cols), (v) => Math.min(cols - 1, Math.floor(v)));
}

function sizeOfShape(shape: number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

// Row lengths: 1, primes, and just under, at and over the workgroup sizes 64 and 256.
const SHAPES: number[][] = [[1, 1], [3, 1], [1, 2], [4, 7], [2, 13], [3, 63], [2, 64], [2, 65], [2, 255], [2, 256], [3, 257], [1, 1031], [2, 3, 5], [11]];

const cases: Case[] = [];

for (const log of [false, true]) {
  const name = log ? 'logSoftmax' : 'softmax';
  const op = log ? ops.logSoftmax : ops.softmax;

  for (const shape of SHAPES) {
    cases.push({
      name: `${name} forward, [${shape}]`,
      run: async () => {
        const n = sizeOfShape(shape);
        const x = f32(uniform(n, n + 3, -8, 8));
        const out = tidy(() => op(tensor(x, shape)));
        assertEqual(out.shape, shape, `${name} shape`);
        assertClose(await out.data(), softmaxRef(x, shape[shape.length - 1], log), `${name} [${shape}]`, { atol: 2e-6, rtol: 1e-5 });
        out.dispose();
      },
    });
  }

  cases.push({
    name: `${name} extreme logits`,
    run: async () => {
      const lowest = -3.4028234663852886e38;
      const rows = [[-100, -100], [100, 100], [-1000, 1000], [lowest, lowest]];
      const out = tidy(() => op(tensor(rows.flat(), [4, 2])));
      const values = await out.data();
      out.dispose();
      assert(values.every((v) => !Number.isNaN(v)), `${name} of extreme rows contains NaN: [${Array.from(values)}]`);
      const probabilities = [[0.5, 0.5], [0.5, 0.5], [0, 1], [0.5, 0.5]];
      const expected = log ? probabilities.flat().map((p, i) => (i === 4 ? -2000 : Math.log(p))) : probabilities.flat();
      for (let r = 0; r < rows.length; r++) {
        assertClose(values.slice(2 * r, 2 * r + 2), expected.slice(2 * r, 2 * r + 2), `${name} of row [${rows[r]}]`, { atol: 1e-6, rtol: 1e-6 });
      }
    },
  });

  for (const shape of [[3, 5], [2, 70], [2, 3, 4]]) {
    cases.push({
      name: `${name} backward, [${shape}]`,
      run: async () => {
        const x = tensor(uniform(sizeOfShape(shape), 21, -3, 3), shape, { requiresGrad: true, name: 'x' });
        await gradcheck(op, [x], { eps: 1e-2, atol: 1e-2, rtol: 2e-2, maxElements: 32 });
        x.grad?.dispose();
        x.dispose();
      },
    });
  }
}

const CE_SHAPES: [number, number][] = [[1, 1], [1, 10], [4, 10], [5, 3], [3, 257], [2, 1031], [67, 7]];

for (const [rows, cols] of CE_SHAPES) {
  for (const reduction of ['mean', 'sum', 'none'] as const) {
    cases.push({
      name: `crossEntropy ${reduction} forward, [${rows}, ${cols}]`,
      run: async () => {
        const x = f32(uniform(rows * cols, rows + cols, -6, 6));
        const labels = labelsFor(rows, cols, cols);
        const perRow = crossEntropyRef(x, labels, cols);
        const total = perRow.reduce((a, b) => a + b, 0);
        let expected: ArrayLike<number> = perRow;
        if (reduction === 'sum') expected = [total];
        if (reduction === 'mean') expected = [total / rows];
        const out = tidy(() => ops.crossEntropy(tensor(x, [rows, cols]), tensor(labels, [rows], { dtype: 'i32' }), { reduction }));
        assertEqual(out.shape, reduction === 'none' ? [rows] : [], 'crossEntropy shape');
        assertClose(await out.data(), expected, `crossEntropy ${reduction} [${rows}, ${cols}]`, { atol: 1e-5, rtol: 1e-5 });
        out.dispose();
      },
    });
  }
}

for (const reduction of ['mean', 'sum', 'none'] as const) {
  cases.push({
    name: `crossEntropy ${reduction} backward`,
    run: async () => {
      const [rows, cols] = [4, 7];
      const labels = labelsFor(rows, cols, 5);
      const x = tensor(uniform(rows * cols, 31, -3, 3), [rows, cols], { requiresGrad: true, name: 'logits' });
      await gradcheck((logits: Tensor) => ops.crossEntropy(logits, labels, { reduction }), [x], { eps: 1e-2, atol: 1e-2, rtol: 2e-2 });
      x.grad?.dispose();
      x.dispose();
    },
  });
}

cases.push({
  name: 'crossEntropy gradient is softmax minus onehot',
  run: async () => {
    const [rows, cols] = [3, 300];
    const values = f32(uniform(rows * cols, 41, -5, 5));
    const labels = [0, 299, 150];
    const x = tensor(values, [rows, cols], { requiresGrad: true, name: 'logits' });
    tidy(() => ops.crossEntropy(x, labels).backward());
    const expected = softmaxRef(values, cols, false).map((p, i) => (p - (labels[Math.floor(i / cols)] === i % cols ? 1 : 0)) / rows);
    assertClose(await x.grad!.data(), expected, 'dlogits', { atol: 1e-7, rtol: 1e-5 });
    x.grad!.dispose();
    x.dispose();
  },
});

cases.push({
  name: 'crossEntropy extreme logits',
  run: async () => {
    const out = tidy(() => ops.crossEntropy(tensor([-1000, 1000, -1000, 1000], [2, 2]), [1, 0], { reduction: 'none' }));
    assertClose(await out.data(), [0, 2000], 'losses of [-1000, 1000]', { atol: 1e-6, rtol: 1e-6 });
    out.dispose();
  },
});

cases.push({
  name: 'crossEntropy rejects host labels',
  run: async () => {
    const logits = tensor(uniform(6, 1), [2, 3]);
    await assertThrows(() => ops.crossEntropy(logits, [0, 3]), /label 3 at index 1 is out of range for 3 classes/, 'label = classes');
    await assertThrows(() => ops.crossEntropy(logits, [-1, 0]), /label -1 at index 0 is out of range/, 'negative label');
    await assertThrows(() => ops.crossEntropy(logits, [0.5, 0]), /label 0.5 at index 0/, 'fractional label');
    await assertThrows(() => ops.crossEntropy(logits, [0, 1, 2]), /3 labels do not match logits \[2, 3\]/, 'label count');
    logits.dispose();
  },
});

cases.push({
  name: 'crossEntropy rejects shapes',
  run: async () => {
    const logits = tensor(uniform(6, 1), [2, 3]);
    const labels = tensor([0, 1, 2], [3], { dtype: 'i32', name: 'labels' });
    const floatLabels = tensor([0, 1], [2], { name: 'floatLabels' });
    await assertThrows(() => ops.crossEntropy(logits, labels), /labels \[3\] do not match logits \[2, 3\]/, 'label shape');
    await assertThrows(() => ops.crossEntropy(logits, floatLabels), /labels must be i32; floatLabels is f32/, 'label dtype');
    const flat = logits.view([6]);
    await assertThrows(() => ops.crossEntropy(flat, [0]), /logits must be f32 \[batch, classes\]; got f32 \[6\]/, 'logits rank');
    for (const t of [logits, flat, labels, floatLabels]) t.dispose();
  },
});

cases.push({
  name: 'crossEntropy device label out of range',
  run: async () => {
    // Labels already on the GPU are not read back; the kernel marks the bad row with NaN.
    const labels = tensor([1, 7], [2], { dtype: 'i32' });
    const out = tidy(() => ops.crossEntropy(tensor([0, 0, 0, 0], [2, 2]), labels, { reduction: 'none' }));
    const values = await out.data();
    assertClose([values[0]], [Math.LN2], 'valid row', { atol: 1e-6 });
    assert(Number.isNaN(values[1]), `row with label 7 of 2 classes should be NaN, got ${values[1]}`);
    out.dispose();
    labels.dispose();
  },
});

export default suite('softmax', cases);
