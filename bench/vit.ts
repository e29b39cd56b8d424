/**
 * Transformer benchmarks. Fused multi-head attention runs at the study ViT's shape (197
 * tokens, width 128, 4 heads of 32, batch 64), forward and forward plus backward. Beside it run
 * the same attention composed from this engine's GEMM and softmax kernels, and TensorFlow.js's
 * WebGPU backend composing matMul and softmax on the same adapter. Last, one training step of
 * the study ViT (forward, cross-entropy, backward, Adam) is timed in images per second.
 *
 * GFLOP/s counts the nominal matrix products only: forward 4 B H T^2 D (Q K^T and P V),
 * forward plus backward 14 B H T^2 D (the backward recomputes Q K^T and forms dV, dP, dQ and
 * dK). The fused backward recomputes Q K^T twice, which the count leaves out.
 */
import { Tensor, getEngine, ops, tensor, tidy } from '../src/index.ts';
import { vitStudy } from '../src/nn/models/vit.ts';
import { Adam } from '../src/nn/optim.ts';
import { fillValues, timeSteps, timeStepsWithCpu, type BenchContext, type BenchGroup, type Timing } from './harness.ts';

const BATCH = 64;
const TOKENS = 197;
const WIDTH = 128;
const HEADS = 4;
const HEAD_DIM = WIDTH / HEADS;
/** Batch of the ViT training step on a software adapter unless `--full` is given. */
const SOFTWARE_STEP_BATCH = 8;

type Pass = 'forward' | 'forward+backward';


/** Attention composed from separate kernels: permute qkv apart, GEMM, softmax, GEMM, permute back. */
function composedAttention(qkv: Tensor): Tensor {
  const parts = ops.permute(ops.reshape(qkv, [BATCH, TOKENS, 3, HEADS, HEAD_DIM]), [2, 0, 3, 1, 4]);
  const heads = BATCH * HEADS;
  const q = ops.reshape(ops.slice(parts, [0, 0, 0, 0, 0], [1, BATCH, HEADS, TOKENS, HEAD_DIM]), [heads, TOKENS, HEAD_DIM]);
  const k = ops.reshape(ops.slice(parts, [1, 0, 0, 0, 0], [1, BATCH, HEADS, TOKENS, HEAD_DIM]), [heads, TOKENS, HEAD_DIM]);
  const v = ops.reshape(ops.slice(parts, [2, 0, 0, 0, 0], [1, BATCH, HEADS, TOKENS, HEAD_DIM]), [heads, TOKENS, HEAD_DIM]);
  const scores = ops.scale(ops.matmul(q, k, { transB: true }), 1 / Math.sqrt(HEAD_DIM));
  const out = ops.matmul(ops.softmax(scores), v);
  return ops.reshape(ops.permute(ops.reshape(out, [BATCH, HEADS, TOKENS, HEAD_DIM]), [0, 2, 1, 3]), [BATCH, TOKENS, WIDTH]);
}

/** Times one pass of `attend` on this engine. */
async function timeEngine(attend: (qkv: Tensor) => Tensor, pass: Pass, qkvValues: Float32Array, doutValues: Float32Array): Promise<Timing> {
  const engine = getEngine();
  const qkv = tensor(qkvValues, [BATCH, TOKENS, 3 * WIDTH], { name: 'qkv', requiresGrad: pass === 'forward+backward' });
  const dout = tensor(doutValues, [BATCH, TOKENS, WIDTH], { name: 'dout' });
  let last: Tensor | null = null;
  const timing = await timeStepsWithCpu(
    () => {
      last?.dispose();
      qkv.grad?.dispose();
      qkv.grad = null;
      last = tidy(() => {
        const out = attend(qkv);
        if (pass === 'forward') return out;
        out.backward(dout);
        return qkv.grad!.view([qkv.grad!.size]);
      });
    },
    async () => void (await engine.read(last!.storage.entry, 4)),
  );
  (last as Tensor | null)?.dispose();
  qkv.grad?.dispose();
  qkv.dispose();
  dout.dispose();
  return timing;
}

/** Seconds per call of the same attention in TensorFlow.js, or null without the peer. */
async function timePeer(ctx: BenchContext, pass: Pass, qkvValues: Float32Array, doutValues: Float32Array): Promise<{ name: string; seconds: number } | null> {
  const peer = await ctx.peer();
  if (!peer) return null;
  const { tf } = peer;
  type TfTensor = import('@tensorflow/tfjs-core').Tensor;
  const heads = BATCH * HEADS;
  const scale = 1 / Math.sqrt(HEAD_DIM);
  const split = (x: TfTensor): TfTensor[] => {
    const parts = tf.transpose(tf.reshape(x, [BATCH, TOKENS, 3, HEADS, HEAD_DIM]), [2, 0, 3, 1, 4]);
    return tf.split(tf.reshape(parts, [3, heads, TOKENS, HEAD_DIM]), 3, 0).map((t) => tf.reshape(t, [heads, TOKENS, HEAD_DIM]));
  };
  const merge = (x: TfTensor): TfTensor => tf.reshape(tf.transpose(tf.reshape(x, [BATCH, HEADS, TOKENS, HEAD_DIM]), [0, 2, 1, 3]), [BATCH, TOKENS, WIDTH]);
  // TensorFlow.js's Node bundle registers no gradients, so the backward pass is written out:
  // dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)), dQ = dS K s, dK = dS^T Q s.
  const run = (x: TfTensor, g: TfTensor): TfTensor => {
    const [q, k, v] = split(x);
    const p = tf.softmax(tf.mul(tf.matMul(q, k, false, true), scale));
    const out = merge(tf.matMul(p, v));
    if (pass === 'forward') return out;
    const dO = tf.reshape(tf.transpose(tf.reshape(g, [BATCH, TOKENS, HEADS, HEAD_DIM]), [0, 2, 1, 3]), [heads, TOKENS, HEAD_DIM]);
    const dv = tf.matMul(p, dO, true, false);
    const dp = tf.matMul(dO, v, false, true);
    const ds = tf.mul(p, tf.sub(dp, tf.sum(tf.mul(dp, p), -1, true)));
    const dq = tf.mul(tf.matMul(ds, k), scale);
    const dk = tf.mul(tf.matMul(ds, q, true, false), scale);
    const dqkv = tf.reshape(tf.stack([dq, dk, dv]), [3, BATCH, HEADS, TOKENS, HEAD_DIM]);
    return tf.reshape(tf.transpose(dqkv, [1, 3, 0, 2, 4]), [BATCH, TOKENS, 3 * WIDTH]);
  };
  const qkv = tf.tensor(qkvValues, [BATCH, TOKENS, 3 * WIDTH]);
  const dout = tf.tensor(doutValues, [BATCH, TOKENS, WIDTH]);
  let last: TfTensor | null = null;
  const seconds = await timeSteps(
    () => {
      last?.dispose();
      last = tf.tidy(() => run(qkv, dout));
    },
    async () => {
      const corner = tf.tidy(() => tf.slice(last!, [0, 0, 0], [1, 1, 1]));
      await corner.data();
      corner.dispose();
    },
  );
  (last as TfTensor | null)?.dispose();
  qkv.dispose();
  dout.dispose();
  return { name: peer.name, seconds };
}

async function benchAttention(ctx: BenchContext, pass: Pass): Promise<void> {
  const qkvValues = fillValues(BATCH * TOKENS * 3 * WIDTH, 1);
  const doutValues = fillValues(BATCH * TOKENS * WIDTH, 2);
  const flop = (pass === 'forward' ? 4 : 14) * BATCH * HEADS * TOKENS * TOKENS * HEAD_DIM;
  const shape = `${pass}: B=${BATCH} T=${TOKENS} width=${WIDTH} heads=${HEADS}`;

  const fused = await timeEngine((x) => ops.attention(x, HEADS), pass, qkvValues, doutValues);
  const composed = await timeEngine(composedAttention, pass, qkvValues, doutValues);
  const peer = await timePeer(ctx, pass, qkvValues, doutValues);

  const gflops = (seconds: number) => flop / seconds / 1e9;
  const base = {
    kernel: 'attention fused', shape, adapter: ctx.engine.adapter.name, metric: 'GFLOP/s',
    value: gflops(fused.seconds), seconds: fused.seconds, cpuSeconds: fused.cpuSeconds,
  };
  ctx.record({
    ...base,
    peer: 'GEMM + softmax (this engine)',
    peerValue: gflops(composed.seconds),
    ratio: composed.seconds / fused.seconds,
    peerSeconds: composed.seconds,
  });
  ctx.record({
    ...base,
    peer: peer ? `${peer.name} (matMul + softmax)` : null,
    peerValue: peer ? gflops(peer.seconds) : null,
    ratio: peer ? peer.seconds / fused.seconds : null,
    peerSeconds: peer?.seconds ?? null,
  });
}

/** Times one training step of the study ViT (224x224x3, patch 16): forward, loss, backward, Adam. */
async function benchTrainingStep(ctx: BenchContext): Promise<void> {
  const batch = ctx.engine.adapter.isSoftware && !ctx.full ? SOFTWARE_STEP_BATCH : BATCH;
  const engine = getEngine();
  const model = vitStudy({ seed: 1 });
  const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
  const images = tensor(fillValues(batch * 3 * 224 * 224, 3), [batch, 3, 224, 224], { name: 'images' });
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  const { seconds, cpuSeconds } = await timeStepsWithCpu(
    () => {
      optimizer.zeroGrad();
      tidy(() => ops.crossEntropy(model.forward(images), labels).backward());
      optimizer.step();
    },
    async () => void (await engine.read(model.head.bias!.storage.entry, 4)),
    { warmup: 2, targetSeconds: 2, maxReps: 10 },
  );
  ctx.record({
    kernel: 'vit training step',
    shape: `study ViT 224x224 patch 16, width 128, depth 6, 4 heads, batch ${batch}, Adam`,
    adapter: ctx.engine.adapter.name,
    metric: 'images/s',
    value: batch / seconds,
    peer: null,
    peerValue: null,
    ratio: null,
    seconds,
    peerSeconds: null,
    cpuSeconds,
  });
  optimizer.dispose();
  model.dispose();
  images.dispose();
}

const group: BenchGroup = {
  name: 'vit',
  description: 'fused attention at T=197, width 128, 4 heads, batch 64; one study ViT training step',
  run: async (ctx) => {
    for (const pass of ['forward', 'forward+backward'] as const) {
      if (ctx.selected(`vit attention ${pass}`)) await benchAttention(ctx, pass);
    }
    if (ctx.selected('vit training step')) await benchTrainingStep(ctx);
  },
};

export default group;
