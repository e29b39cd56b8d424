/**
 * GEMM benchmarks: square products, DenseNet121's 1x1 convolutions and the ViT's linear layers
 * as GEMMs, each beside TensorFlow.js's WebGPU backend computing the same product.
 *
 * DenseNet121 at 224x224, batch 64: a 1x1 convolution of an NCHW map is, per image, the
 * product [Cout x Cin] x [Cin x HW] with the weights shared by the batch. Bottlenecks map
 * Cin = 64 + 32 i channels to 128 at HW = 56^2, 28^2, 14^2 or 7^2; transitions halve the
 * channels. The ViT (width 128, MLP 512, 197 tokens of 64 images) runs x W^T on 12,608 rows.
 */
import { gemmInto } from '../src/kernels/gemm.ts';
import { Tensor, getEngine } from '../src/index.ts';
import { fillValues, timeStepsWithCpu, type BenchContext, type BenchGroup } from './harness.ts';

interface GemmShape {
  label: string;
  m: number;
  n: number;
  k: number;
  batch: number;
  transB: boolean;
  /** Whether A is one matrix shared by the batch (convolution weights). */
  sharedA: boolean;
}

const square = (size: number): GemmShape => ({
  label: `square ${size}`, m: size, n: size, k: size, batch: 1, transB: false, sharedA: false,
});

const conv1x1 = (label: string, cin: number, cout: number, side: number): GemmShape => ({
  label: `densenet ${label} 1x1 ${cin}->${cout} @${side}x${side} x64`, m: cout, n: side * side, k: cin, batch: 64, transB: false, sharedA: true,
});

const vitLinear = (label: string, inF: number, outF: number): GemmShape => ({
  label: `vit ${label} ${inF}->${outF} x12608`, m: 64 * 197, n: outF, k: inF, batch: 1, transB: true, sharedA: false,
});

export const GEMM_SHAPES: GemmShape[] = [
  square(256), square(512), square(1024), square(2048),
  conv1x1('block1 first', 64, 128, 56),
  conv1x1('block1 last', 224, 128, 56),
  conv1x1('transition1', 256, 128, 56),
  conv1x1('block2 mid', 288, 128, 28),
  conv1x1('transition2', 512, 256, 28),
  conv1x1('block3 last', 992, 128, 14),
  conv1x1('transition3', 1024, 512, 14),
  conv1x1('block4 last', 992, 128, 7),
  vitLinear('qkv', 128, 384),
  vitLinear('mlp up', 128, 512),
  vitLinear('mlp down', 512, 128),
  vitLinear('attn out', 128, 128),
];

/** Work per run above which a software adapter skips a shape unless `--full` is given. */
const SOFTWARE_MAX_FLOP = 4e9;

function flopOf(s: GemmShape): number {
  return 2 * s.m * s.n * s.k * s.batch;
}


async function runShape(ctx: BenchContext, s: GemmShape): Promise<void> {
  const engine = getEngine();
  const aSize = (s.sharedA ? 1 : s.batch) * s.m * s.k;
  const bSize = s.batch * s.k * s.n;
  const aValues = fillValues(aSize, 1);
  const bValues = fillValues(bSize, 2);
  const flop = flopOf(s);

  // This engine: C = A B (or A B^T) into a preallocated C.
  const a = Tensor.empty([aSize], 'f32', 'A');
  const b = Tensor.empty([bSize], 'f32', 'B');
  const c = Tensor.empty([s.batch * s.m * s.n], 'f32', 'C');
  a.write(aValues);
  b.write(bValues);
  const { seconds, cpuSeconds } = await timeStepsWithCpu(
    () => gemmInto({ a, b, c, m: s.m, n: s.n, k: s.k, batch: s.batch, transB: s.transB, aBatchStride: s.sharedA ? 0 : s.m * s.k }),
    async () => void (await engine.read(c.storage.entry, 4)),
  );
  for (const t of [a, b, c]) t.dispose();

  // The peer: tf.matMul on the same values and layout.
  let peerSeconds: number | null = null;
  const peer = await ctx.peer();
  if (peer) {
    const { tf } = peer;
    const aShape = s.transB ? [s.m, s.k] : [s.sharedA ? 1 : s.batch, s.m, s.k];
    const bShape = s.transB ? [s.n, s.k] : [s.batch, s.k, s.n];
    const ta = tf.tensor(aValues, aShape);
    const tb = tf.tensor(bValues, bShape);
    let last: import('@tensorflow/tfjs-core').Tensor | null = null;
    peerSeconds = (await timeStepsWithCpu(
      () => {
        last?.dispose();
        last = tf.matMul(ta, tb, false, s.transB);
      },
      async () => {
        const corner = tf.tidy(() => tf.slice(last!, new Array(last!.rank).fill(0), new Array(last!.rank).fill(1)));
        await corner.data();
        corner.dispose();
      },
    )).seconds;
    (last as import('@tensorflow/tfjs-core').Tensor | null)?.dispose();
    ta.dispose();
    tb.dispose();
  }

  const value = flop / seconds / 1e9;
  const peerValue = peerSeconds === null ? null : flop / peerSeconds / 1e9;
  ctx.record({
    kernel: 'gemm',
    shape: `${s.label}: M=${s.m} N=${s.n} K=${s.k} batch=${s.batch}${s.transB ? ' B^T' : ''}`,
    adapter: ctx.engine.adapter.name,
    metric: 'GFLOP/s',
    value,
    peer: peer?.name ?? null,
    peerValue,
    ratio: peerValue === null ? null : value / peerValue,
    seconds,
    peerSeconds,
    cpuSeconds,
  });
}

const group: BenchGroup = {
  name: 'gemm',
  description: 'GEMM: squares 256-2048, DenseNet121 1x1 convolutions, ViT linear layers',
  run: async (ctx) => {
    for (const s of GEMM_SHAPES) {
      const label = `gemm ${s.label}`;
      if (!ctx.selected(label)) continue;
      if (ctx.engine.adapter.isSoftware && !ctx.full && flopOf(s) > SOFTWARE_MAX_FLOP) {
        console.error(`[bench] skipping ${label} (${(flopOf(s) / 1e9).toFixed(1)} GFLOP per run) on a software adapter; pass --full to run it`);
        continue;
      }
      await runShape(ctx, s);
    }
  },
};

export default group;
