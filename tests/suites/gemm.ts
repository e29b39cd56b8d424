// GEMM: every variant against a float64 reference on awkward shapes, gemmInto on slices of
// larger buffers, and the backward rules of matmul and linear against finite differences.
import { gradcheck, ops, tensor, tidy } from '../../src/index.ts';
import { GEMM_VARIANTS, gemm, gemmInto, setGemmVariant, type GemmVariant } from '../../src/kernels/gemm.ts';
import { Linear } from '../../src/nn/layers/linear.ts';
import { Generator } from '../../src/nn/init.ts';
import { assert, assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';

const VARIANTS = Object.keys(GEMM_VARIANTS) as GemmVariant[];

interface Problem {
  m: number;
  n: number;
  k: number;
  batch: number;
  transA: boolean;
  transB: boolean;
  /** Whether A or B is shared by every batch entry (stored as one matrix). */
  broadcastA?: boolean;
  broadcastB?: boolean;
}

/** float64 reference of op(A) op(B) for stored row-major operands, [batch, M, N]. */
function referenceGemm(a: Float64Array, b: Float64Array, p: Problem): Float64Array {
  const { m, n, k, batch } = p;
  const c = new Float64Array(batch * m * n);
  const aStride = p.broadcastA ? 0 : m * k;
  const bStride = p.broadcastB ? 0 : k * n;
  const row = new Float64Array(k);
  for (let t = 0; t < batch; t++) {
    const ab = t * aStride;
    const bb = t * bStride;
    for (let i = 0; i < m; i++) {
      for (let kk = 0; kk < k; kk++) row[kk] = a[ab + (p.transA ? kk * m + i : i * k + kk)];
      for (let j = 0; j < n; j++) {
        let sum = 0;
        if (p.transB) for (let kk = 0; kk < k; kk++) sum += row[kk] * b[bb + j * k + kk];
        else for (let kk = 0; kk < k; kk++) sum += row[kk] * b[bb + kk * n + j];
        c[(t * m + i) * n + j] = sum;
      }
    }
  }
  return c;
}

/** Tolerance for sums of K products of values in [-1, 1], whose f32 error grows with K. */
function tolerance(k: number): { atol: number; rtol: number } {
  return { atol: 1e-6 * (k + 1), rtol: 1e-5 };
}

function label(p: Problem): string {
  const trans = `${p.transA ? 'T' : 'N'}${p.transB ? 'T' : 'N'}`;
  let shared = '';
  if (p.broadcastA) shared = ', shared A';
  else if (p.broadcastB) shared = ', shared B';
  return `M=${p.m} N=${p.n} K=${p.k} batch=${p.batch} ${trans}${shared}`;
}

// Inputs and references are computed once per problem and shared by every variant.
const references = new Map<string, { a: Float64Array; b: Float64Array; c: Float64Array }>();

function inputsFor(p: Problem): { a: Float64Array; b: Float64Array; c: Float64Array } {
  const key = label(p);
  let entry = references.get(key);
  if (!entry) {
    const a = f32(uniform((p.broadcastA ? 1 : p.batch) * p.m * p.k, p.m * 31 + p.k, -1, 1));
    const b = f32(uniform((p.broadcastB ? 1 : p.batch) * p.k * p.n, p.n * 17 + p.k + 5, -1, 1));
    entry = { a, b, c: referenceGemm(a, b, p) };
    references.set(key, entry);
  }
  return entry;
}

async function checkProblem(p: Problem, variant: GemmVariant): Promise<void> {
  const { a, b, c } = inputsFor(p);
  const aShape = p.transA ? [p.k, p.m] : [p.m, p.k];
  const bShape = p.transB ? [p.n, p.k] : [p.k, p.n];
  const out = tidy(() =>
    gemm(
      tensor(a, p.broadcastA ? aShape : [p.batch, ...aShape], { name: 'a' }),
      tensor(b, p.broadcastB ? bShape : [p.batch, ...bShape], { name: 'b' }),
      { transA: p.transA, transB: p.transB, variant },
    ),
  );
  assertEqual(out.shape, [p.batch, p.m, p.n], `${variant} ${label(p)} shape`);
  assertClose(await out.data(), c, `${variant} ${label(p)}`, tolerance(p.k));
  out.dispose();
}

const TRANSPOSES: [boolean, boolean][] = [[false, false], [false, true], [true, false], [true, true]];

/** The shared problem list every variant must pass. */
function problems(): Problem[] {
  const list: Problem[] = [];
  // Rows around 64 and 512 with K of 1 and 1024, batch 8. The transposes rotate over the rows,
  // so that each K meets every combination while the suite stays small.
  const rows = [1, 63, 64, 65, 499, 500, 513];
  for (const k of [1, 1024]) {
    rows.forEach((m, i) => {
      const [transA, transB] = TRANSPOSES[(i + (k > 1 ? 2 : 0)) % 4];
      list.push({ m, n: 33, k, batch: 8, transA, transB });
    });
  }
  // Every transpose combination on one awkward shape.
  for (const [transA, transB] of TRANSPOSES) list.push({ m: 37, n: 29, k: 67, batch: 3, transA, transB });
  // Single elements, vectors and K = 0 (C is then zero).
  list.push({ m: 1, n: 1, k: 1, batch: 1, transA: false, transB: false });
  list.push({ m: 1, n: 257, k: 131, batch: 2, transA: false, transB: true });
  list.push({ m: 1, n: 257, k: 131, batch: 2, transA: true, transB: false });
  list.push({ m: 131, n: 1, k: 67, batch: 2, transA: false, transB: false });
  list.push({ m: 5, n: 7, k: 0, batch: 2, transA: false, transB: false });
  // Sizes just under and over every variant's tiles, in M, N and K.
  const tileSizes = new Set<string>();
  for (const config of Object.values(GEMM_VARIANTS)) {
    const tileM = config.wgY * config.tm;
    const tileN = config.wgX * config.tn;
    tileSizes.add(`${tileM},${tileN},${config.tileK}`);
  }
  for (const entry of tileSizes) {
    const [tileM, tileN, tileK] = entry.split(',').map(Number);
    for (const d of [-1, 1]) {
      list.push({ m: Math.max(1, tileM + d), n: Math.max(1, tileN - d), k: tileK + d, batch: 2, transA: d > 0, transB: false });
      list.push({ m: 2 * tileM + d, n: 2 * tileN + d, k: 2 * tileK - d, batch: 1, transA: false, transB: d > 0 });
    }
  }
  // A or B shared by the batch (stride 0), with and without transposes.
  list.push({ m: 45, n: 33, k: 70, batch: 4, transA: false, transB: false, broadcastB: true });
  list.push({ m: 45, n: 33, k: 70, batch: 4, transA: true, transB: true, broadcastB: true });
  list.push({ m: 45, n: 33, k: 70, batch: 4, transA: false, transB: true, broadcastA: true });
  list.push({ m: 45, n: 33, k: 70, batch: 4, transA: true, transB: false, broadcastA: true });
  return list;
}

const cases: Case[] = [];

for (const variant of VARIANTS) {
  for (const p of problems()) {
    cases.push({ name: `${variant} ${label(p)}`, run: () => checkProblem(p, variant), timeout: 120 });
  }

  cases.push({
    name: `${variant} gemmInto slices, alpha and beta`,
    run: async () => {
      // C's slice: rows of ldc = 40 starting at column 3, batch entries 300 elements apart, in
      // a buffer prefilled with ones; beta = 1 adds to them, and everything else stays 1.
      const [m, n, k, batch] = [9, 33, 21, 3];
      const [lda, ldb, ldc] = [k + 5, n + 2, 40];
      const [aOffset, bOffset, cOffset] = [7, 11, 3];
      const [aStride, bStride, cStride] = [m * lda + 4, 0, 300];
      const aValues = f32(uniform(aOffset + (batch - 1) * aStride + m * lda, 41));
      const bValues = f32(uniform(bOffset + k * ldb, 42));
      const cSize = cOffset + (batch - 1) * cStride + m * ldc + 10;
      const alpha = 0.5;
      const expected = new Float64Array(cSize).fill(1);
      for (let t = 0; t < batch; t++) {
        for (let i = 0; i < m; i++) {
          for (let j = 0; j < n; j++) {
            let sum = 0;
            for (let kk = 0; kk < k; kk++) sum += aValues[aOffset + t * aStride + i * lda + kk] * bValues[bOffset + kk * ldb + j];
            expected[cOffset + t * cStride + i * ldc + j] += alpha * sum;
          }
        }
      }
      const a = tensor(aValues, [aValues.length], { name: 'a' });
      const b = tensor(bValues, [bValues.length], { name: 'b' });
      const c = tensor(new Float32Array(cSize).fill(1), [cSize], { name: 'c' });
      gemmInto({
        a, b, c, m, n, k, batch, lda, ldb, ldc, aOffset, bOffset, cOffset,
        aBatchStride: aStride, bBatchStride: bStride, cBatchStride: cStride, alpha, beta: 1, variant,
      });
      assertClose(await c.data(), expected, `${variant} gemmInto`, tolerance(k));
      for (const t of [a, b, c]) t.dispose();
    },
  });

  cases.push({
    name: `${variant} bias and beta`,
    run: async () => {
      const [m, n, k] = [19, 23, 17];
      const a = f32(uniform(m * k, 51));
      const b = f32(uniform(n * k, 52));
      const bias = f32(uniform(n + 2, 53));
      const c0 = f32(uniform(m * n, 54));
      const product = referenceGemm(a, b, { m, n, k, batch: 1, transA: false, transB: true });
      const expected = product.map((v, i) => 2 * v + bias[2 + (i % n)] - 0.5 * c0[i]);
      const [ta, tb, tbias, tc] = [tensor(a, [m, k]), tensor(b, [n, k]), tensor(bias, [n + 2]), tensor(c0, [m, n])];
      gemmInto({ a: ta, b: tb, c: tc, m, n, k, transB: true, alpha: 2, beta: -0.5, bias: tbias, biasOffset: 2, variant });
      assertClose(await tc.data(), expected, `${variant} bias`, tolerance(k));
      for (const t of [ta, tb, tbias, tc]) t.dispose();
    },
  });

  // Folding a grid over maxComputeWorkgroupsPerDimension is code every variant shares
  // (tile_of in the shader). The tiled variant skips this case because 70,000 of its
  // 256-thread workgroups take minutes on a CPU adapter.
  if (variant !== 'tiled') cases.push({
    name: `${variant} grid over the dimension limit`,
    run: async () => {
      // 70,000 one-element products need more workgroups than one grid dimension may hold.
      const batch = 70_000;
      const a = f32(uniform(batch * 2, 61));
      const b = f32(uniform(batch * 2, 62));
      const expected = Array.from({ length: batch }, (_, t) => a[2 * t] * b[2 * t] + a[2 * t + 1] * b[2 * t + 1]);
      const out = tidy(() => gemm(tensor(a, [batch, 1, 2]), tensor(b, [batch, 2, 1]), { variant }));
      assertClose(await out.data(), expected, `${variant} batch ${batch}`, tolerance(2));
      out.dispose();
    },
  });
}

cases.push({
  name: 'forced variant restores',
  run: async () => {
    const previous = setGemmVariant('dot');
    try {
      const out = tidy(() => gemm(tensor([1, 2, 3, 4], [2, 2]), tensor([1, 0, 0, 1], [2, 2])));
      assertClose(await out.data(), [1, 2, 3, 4], 'identity product');
      out.dispose();
    } finally {
      setGemmVariant(previous);
    }
    await assertThrows(() => setGemmVariant('fast' as GemmVariant), /unknown variant "fast"/, 'unknown variant');
  },
});

cases.push({
  name: 'shape errors name both shapes',
  run: async () => {
    const a = tensor(new Float32Array(6), [2, 3], { name: 'a' });
    const b = tensor(new Float32Array(8), [4, 2], { name: 'b' });
    await assertThrows(() => gemm(a, b), /inner dimensions differ for A \[2, 3\] and B \[4, 2\]/, 'inner mismatch');
    await assertThrows(
      () => gemmInto({ a, b, c: b, m: 2, n: 2, k: 4 }),
      /A \(a \[2, 3\], 6 elements\) is too small/,
      'out of bounds',
    );
    const c = tensor(new Float32Array(12), [3, 2, 2], { name: 'c' });
    const d = tensor(new Float32Array(12), [2, 2, 3], { name: 'd' });
    await assertThrows(() => gemm(c, d), /batch dimensions of A \[3, 2, 2\] and B \[2, 2, 3\] differ/, 'batch mismatch');
    for (const t of [a, b, c, d]) t.dispose();
  },
});

// ---- autograd ----------------------------------------------------------------------------------

for (const [transA, transB] of TRANSPOSES) {
  cases.push({
    name: `matmul backward ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`,
    run: async () => {
      const [m, n, k] = [5, 4, 6];
      const a = tensor(uniform(2 * m * k, 71), transA ? [2, k, m] : [2, m, k], { requiresGrad: true, name: 'a' });
      const b = tensor(uniform(2 * k * n, 72), transB ? [2, n, k] : [2, k, n], { requiresGrad: true, name: 'b' });
      await gradcheck((x, y) => ops.matmul(x, y, { transA, transB }), [a, b], { maxElements: 30 });
      for (const t of [a, b]) {
        t.grad?.dispose();
        t.dispose();
      }
    },
  });
}

for (const [shared, transA, transB] of [['A', false, false], ['B', false, false], ['B', true, true], ['A', true, false]] as const) {
  cases.push({
    name: `matmul backward, shared ${shared} ${transA ? 'T' : 'N'}${transB ? 'T' : 'N'}`,
    run: async () => {
      const [m, n, k, batch] = [3, 5, 4, 3];
      const aShape = transA ? [k, m] : [m, k];
      const bShape = transB ? [n, k] : [k, n];
      const a = tensor(uniform((shared === 'A' ? 1 : batch) * m * k, 73), shared === 'A' ? aShape : [batch, ...aShape], { requiresGrad: true, name: 'a' });
      const b = tensor(uniform((shared === 'B' ? 1 : batch) * k * n, 74), shared === 'B' ? bShape : [batch, ...bShape], { requiresGrad: true, name: 'b' });
      await gradcheck((x, y) => ops.matmul(x, y, { transA, transB }), [a, b], { maxElements: 30 });
      for (const t of [a, b]) {
        t.grad?.dispose();
        t.dispose();
      }
    },
  });
}

cases.push({
  name: 'linear forward matches reference',
  run: async () => {
    const [rows, inF, outF] = [7, 13, 5];
    const x = f32(uniform(rows * inF, 81));
    const w = f32(uniform(outF * inF, 82));
    const bias = f32(uniform(outF, 83));
    const product = referenceGemm(x, w, { m: rows, n: outF, k: inF, batch: 1, transA: false, transB: true });
    const out = tidy(() => ops.linear(tensor(x, [rows, inF]), tensor(w, [outF, inF]), tensor(bias, [outF])));
    assertEqual(out.shape, [rows, outF], 'linear shape');
    assertClose(await out.data(), product.map((v, i) => v + bias[i % outF]), 'linear', tolerance(inF));
    out.dispose();
  },
});

cases.push({
  name: 'linear backward with bias',
  run: async () => {
    // x has two leading dimensions, so the bias gradient sums over both.
    const x = tensor(uniform(2 * 3 * 6, 91), [2, 3, 6], { requiresGrad: true, name: 'x' });
    const w = tensor(uniform(4 * 6, 92), [4, 6], { requiresGrad: true, name: 'weight' });
    const bias = tensor(uniform(4, 93), [4], { requiresGrad: true, name: 'bias' });
    await gradcheck((a, b, c) => ops.linear(a, b, c), [x, w, bias], { maxElements: 30 });
    for (const t of [x, w, bias]) {
      t.grad?.dispose();
      t.dispose();
    }
  },
});

cases.push({
  name: 'linear backward without bias',
  run: async () => {
    const x = tensor(uniform(5 * 3, 94), [5, 3], { requiresGrad: true, name: 'x' });
    const w = tensor(uniform(2 * 3, 95), [2, 3], { requiresGrad: true, name: 'weight' });
    await gradcheck((a, b) => ops.linear(a, b), [x, w]);
    for (const t of [x, w]) {
      t.grad?.dispose();
      t.dispose();
    }
  },
});

cases.push({
  name: 'linear shape errors',
  run: async () => {
    const x = tensor(new Float32Array(6), [2, 3], { name: 'x' });
    const w = tensor(new Float32Array(8), [2, 4], { name: 'weight' });
    await assertThrows(() => ops.linear(x, w), /input x \[2, 3\] does not match weight weight \[2, 4\]/, 'in features');
    x.dispose();
    w.dispose();
  },
});

cases.push({
  name: 'Linear module parameters and init',
  run: async () => {
    const layer = new Linear(50, 7, { gen: new Generator(3), name: 'fc' });
    assertEqual(layer.namedParameters().map(([name, t]) => [name, t.shape]), [['weight', [7, 50]], ['bias', [7]]], 'parameters');
    // PyTorch's default bound is 1/sqrt(in_features) for weight and bias alike.
    const bound = 1 / Math.sqrt(50);
    for (const t of [layer.weight, layer.bias!]) {
      const values = await t.data();
      assert(values.every((v) => Math.abs(v) <= bound), `${t.name} exceeds the init bound ${bound}`);
      assert(values.some((v) => Math.abs(v) > bound / 2), `${t.name} looks unscaled: all values under half the bound`);
    }
    const out = tidy(() => layer.forward(tensor(uniform(3 * 50, 96), [3, 50])));
    assertEqual(out.shape, [3, 7], 'forward shape');
    out.dispose();
    const noBias = new Linear(4, 2, { bias: false });
    assertEqual(noBias.namedParameters().map(([name]) => name), ['weight'], 'no bias');
    layer.dispose();
    noBias.dispose();
  },
});

export default suite('gemm', cases);
