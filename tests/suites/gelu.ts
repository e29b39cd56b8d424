// GELU in its exact erf form against a float64 erf, and its gradient against the float64
// derivative and finite differences.
import { gradcheck, ops, tensor, tidy } from '../../src/index.ts';
import { assertClose } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';
import * as ref from '../reference/transformer.ts';

const cases: Case[] = [];

// Ranges: the transition near 0, the tails where GELU goes to 0 and to x.
const RANGES: [number, number][] = [[-1, 1], [-4, 4], [-10, -3], [3, 10]];

for (const [low, high] of RANGES) {
  cases.push({
    name: `forward, [${low}, ${high}]`,
    run: async () => {
      const x = f32(uniform(1031, 70 + low, low, high));
      const out = tidy(() => ops.gelu(tensor(x, [x.length])));
      assertClose(await out.data(), Array.from(x, ref.gelu), `gelu on [${low}, ${high}]`, { atol: 3e-7, rtol: 2e-6 });
      out.dispose();
    },
  });
  cases.push({
    name: `backward, [${low}, ${high}]`,
    run: async () => {
      const values = f32(uniform(257, 80 + low, low, high));
      const x = tensor(values, [values.length], { requiresGrad: true, name: 'x' });
      const dy = f32(uniform(values.length, 90 + low, -1, 1));
      const dyt = tensor(dy, [values.length], { name: 'dy' });
      try {
        tidy(() => ops.gelu(x).backward(dyt));
        const expected = Array.from(values, (v, i) => ref.geluGrad(v) * dy[i]);
        assertClose(await x.grad!.data(), expected, `gelu gradient on [${low}, ${high}]`, { atol: 1e-6, rtol: 1e-5 });
      } finally {
        x.grad?.dispose();
        x.dispose();
        dyt.dispose();
      }
    },
  });
}

cases.push({
  name: 'finite differences',
  run: async () => {
    const x = tensor(uniform(17, 99, -4, 4), [17], { requiresGrad: true, name: 'x' });
    try {
      await gradcheck(ops.gelu, [x], { eps: 1e-2, atol: 1e-2, rtol: 1e-2 });
    } finally {
      x.grad?.dispose();
      x.dispose();
    }
  },
});

export default suite('gelu', cases);
