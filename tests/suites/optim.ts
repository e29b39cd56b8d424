// Adam, AdamW and SGD against hand-computed steps and float64 references of PyTorch's update
// rules; learning-rate schedules against their formulas.
import { tensor, type Tensor } from '../../src/index.ts';
import { Adam, AdamW, SGD, type Optimizer } from '../../src/nn/optim.ts';
import { makeSchedule } from '../../src/nn/schedule.ts';
import { assert, assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite } from '../harness/suite.ts';

function param(values: ArrayLike<number>, name = 'w'): Tensor {
  return tensor(values, [values.length], { name, requiresGrad: true });
}

function setGrad(p: Tensor, values: ArrayLike<number>): void {
  p.grad?.dispose();
  p.grad = tensor(values, p.shape, { name: `${p.name}.grad` });
}

/** PyTorch's Adam / AdamW in float64 for one parameter over the given gradients. */
function adamReference(p0: ArrayLike<number>, grads: ArrayLike<number>[], o: { lr: number; beta1: number; beta2: number; eps: number; wd: number; decoupled: boolean }): Float64Array {
  const p = Float64Array.from(p0);
  const m = new Float64Array(p.length);
  const v = new Float64Array(p.length);
  grads.forEach((g, s) => {
    const t = s + 1;
    for (let i = 0; i < p.length; i++) {
      let gi = g[i];
      if (o.decoupled) p[i] *= 1 - o.lr * o.wd;
      else gi += o.wd * p[i];
      m[i] = o.beta1 * m[i] + (1 - o.beta1) * gi;
      v[i] = o.beta2 * v[i] + (1 - o.beta2) * gi * gi;
      const mHat = m[i] / (1 - o.beta1 ** t);
      const vHat = v[i] / (1 - o.beta2 ** t);
      p[i] -= (o.lr * mHat) / (Math.sqrt(vHat) + o.eps);
    }
  });
  return p;
}

function run(opt: Optimizer, p: Tensor, grads: ArrayLike<number>[]): void {
  for (const g of grads) {
    setGrad(p, g);
    opt.step();
  }
}

const SIZES = [1, 7, 256, 257, 1000];

export default suite('optim', [
  {
    name: 'adam first step with tiny gradient',
    run: async () => {
      // m = 1e-9, v = 1e-17; corrected: 1e-8 and 1e-16, so the update is lr * 1e-8 / (1e-8 + 1e-8).
      const p = param([0.5]);
      const opt = new Adam([p], { lr: 1e-3 });
      run(opt, p, [[1e-8]]);
      const moved = 0.5 - (await p.data())[0];
      assertClose([moved], [5.0e-4], 'weight change', { atol: 1e-9, rtol: 1e-4 });
      opt.dispose();
      p.grad?.dispose();
      p.dispose();
    },
  },
  {
    name: 'adam constant gradient two steps',
    run: async () => {
      const p = param([0, 1, -2]);
      const opt = new Adam([['w', p]], { lr: 0.01 });
      run(opt, p, [[1, 1, 1], [1, 1, 1]]);
      const state = opt.state;
      assertEqual(state.step, 2, 'step count');
      const m = await state.entries.find((e) => e.name === 'optimizer.state.w.exp_avg')!.tensor.data();
      const v = await state.entries.find((e) => e.name === 'optimizer.state.w.exp_avg_sq')!.tensor.data();
      // m2 = 0.9 * 0.1 + 0.1 = 0.19 = 1 - 0.9^2, so the corrected first moment is exactly 1.
      const mHat = Array.from(m, (x) => x / (1 - 0.9 ** 2));
      const vHat = Array.from(v, (x) => x / (1 - 0.999 ** 2));
      assertClose(mHat, [1, 1, 1], 'bias-corrected first moment', { atol: 1e-6, rtol: 0 });
      // 1 - beta2 rounds to float32 with a relative error near 6e-5.
      assertClose(vHat, [1, 1, 1], 'bias-corrected second moment', { atol: 1e-4, rtol: 0 });
      // Each step moves by lr * 1 / (1 + eps).
      const step = 0.01 / (1 + 1e-8);
      assertClose(await p.data(), [-2 * step, 1 - 2 * step, -2 - 2 * step], 'weights', { atol: 1e-6, rtol: 0 });
      opt.dispose();
      p.grad?.dispose();
      p.dispose();
    },
  },
  ...SIZES.flatMap((n) =>
    ([['adam', false, 0.1], ['adamw', true, 0.1], ['adam no decay', false, 0]] as const).map(([label, decoupled, wd]) => ({
      name: `${label} matches float64 n=${n}`,
      run: async () => {
        const p0 = f32(uniform(n, 11 + n, -1, 1));
        const grads = [1, 2, 3, 4, 5].map((s) => f32(uniform(n, 100 * s + n, -2, 2)));
        const o = { lr: 3e-3, beta1: 0.8, beta2: 0.99, eps: 1e-6, wd, decoupled };
        const p = param(p0);
        const options = { lr: o.lr, betas: [o.beta1, o.beta2] as [number, number], eps: o.eps, weightDecay: wd };
        const opt = decoupled ? new AdamW([p], options) : new Adam([p], options);
        run(opt, p, grads);
        assertClose(await p.data(), adamReference(p0, grads, o), 'parameters after 5 steps', { atol: 2e-6, rtol: 1e-5 });
        opt.dispose();
        p.grad?.dispose();
        p.dispose();
      },
    })),
  ),
  {
    name: 'adam changed lr between steps',
    run: async () => {
      const p0 = f32(uniform(9, 3));
      const grads = [f32(uniform(9, 4)), f32(uniform(9, 5))];
      const p = param(p0);
      const opt = new Adam([p], { lr: 1e-2 });
      setGrad(p, grads[0]);
      opt.step();
      const afterOne = adamReference(p0, [grads[0]], { lr: 1e-2, beta1: 0.9, beta2: 0.999, eps: 1e-8, wd: 0, decoupled: false });
      assertClose(await p.data(), afterOne, 'after step 1', { atol: 1e-6 });
      opt.lr = 0;
      setGrad(p, grads[1]);
      opt.step();
      assertClose(await p.data(), afterOne, 'lr 0 leaves weights', { atol: 1e-7 });
      opt.dispose();
      p.grad?.dispose();
      p.dispose();
    },
  },
  {
    name: 'adam skips parameters without grad',
    run: async () => {
      const a = param([1, 2], 'a');
      const b = param([3], 'b');
      const opt = new Adam([['a', a], ['b', b]], { lr: 0.1 });
      setGrad(a, [1, 1]);
      opt.step();
      assertClose(await b.data(), [3], 'untouched parameter', { atol: 0 });
      assert((await a.data())[0] < 1, 'parameter with a gradient moved');
      opt.dispose();
      a.grad?.dispose();
      a.dispose();
      b.dispose();
    },
  },
  {
    name: 'adam state round trip resumes',
    run: async () => {
      const p0 = f32(uniform(33, 8));
      const grads = [1, 2, 3, 4].map((s) => f32(uniform(33, 50 + s)));
      const straight = param(p0);
      const optStraight = new AdamW([['w', straight]], { lr: 1e-2 });
      run(optStraight, straight, grads);

      const first = param(p0);
      const optFirst = new AdamW([['w', first]], { lr: 1e-2 });
      run(optFirst, first, grads.slice(0, 2));
      const saved = new Map<string, { shape: readonly number[]; values: Float32Array }>();
      for (const e of optFirst.state.entries) saved.set(e.name, { shape: e.tensor.shape, values: (await e.tensor.data()) as Float32Array });
      const resumed = param(await first.data());
      const optResumed = new AdamW([['w', resumed]], { lr: 1e-2 });
      optResumed.loadState(optFirst.stepCount, saved);
      run(optResumed, resumed, grads.slice(2));
      assertClose(await resumed.data(), await straight.data(), 'resumed vs uninterrupted', { atol: 0, rtol: 0 });

      await assertThrows(() => optResumed.loadState(2, new Map()), /missing optimizer\.state\.w\.exp_avg/, 'missing state');
      for (const [t, o] of [[straight, optStraight], [first, optFirst], [resumed, optResumed]] as const) {
        o.dispose();
        t.grad?.dispose();
        t.dispose();
      }
    },
  },
  {
    name: 'sgd momentum matches float64',
    run: async () => {
      const n = 300;
      const p0 = f32(uniform(n, 21));
      const grads = [1, 2, 3].map((s) => f32(uniform(n, 70 + s)));
      const p = param(p0);
      const opt = new SGD([p], { lr: 0.1, momentum: 0.9, weightDecay: 0.01 });
      run(opt, p, grads);
      const ref = Float64Array.from(p0);
      const buf = new Float64Array(n);
      grads.forEach((g, s) => {
        for (let i = 0; i < n; i++) {
          const d = g[i] + 0.01 * ref[i];
          buf[i] = s === 0 ? d : 0.9 * buf[i] + d;
          ref[i] -= 0.1 * buf[i];
        }
      });
      assertClose(await p.data(), ref, 'parameters after 3 steps', { atol: 1e-6 });
      opt.dispose();
      p.grad?.dispose();
      p.dispose();
    },
  },
  {
    name: 'sgd without momentum',
    run: async () => {
      const p = param([1, -1]);
      const opt = new SGD([p], { lr: 0.5 });
      run(opt, p, [[2, 4]]);
      assertClose(await p.data(), [0, -3], 'parameters', { atol: 1e-7 });
      opt.dispose();
      p.grad?.dispose();
      p.dispose();
    },
  },
  {
    name: 'optimizer rejects bad options',
    run: async () => {
      const p = param([1]);
      await assertThrows(() => new Adam([p], { lr: -1 }), /invalid learning rate -1/, 'negative lr');
      await assertThrows(() => new Adam([p], { betas: [1, 0.9] }), /invalid beta1 1/, 'beta 1');
      await assertThrows(() => new Adam([]), /empty parameter list/, 'no parameters');
      await assertThrows(() => new Adam([['w', p], ['w', p]]), /appears twice/, 'duplicate names');
      p.dispose();
    },
  },
  {
    name: 'schedules follow their formulas',
    run: () => {
      assertEqual([0, 5, 99].map(makeSchedule({ name: 'constant', lr: 0.1 })), [0.1, 0.1, 0.1], 'constant');
      const warm = makeSchedule({ name: 'warmup', lr: 1, warmupSteps: 4 });
      assertEqual([0, 1, 2, 3, 4, 10].map(warm), [0.25, 0.5, 0.75, 1, 1, 1], 'warmup');
      const cosine = makeSchedule({ name: 'cosine', lr: 1, warmupSteps: 2, totalSteps: 12, minLr: 0.1 });
      assertClose([0, 1, 2, 7, 12, 20].map(cosine), [0.5, 1, 1, 0.1 + 0.45 * (1 + Math.cos(Math.PI / 2)), 0.1, 0.1], 'cosine', { atol: 1e-12 });
      assertThrows(() => makeSchedule({ name: 'cosine', lr: 1, totalSteps: 2, warmupSteps: 2 }), /greater than warmupSteps/, 'cosine too short');
    },
  },
]);
