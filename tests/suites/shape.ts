// Shape ops: reshape, permute, transpose, slice and concat against host references, their
// backward rules against finite differences, and the messages for bad arguments.
import { gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import { assert, assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';

function sizeOfShape(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

function stridesOf(shape: readonly number[]): number[] {
  const strides: number[] = [];
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

/** Visits every coordinate of `shape` in row-major order. */
function forEachIndex(shape: readonly number[], fn: (coords: number[], flat: number) => void): void {
  const n = sizeOfShape(shape);
  const coords = new Array<number>(shape.length).fill(0);
  for (let flat = 0; flat < n; flat++) {
    let rest = flat;
    for (let d = shape.length - 1; d >= 0; d--) {
      coords[d] = rest % shape[d];
      rest = Math.floor(rest / shape[d]);
    }
    fn(coords, flat);
  }
}

function permuteRef(x: ArrayLike<number>, shape: number[], dims: number[]): number[] {
  const outShape = dims.map((d) => shape[d]);
  const xStrides = stridesOf(shape);
  const out: number[] = [];
  forEachIndex(outShape, (c) => out.push(x[c.reduce((sum, v, i) => sum + v * xStrides[dims[i]], 0)]));
  return out;
}

function sliceRef(x: ArrayLike<number>, shape: number[], starts: number[], sizes: number[]): number[] {
  const xStrides = stridesOf(shape);
  const out: number[] = [];
  forEachIndex(sizes, (c) => out.push(x[c.reduce((sum, v, i) => sum + (v + starts[i]) * xStrides[i], 0)]));
  return out;
}

function concatRef(parts: { values: ArrayLike<number>; shape: number[] }[], axis: number): number[] {
  const outShape = [...parts[0].shape];
  outShape[axis] = parts.reduce((sum, p) => sum + p.shape[axis], 0);
  const out: number[] = [];
  forEachIndex(outShape, (c) => {
    let k = 0;
    let along = c[axis];
    while (along >= parts[k].shape[axis]) along -= parts[k++].shape[axis];
    const local = c.map((v, i) => (i === axis ? along : v));
    const strides = stridesOf(parts[k].shape);
    out.push(parts[k].values[local.reduce((sum, v, i) => sum + v * strides[i], 0)]);
  });
  return out;
}

const cases: Case[] = [];

cases.push({
  name: 'reshape shares storage',
  run: async () => {
    const values = uniform(24, 1);
    const x = tensor(values, [2, 3, 4]);
    const y = ops.reshape(x, [4, -1]);
    assertEqual(y.shape, [4, 6], 'reshape with -1');
    assert(y.storage === x.storage, 'reshape should return a view of the same storage');
    assertClose(await y.data(), Float32Array.from(values), 'reshape values', { atol: 0, rtol: 0 });
    const z = ops.reshape(x, [24]);
    assertEqual(z.shape, [24], 'flatten');
    for (const t of [x, y, z]) t.dispose();
  },
});

cases.push({
  name: 'reshape rejects bad shapes',
  run: async () => {
    const x = tensor(uniform(6, 1), [2, 3], { name: 'x' });
    await assertThrows(() => ops.reshape(x, [4, 2]), /cannot reshape x \[2, 3\] \(6 elements\) to \[4, 2\]/, 'size mismatch');
    await assertThrows(() => ops.reshape(x, [-1, -1]), /more than one -1/, 'two -1');
    await assertThrows(() => ops.reshape(x, [4, -1]), /cannot reshape x \[2, 3\]/, '-1 that does not divide');
    x.dispose();
  },
});

const PERMUTES: [number[], number[]][] = [
  [[1], [0]],
  [[3, 5], [1, 0]],
  [[2, 3, 4], [2, 0, 1]],
  [[2, 3, 4], [0, 2, 1]],
  [[2, 1, 3, 5], [3, 1, 0, 2]],
  [[17, 19], [1, 0]],
  [[2, 3, 4], [0, 1, 2]],
];

for (const [shape, dims] of PERMUTES) {
  cases.push({
    name: `permute [${shape}] by [${dims}]`,
    run: async () => {
      const values = uniform(sizeOfShape(shape), 3);
      const out = tidy(() => ops.permute(tensor(values, shape), dims));
      assertEqual(out.shape, dims.map((d) => shape[d]), 'permute shape');
      assertClose(await out.data(), permuteRef(Float32Array.from(values), shape, dims), 'permute values', { atol: 0, rtol: 0 });
      out.dispose();
    },
  });
}

cases.push({
  name: 'permute backward',
  run: async () => {
    const x = tensor(uniform(24, 4), [2, 3, 4], { requiresGrad: true, name: 'x' });
    await gradcheck((t: Tensor) => ops.permute(t, [2, 0, 1]), [x]);
    x.grad?.dispose();
    x.dispose();
  },
});

cases.push({
  name: 'transpose negative axes',
  run: async () => {
    const values = uniform(30, 5);
    const out = tidy(() => ops.transpose(tensor(values, [2, 3, 5]), -1, 0));
    assertEqual(out.shape, [5, 3, 2], 'transpose shape');
    assertClose(await out.data(), permuteRef(Float32Array.from(values), [2, 3, 5], [2, 1, 0]), 'transpose values', { atol: 0, rtol: 0 });
    out.dispose();
  },
});

cases.push({
  name: 'permute i32 tensor',
  run: async () => {
    const out = tidy(() => ops.permute(tensor([1, 2, 3, 4, 5, 6], [2, 3], { dtype: 'i32' }), [1, 0]));
    assertEqual(out.dtype, 'i32', 'dtype');
    assertEqual(Array.from(await out.data()), [1, 4, 2, 5, 3, 6], 'values');
    out.dispose();
  },
});

cases.push({
  name: 'permute rejects bad dims',
  run: async () => {
    const x = tensor(uniform(6, 1), [2, 3], { name: 'x' });
    await assertThrows(() => ops.permute(x, [0]), /dims \[0\] must list each of the 2 axes of x \[2, 3\]/, 'too few dims');
    await assertThrows(() => ops.permute(x, [1, 1]), /repeat an axis/, 'repeated axis');
    await assertThrows(() => ops.permute(x, [0, 2]), /axis 2 is out of range for shape \[2, 3\]/, 'axis out of range');
    x.dispose();
  },
});

const SLICES: [number[], number[], number[]][] = [
  [[7], [2], [3]],
  [[7], [0], [7]],
  [[5, 4], [1, 0], [2, 4]],
  [[5, 4], [1, 1], [3, 2]],
  [[3, 5, 7], [1, 2, 3], [2, -1, 4]],
  [[2, 3, 257], [0, 1, 128], [2, 1, 129]],
  [[4, 4], [4, 0], [0, 4]],
  // Rows long enough to go through one buffer copy per row.
  [[3, 5000], [0, 100], [3, 4100]],
];

for (const [shape, starts, sizes] of SLICES) {
  cases.push({
    name: `slice [${shape}] at [${starts}] size [${sizes}]`,
    run: async () => {
      const values = uniform(sizeOfShape(shape), 6);
      const resolved = sizes.map((s, i) => (s === -1 ? shape[i] - starts[i] : s));
      const out = tidy(() => ops.slice(tensor(values, shape), starts, sizes));
      assertEqual(out.shape, resolved, 'slice shape');
      assertClose(await out.data(), sliceRef(Float32Array.from(values), shape, starts, resolved), 'slice values', { atol: 0, rtol: 0 });
      out.dispose();
    },
  });
}

cases.push({
  name: 'slice backward',
  run: async () => {
    const x = tensor(uniform(105, 7), [3, 5, 7], { requiresGrad: true, name: 'x' });
    await gradcheck((t: Tensor) => ops.slice(t, [1, 2, 3], [2, -1, 4]), [x], { maxElements: 40 });
    x.grad?.dispose();
    x.dispose();
  },
});

cases.push({
  name: 'slice rejects bad bounds',
  run: async () => {
    const x = tensor(uniform(20, 1), [5, 4], { name: 'x' });
    await assertThrows(() => ops.slice(x, [3, 0], [3, 4]), /starts \[3, 0\] with sizes \[3, 4\] exceed x \[5, 4\] on axis 0/, 'past the end');
    await assertThrows(() => ops.slice(x, [0], [1]), /need one entry per axis of x \[5, 4\]/, 'rank');
    await assertThrows(() => ops.slice(x, [-1, 0], [1, 1]), /exceed x \[5, 4\] on axis 0/, 'negative start');
    x.dispose();
  },
});

const CONCATS: [number[][], number][] = [
  [[[3], [4]], 0],
  [[[2, 3], [4, 3], [1, 3]], 0],
  [[[2, 3], [2, 5]], 1],
  [[[2, 3], [2, 5]], -1],
  [[[2, 1, 4], [2, 3, 4], [2, 2, 4]], 1],
  [[[3, 2, 2], [3, 2, 7]], 2],
  [[[2, 3, 0], [2, 3, 5]], 2],
  [[[2, 3, 40, 40], [2, 2, 40, 40]], 1],
];

for (const [shapes, axis] of CONCATS) {
  cases.push({
    name: `concat ${shapes.map((s) => `[${s}]`).join(' ')} on ${axis}`,
    run: async () => {
      const parts = shapes.map((shape, k) => ({ values: Float32Array.from(uniform(sizeOfShape(shape), 10 + k)), shape }));
      const a = axis < 0 ? axis + shapes[0].length : axis;
      const out = tidy(() => ops.concat(parts.map((p) => tensor(p.values, p.shape)), axis));
      const expectedShape = [...shapes[0]];
      expectedShape[a] = shapes.reduce((sum, s) => sum + s[a], 0);
      assertEqual(out.shape, expectedShape, 'concat shape');
      assertClose(await out.data(), concatRef(parts, a), 'concat values', { atol: 0, rtol: 0 });
      out.dispose();
    },
  });
}

cases.push({
  name: 'concat backward',
  run: async () => {
    const a = tensor(uniform(6, 8), [2, 3], { requiresGrad: true, name: 'a' });
    const b = tensor(uniform(10, 9), [2, 5], { requiresGrad: true, name: 'b' });
    const c = tensor(uniform(2, 10), [2, 1], { name: 'c' });
    await gradcheck((x: Tensor, y: Tensor, z: Tensor) => ops.concat([x, y, z], 1), [a, b, c]);
    assert(c.grad === null, 'an input without requiresGrad gets no gradient');
    for (const t of [a, b, c]) {
      t.grad?.dispose();
      t.dispose();
    }
  },
});

cases.push({
  name: 'concat rejects mismatched shapes',
  run: async () => {
    const a = tensor(uniform(6, 1), [2, 3], { name: 'a' });
    const b = tensor(uniform(8, 1), [4, 2], { name: 'b' });
    await assertThrows(() => ops.concat([a, b], 0), /b \[4, 2\] \(input 1\) does not match a \[2, 3\] \(input 0\) outside axis 0/, 'mismatch');
    await assertThrows(() => ops.concat([a, b], 2), /axis 2 is out of range for shape \[2, 3\]/, 'axis');
    await assertThrows(() => ops.concat([], 0), /at least one tensor/, 'empty list');
    a.dispose();
    b.dispose();
  },
});

cases.push({
  name: 'reshape backward',
  run: async () => {
    const x = tensor(uniform(12, 12), [3, 4], { requiresGrad: true, name: 'x' });
    await gradcheck((t: Tensor) => ops.mul(ops.reshape(t, [2, 6]), ops.reshape(t, [2, 6])), [x]);
    x.grad?.dispose();
    x.dispose();
  },
});

export default suite('shape', cases);
