// Fused multi-head attention against a float64 reference composed from matrix products and a
// softmax, forward and backward, at sequence lengths that are not multiples of the tiles
// (1, 17 = 16 patches + class token, 33, 50, 65, 197 = 196 patches + class token; 1, 17 and 33
// also pick the 16-, 32- and 64-thread workgroups), head dims 32 and 64, batch 1 and 3.
import { gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import { assertClose, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';
import * as ref from '../reference/transformer.ts';

const TOKENS = [1, 17, 33, 50, 65, 197];
const HEAD_DIMS = [32, 64];
const BATCHES = [1, 3];
const HEADS = 2;
// Seconds per case. The first case of each head-dim variant compiles four kernels, which takes
// minutes on a software adapter shared with other processes.
const TIMEOUT = 300;

/**
 * Runs attention forward and backward on seeded inputs and compares both with the reference.
 * `spread` scales the inputs: large values give large scores, which only a max-subtracted
 * softmax survives.
 */
async function compare(batch: number, tokens: number, headDim: number, heads: number, seed: number, spread = 1): Promise<void> {
  const width = heads * headDim;
  const qkv = f32(uniform(batch * tokens * 3 * width, seed, -spread, spread));
  const dout = f32(uniform(batch * tokens * width, seed + 1, -1, 1));
  const expected = ref.attention(qkv, batch, tokens, heads, headDim, dout);

  const qkvt = tensor(qkv, [batch, tokens, 3 * width], { requiresGrad: true, name: 'qkv' });
  const doutt = tensor(dout, [batch, tokens, width], { name: 'dout' });
  try {
    const out = tidy(() => {
      const o = ops.attention(qkvt, heads);
      o.backward(doutt);
      return o;
    });
    const label = `attention B=${batch} T=${tokens} H=${heads} D=${headDim}`;
    assertClose(await out.data(), expected.out, `${label} output`, { atol: 2e-5 * spread, rtol: 1e-4 });
    assertClose(await qkvt.grad!.data(), expected.dqkv, `${label} dqkv`, { atol: 1e-4 * spread * spread, rtol: 1e-3 });
    out.dispose();
  } finally {
    qkvt.grad?.dispose();
    qkvt.dispose();
    doutt.dispose();
  }
}

const cases: Case[] = [];
let seed = 100;
for (const batch of BATCHES) {
  for (const headDim of HEAD_DIMS) {
    for (const tokens of TOKENS) {
      const s = seed++;
      cases.push({ name: `B=${batch} T=${tokens} D=${headDim}`, run: () => compare(batch, tokens, headDim, HEADS, s), timeout: TIMEOUT });
    }
  }
}

// Other compiled variants: head dims 16 and 128, one head and four, and head dims that are not
// a variant's size (padded with zeros in registers).
cases.push({ name: 'B=2 T=17 D=16 H=4', run: () => compare(2, 17, 16, 4, 200), timeout: TIMEOUT });
cases.push({ name: 'B=1 T=33 D=128 H=1', run: () => compare(1, 33, 128, 1, 201), timeout: TIMEOUT });
cases.push({ name: 'B=2 T=50 D=24 H=3', run: () => compare(2, 50, 24, 3, 202), timeout: TIMEOUT });
cases.push({ name: 'B=1 T=9 D=1 H=5', run: () => compare(1, 9, 1, 5, 203), timeout: TIMEOUT });
cases.push({ name: 'large scores, B=2 T=65 D=32', run: () => compare(2, 65, 32, 2, 204, 6), timeout: TIMEOUT });

cases.push({
  name: 'finite differences, B=2 T=5 D=4',
  run: async () => {
    const qkv = tensor(uniform(2 * 5 * 3 * 8, 300, -1, 1), [2, 5, 24], { requiresGrad: true, name: 'qkv' });
    try {
      await gradcheck((x: Tensor) => ops.attention(x, 2), [qkv], { eps: 1e-2, atol: 5e-3, rtol: 2e-2 });
    } finally {
      qkv.grad?.dispose();
      qkv.dispose();
    }
  },
  timeout: TIMEOUT,
});

cases.push({
  name: 'rejects width not divisible by heads',
  run: async () => {
    const qkv = tensor(new Float32Array(2 * 3 * 30), [2, 3, 30], { name: 'qkv' });
    const flat = qkv.view([6, 30]);
    try {
      await assertThrows(() => ops.attention(qkv, 4), /width 10 .* is not divisible by 4 heads/, 'attention head check');
      await assertThrows(() => ops.attention(flat, 1), /qkv must be \[batch, tokens, 3 \* width\]; got \[6, 30\]/, 'attention rank check');
    } finally {
      flat.dispose();
      qkv.dispose();
    }
  },
});

export default suite('attention', cases);
