// Seeded random tensors and dropout: Philox known answers, bit-exact agreement with the host
// reference, determinism, moments within tolerance, and dropout's mask, scaling and gradient.
import { gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import { assert, assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';
import { philox4x32, philoxUniform } from '../reference/philox.ts';

function moments(values: ArrayLike<number>): { mean: number; std: number } {
  let sum = 0;
  for (let i = 0; i < values.length; i++) sum += values[i];
  const mean = sum / values.length;
  let squares = 0;
  for (let i = 0; i < values.length; i++) squares += (values[i] - mean) ** 2;
  return { mean, std: Math.sqrt(squares / values.length) };
}

async function readAndDispose(t: Tensor): Promise<Float32Array> {
  const values = (await t.data()) as Float32Array;
  t.dispose();
  return values;
}

const cases: Case[] = [];

cases.push({
  name: 'philox reference known answers',
  run: () => {
    // Known-answer vectors of Random123 (kat_vectors, philox4x32 with 10 rounds).
    const hex = (words: number[]) => words.map((w) => w.toString(16).padStart(8, '0')).join(' ');
    assertEqual(hex(philox4x32([0, 0, 0, 0], [0, 0])), '6627e8d5 e169c58d bc57ac4c 9b00dbd8', 'zero counter and key');
    const ones = 0xffffffff;
    assertEqual(hex(philox4x32([ones, ones, ones, ones], [ones, ones])), '408f276d 41c83b0e a20bc7c6 6d5451fd', 'all-ones counter and key');
    const pi = philox4x32([0x243f6a88, 0x85a308d3, 0x13198a2e, 0x03707344], [0xa4093822, 0x299f31d0]);
    assertEqual(hex(pi), 'd16cfe09 94fdcceb 5001e420 24126ea1', 'digits of pi');
  },
});

for (const [n, seed] of [[1, 0], [3, 42], [5, 7], [257, 123456789], [1031, 2 ** 40 + 7]]) {
  cases.push({
    name: `randomUniform matches reference, ${n} values, seed ${seed}`,
    run: async () => {
      const values = await readAndDispose(ops.randomUniform([n], seed));
      // Bit-exact: u = k / 2^24 is exact in f32, so every adapter must produce these values.
      assertClose(values, philoxUniform(n, seed), 'uniform values', { atol: 0, rtol: 0 });
    },
  });
}

cases.push({
  name: 'random same seed, same tensor',
  run: async () => {
    const a = await readAndDispose(ops.randomNormal([3, 77], 99));
    const b = await readAndDispose(ops.randomNormal([3, 77], 99));
    const c = await readAndDispose(ops.randomNormal([3, 77], 100));
    assertClose(b, a, 'second draw with seed 99', { atol: 0, rtol: 0 });
    assert(a.some((v, i) => v !== c[i]), 'seeds 99 and 100 should give different tensors');
  },
});

cases.push({
  name: 'randomUniform moments',
  run: async () => {
    const n = 100_000;
    const unit = moments(await readAndDispose(ops.randomUniform([n], 1)));
    // Standard errors: 0.29 / sqrt(n) = 0.0009 for the mean; the bounds are about 10 of them.
    assertClose([unit.mean], [0.5], 'mean of U[0, 1)', { atol: 0.01, rtol: 0 });
    assertClose([unit.std], [Math.sqrt(1 / 12)], 'std of U[0, 1)', { atol: 0.005, rtol: 0 });

    const values = await readAndDispose(ops.randomUniform([n], 2, -2, 3));
    const scaled = moments(values);
    assertClose([scaled.mean], [0.5], 'mean of U[-2, 3)', { atol: 0.05, rtol: 0 });
    assertClose([scaled.std], [5 * Math.sqrt(1 / 12)], 'std of U[-2, 3)', { atol: 0.025, rtol: 0 });
    assert(values.every((v) => v >= -2 && v < 3), 'U[-2, 3) values outside the interval');
  },
});

cases.push({
  name: 'randomNormal moments',
  run: async () => {
    const n = 100_001;
    const values = await readAndDispose(ops.randomNormal([n], 3, 1.5, 2));
    assert(values.every(Number.isFinite), 'normal values should be finite');
    const m = moments(values);
    // Standard errors: 2 / sqrt(n) = 0.0063 for the mean, about 0.0045 for the std.
    assertClose([m.mean], [1.5], 'mean of N(1.5, 2^2)', { atol: 0.04, rtol: 0 });
    assertClose([m.std], [2], 'std of N(1.5, 2^2)', { atol: 0.03, rtol: 0 });
  },
});

cases.push({
  name: 'randomNormal matches Box-Muller reference',
  run: async () => {
    const n = 1030;
    const values = await readAndDispose(ops.randomNormal([n], 5, 0, 1));
    const expected = new Float64Array(n);
    for (let block = 0; block * 4 < n; block++) {
      const words = philox4x32([block, 0, 0, 0], [5, 0]);
      const u = words.map((w) => (w >>> 8) / 2 ** 24);
      const pairs = [[u[0] + 2 ** -24, u[1]], [u[2] + 2 ** -24, u[3]]];
      const z = pairs.flatMap(([u1, u2]) => {
        const radius = Math.sqrt(-2 * Math.log(u1));
        return [radius * Math.cos(2 * Math.PI * u2), radius * Math.sin(2 * Math.PI * u2)];
      });
      for (let j = 0; j < 4 && block * 4 + j < n; j++) expected[block * 4 + j] = z[j];
    }
    // log, sqrt, sin and cos are approximate in WGSL, so these agree only to a tolerance.
    assertClose(values, expected, 'normal values', { atol: 2e-4, rtol: 1e-3 });
  },
});

cases.push({
  name: 'random rejects bad arguments',
  run: async () => {
    await assertThrows(() => ops.randomUniform([2], -1), /seed -1 must be an integer in \[0, 2\^53\)/, 'negative seed');
    await assertThrows(() => ops.randomNormal([2], 1.5), /seed 1.5 must be an integer/, 'fractional seed');
    await assertThrows(() => ops.randomUniform([2], 1, 3, 2), /low 3 must not exceed high 2/, 'low above high');
    await assertThrows(() => ops.randomNormal([2], 1, 0, -1), /standard deviation -1 must be non-negative/, 'negative std');
  },
});

for (const [n, p] of [[1, 0.5], [13, 0.3], [1031, 0.5], [4096, 0.9]]) {
  cases.push({
    name: `dropout mask, ${n} values, p ${p}`,
    run: async () => {
      const x = Float32Array.from(uniform(n, n, 0.5, 2));
      const out = await readAndDispose(tidy(() => ops.dropout(tensor(x, [n]), p, 77, true)));
      const draws = philoxUniform(n, 77);
      const expected = Array.from(x, (v, i) => (draws[i] >= p ? v / (1 - p) : 0));
      assertClose(out, expected, 'dropout output', { atol: 1e-6, rtol: 1e-6 });
    },
  });
}

cases.push({
  name: 'dropout keeps 1 - p on average',
  run: async () => {
    const n = 100_000;
    const out = await readAndDispose(tidy(() => ops.dropout(ops.randomUniform([n], 8, 1, 2), 0.25, 9, true)));
    const kept = out.filter((v) => v !== 0).length / n;
    // Standard error sqrt(0.25 * 0.75 / n) = 0.0014.
    assertClose([kept], [0.75], 'fraction kept', { atol: 0.01, rtol: 0 });
    const m = moments(out);
    assertClose([m.mean], [1.5], 'mean after inverted scaling', { atol: 0.02, rtol: 0 });
  },
});

cases.push({
  name: 'dropout eval and edge probabilities',
  run: async () => {
    const values = uniform(10, 4);
    const x = tensor(values, [2, 5]);
    const evalOut = ops.dropout(x, 0.5, 1, false);
    assertClose(await evalOut.data(), Float32Array.from(values), 'eval is the identity', { atol: 0, rtol: 0 });
    const noDrop = ops.dropout(x, 0, 1, true);
    assertClose(await noDrop.data(), Float32Array.from(values), 'p = 0 is the identity', { atol: 0, rtol: 0 });
    const allDrop = ops.dropout(x, 1, 1, true);
    assertClose(await allDrop.data(), new Array(10).fill(0), 'p = 1 drops everything', { atol: 0, rtol: 0 });
    await assertThrows(() => ops.dropout(x, 1.5, 1, true), /probability 1.5 must be in \[0, 1\]/, 'p above 1');
    await assertThrows(() => ops.dropout(x, -0.1, 1, true), /probability -0.1 must be in \[0, 1\]/, 'negative p');
    for (const t of [x, evalOut, noDrop, allDrop]) t.dispose();
  },
});

cases.push({
  name: 'dropout backward',
  run: async () => {
    const x = tensor(uniform(37, 12), [37], { requiresGrad: true, name: 'x' });
    await gradcheck((t: Tensor) => ops.dropout(t, 0.4, 5, true), [x]);
    x.grad?.dispose();
    const evalX = tensor(uniform(5, 13), [5], { requiresGrad: true, name: 'evalX' });
    await gradcheck((t: Tensor) => ops.mul(ops.dropout(t, 0.4, 5, false), t), [evalX]);
    evalX.grad?.dispose();
    x.dispose();
    evalX.dispose();
  },
});

export default suite('random', cases);
