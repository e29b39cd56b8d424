/**
 * Core-op benchmarks in GB/s (bytes read plus bytes written per run): softmax over the ViT's
 * attention rows, cross-entropy on a classifier batch, the ViT's head split as a transpose,
 * DenseNet-sized channel concatenation and a normal random fill. Softmax, transpose and concat
 * run beside TensorFlow.js's WebGPU backend on the same values.
 *
 * Shapes: the ViT (batch 64, 4 heads, 197 tokens, width 128) produces attention rows of 197
 * scores, 64 * 4 * 197 of them; DenseNet121's first dense block ends with a 256-channel map at
 * 56x56.
 */
import * as K from '../src/kernels/softmax.ts';
import { concatCopy, permuteCopy } from '../src/kernels/shape.ts';
import { randomNormal } from '../src/kernels/random.ts';
import { Tensor, getEngine } from '../src/index.ts';
import { timeSteps, type BenchContext, type BenchGroup } from './harness.ts';

type TfTensor = import('@tensorflow/tfjs-core').Tensor;
type Tf = typeof import('@tensorflow/tfjs-core');

interface CoreCase {
  label: string;
  /** Bytes read and written by one run. */
  bytes: number;
  /** Whether a software adapter runs it without --full. */
  small: boolean;
  /** Inputs as [shape, name] pairs, filled with values in [-2, 2). */
  inputs: [number[], string][];
  /** Records one run of this engine's op on the inputs; returns the output. */
  run: (inputs: Tensor[]) => Tensor;
  /** The same op in TensorFlow.js, when it has one. */
  peer?: (tf: Tf, inputs: TfTensor[]) => TfTensor;
}

function values(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = (state / 2 ** 32) * 4 - 2;
  }
  return out;
}

const sizeOf = (shape: number[]) => shape.reduce((a, b) => a * b, 1);

function softmaxCase(rows: number, cols: number, small: boolean): CoreCase {
  return {
    label: `softmax [${rows}, ${cols}]`,
    bytes: 2 * 4 * rows * cols,
    small,
    inputs: [[[rows, cols], 'scores']],
    run: ([x]) => K.softmaxForward(x, false),
    peer: (tf, [x]) => tf.softmax(x),
  };
}

const CASES: CoreCase[] = [
  softmaxCase(64 * 4 * 16, 197, true),
  softmaxCase(64 * 4 * 197, 197, false),
  {
    label: 'crossEntropy [64, 10]',
    bytes: 4 * (64 * 10 + 64 + 64 + 2 * 64),
    small: true,
    inputs: [[[64, 10], 'logits']],
    run: ([x]) => {
      const labels = labelsFor(64, 10);
      const { loss, stats } = K.crossEntropyRows(x, labels);
      stats.dispose();
      return loss;
    },
  },
  {
    label: 'transpose [64, 197, 4, 32] to [64, 4, 197, 32]',
    bytes: 2 * 4 * 64 * 197 * 128,
    small: true,
    inputs: [[[64, 197, 4, 32], 'tokens']],
    run: ([x]) => permuteCopy(x, [0, 2, 1, 3]),
    peer: (tf, [x]) => tf.transpose(x, [0, 2, 1, 3]),
  },
  {
    label: 'concat [8, 224, 56, 56] + [8, 32, 56, 56] on axis 1',
    bytes: 2 * 4 * 8 * 256 * 56 * 56,
    small: true,
    inputs: [[[8, 224, 56, 56], 'features'], [[8, 32, 56, 56], 'new channels']],
    run: (xs) => concatCopy(xs, 1),
    peer: (tf, xs) => tf.concat(xs, 1),
  },
  {
    label: 'randomNormal [1048576]',
    bytes: 4 * 1048576,
    small: true,
    inputs: [],
    run: () => randomNormal([1048576], 1),
  },
];

let cachedLabels: Tensor | null = null;

function labelsFor(rows: number, classes: number): Tensor {
  if (!cachedLabels || cachedLabels.isDisposed) {
    cachedLabels = Tensor.empty([rows], 'i32', 'labels');
    cachedLabels.write(Array.from({ length: rows }, (_, i) => i % classes));
  }
  return cachedLabels;
}

async function runCase(ctx: BenchContext, c: CoreCase): Promise<void> {
  const engine = getEngine();
  const hostInputs = c.inputs.map(([shape], k) => values(sizeOf(shape), k + 1));
  const inputs = c.inputs.map(([shape, name], k) => {
    const t = Tensor.empty(shape, 'f32', name);
    t.write(hostInputs[k]);
    return t;
  });

  // This engine: each run's output is freed at once, so the pool recycles it.
  let last: Tensor | null = null;
  const seconds = await timeSteps(
    () => {
      last?.dispose();
      last = c.run(inputs);
    },
    async () => void (await engine.read(last!.storage.entry, 4)),
  );
  (last as Tensor | null)?.dispose();
  for (const t of inputs) t.dispose();
  cachedLabels?.dispose();

  let peerSeconds: number | null = null;
  const peer = c.peer ? await ctx.peer() : null;
  if (peer && c.peer) {
    const { tf } = peer;
    const tfInputs = c.inputs.map(([shape], k) => tf.tensor(hostInputs[k], shape));
    let out: TfTensor | null = null;
    peerSeconds = await timeSteps(
      () => {
        out?.dispose();
        out = c.peer!(tf, tfInputs);
      },
      async () => {
        const corner = tf.tidy(() => tf.slice(out!, new Array(out!.rank).fill(0), new Array(out!.rank).fill(1)));
        await corner.data();
        corner.dispose();
      },
    );
    (out as TfTensor | null)?.dispose();
    for (const t of tfInputs) t.dispose();
  }

  const value = c.bytes / seconds / 1e9;
  const peerValue = peerSeconds === null ? null : c.bytes / peerSeconds / 1e9;
  ctx.record({
    kernel: 'core',
    shape: c.label,
    adapter: ctx.engine.adapter.name,
    metric: 'GB/s',
    value,
    peer: peer?.name ?? null,
    peerValue,
    ratio: peerValue === null ? null : value / peerValue,
    seconds,
    peerSeconds,
  });
}

const group: BenchGroup = {
  name: 'core',
  description: 'Core ops: softmax, cross-entropy, transpose, concat, random fill',
  run: async (ctx) => {
    for (const c of CASES) {
      const label = `core ${c.label}`;
      if (!ctx.selected(label)) continue;
      if (ctx.engine.adapter.isSoftware && !ctx.full && !c.small) {
        console.error(`[bench] skipping ${label} (${(c.bytes / 1e6).toFixed(0)} MB per run) on a software adapter; pass --full to run it`);
        continue;
      }
      await runCase(ctx, c);
    }
  },
};

export default group;
