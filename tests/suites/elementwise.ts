// Elementwise ops with broadcasting: forward against float64 references, backward against
// finite differences.
import { gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import { assertClose } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';

function erf(x: number): number {
  // Series for small |x|, continued fraction tail otherwise: float64-accurate for the reference.
  const t = Math.abs(x);
  if (t < 3) {
    let sum = t;
    let term = t;
    for (let n = 1; n < 60; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 60; n >= 1; n--) f = (n / 2) / (t + f);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
}

const UNARY: [string, (x: Tensor) => Tensor, (x: number) => number, [number, number]][] = [
  ['neg', ops.neg, (x) => -x, [-3, 3]],
  ['exp', ops.exp, Math.exp, [-5, 5]],
  ['log', ops.log, Math.log, [0.1, 5]],
  ['sqrt', ops.sqrt, Math.sqrt, [0.1, 5]],
  ['relu', ops.relu, (x) => Math.max(x, 0), [-3, 3]],
  ['gelu', ops.gelu, (x) => 0.5 * x * (1 + erf(x / Math.SQRT2)), [-5, 5]],
  ['sigmoid', ops.sigmoid, (x) => 1 / (1 + Math.exp(-x)), [-30, 30]],
  ['tanh', ops.tanh, Math.tanh, [-20, 20]],
];

const BINARY: [string, (a: Tensor, b: Tensor) => Tensor, (a: number, b: number) => number][] = [
  ['add', ops.add, (a, b) => a + b],
  ['sub', ops.sub, (a, b) => a - b],
  ['mul', ops.mul, (a, b) => a * b],
  ['div', ops.div, (a, b) => a / b],
];

// Shapes: size 1, primes, around the workgroup size of 256, and broadcasts of every kind.
const SIZES = [1, 7, 255, 256, 257, 1031];
const BROADCASTS: [number[], number[]][] = [
  [[5, 7], [5, 7]],
  [[5, 7], [7]],
  [[5, 7], [5, 1]],
  [[1, 7], [5, 1]],
  [[3, 1, 5], [4, 1]],
  [[2, 3, 4, 5], [1]],
  [[1], [3, 257]],
];

function broadcastRef(a: Float64Array, aShape: number[], b: Float64Array, bShape: number[], fn: (x: number, y: number) => number): { values: Float64Array; shape: number[] } {
  const rank = Math.max(aShape.length, bShape.length);
  const pa = [...new Array(rank - aShape.length).fill(1), ...aShape];
  const pb = [...new Array(rank - bShape.length).fill(1), ...bShape];
  const shape = pa.map((d, i) => Math.max(d, pb[i]));
  const n = shape.reduce((x, y) => x * y, 1);
  const values = new Float64Array(n);
  for (let i = 0; i < n; i++) {
    let rest = i;
    let ia = 0;
    let ib = 0;
    let sa = 1;
    let sb = 1;
    for (let d = rank - 1; d >= 0; d--) {
      const c = rest % shape[d];
      rest = Math.floor(rest / shape[d]);
      if (pa[d] !== 1) ia += c * sa;
      if (pb[d] !== 1) ib += c * sb;
      sa *= pa[d];
      sb *= pb[d];
    }
    values[i] = fn(a[ia], b[ib]);
  }
  return { values, shape };
}

const cases: Case[] = [];

for (const [name, op, ref, [low, high]] of UNARY) {
  for (const n of SIZES) {
    cases.push({
      name: `${name} forward, size ${n}`,
      run: async () => {
        const x = f32(uniform(n, n + 1, low, high));
        const out = tidy(() => op(tensor(x, [n])));
        assertClose(await out.data(), Array.from(x, ref), `${name}(${n})`, { atol: 1e-6, rtol: 2e-6 * 10 });
        out.dispose();
      },
    });
  }
  cases.push({
    name: `${name} backward, finite differences`,
    run: async () => {
      // Keep inputs away from kinks (relu at 0) where finite differences are undefined.
      const values = Array.from(uniform(13, 99, low, high), (v) => (name === 'relu' && Math.abs(v) < 0.05 ? v + 0.1 : v));
      const x = tensor(values, [13], { requiresGrad: true, name: 'x' });
      const scaleDown = name === 'exp' || name === 'tanh' || name === 'sigmoid';
      await gradcheck(op, [x], { eps: scaleDown ? 1e-3 : 1e-2, atol: 2e-2, rtol: 2e-2 });
      x.grad?.dispose();
      x.dispose();
    },
  });
}

for (const [name, op, ref] of BINARY) {
  for (const [aShape, bShape] of BROADCASTS) {
    const label = `[${aShape}] and [${bShape}]`;
    cases.push({
      name: `${name} forward, ${label}`,
      run: async () => {
        const na = aShape.reduce((x, y) => x * y, 1);
        const nb = bShape.reduce((x, y) => x * y, 1);
        const a = f32(uniform(na, 3, -2, 2));
        // Divisors stay away from zero.
        const b = f32(Array.from(uniform(nb, 4, 0.5, 2), (v, i) => (i % 2 ? v : -v)));
        const expected = broadcastRef(a, aShape, b, bShape, ref);
        const out = tidy(() => op(tensor(a, aShape), tensor(b, bShape)));
        assertClose(out.shape, expected.shape, `${name} shape`, { atol: 0, rtol: 0 });
        assertClose(await out.data(), expected.values, `${name} ${label}`, { atol: 1e-6, rtol: 1e-6 });
        out.dispose();
      },
    });
    cases.push({
      name: `${name} backward, ${label}`,
      run: async () => {
        const na = aShape.reduce((x, y) => x * y, 1);
        const nb = bShape.reduce((x, y) => x * y, 1);
        const a = tensor(uniform(na, 5, -2, 2), aShape, { requiresGrad: true, name: 'a' });
        const b = tensor(Array.from(uniform(nb, 6, 0.5, 2), (v, i) => (i % 2 ? v : -v)), bShape, { requiresGrad: true, name: 'b' });
        await gradcheck(op, [a, b], { maxElements: 24 });
        for (const t of [a, b]) {
          t.grad?.dispose();
          t.dispose();
        }
      },
    });
  }
}

cases.push({
  name: 'pow with negative bases',
  run: async () => {
    const x = [-2, -1.5, -0.5, 0, 0.5, 3];
    for (const p of [2, 3, 0, -1]) {
      // 0^-1 is infinite, which assertClose cannot compare.
      const bases = p < 0 ? x.filter((v) => v !== 0) : x;
      const out = tidy(() => ops.pow(tensor(bases, [bases.length]), p));
      assertClose(await out.data(), bases.map((v) => v ** p), `x^${p}`, { atol: 1e-6, rtol: 1e-5 });
      out.dispose();
    }
    const fractional = tidy(() => ops.pow(tensor([-2], [1]), 0.5));
    const [value] = await fractional.data();
    fractional.dispose();
    if (!Number.isNaN(value)) throw new Error(`(-2)^0.5 should be NaN, got ${value}`);
  },
});

cases.push({
  name: 'pow backward, negative bases',
  run: async () => {
    const x = tensor([-1.7, -0.6, 0.4, 1.3], [4], { requiresGrad: true, name: 'x' });
    await gradcheck((t: Tensor) => ops.pow(t, 3), [x]);
    x.grad?.dispose();
    x.dispose();
  },
});

export default suite('elementwise', cases);
