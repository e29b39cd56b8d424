/**
 * CNN benchmarks: conv2d forward and both gradients, BN-ReLU, the concatenation path and one
 * DenseNet121 training step, each beside TensorFlow.js's WebGPU backend on the same adapter.
 *
 * Shapes are DenseNet121's at 224x224 (ImageNet stem) and at 28x28 (the reduced presets'
 * small 3x3 stem without pooling), per layer kind. Layout differs between the engines: this
 * engine runs NCHW, TensorFlow.js its native NHWC, on the same values. FLOP counts are
 * 2 * multiply-adds of the convolution, the same for all three passes. Bytes for batchnorm are
 * the minimum traffic: two reads of x and one write of y in training mode.
 */
import { Tensor, getEngine, ops, tidy } from '../src/index.ts';
import * as C from '../src/kernels/conv2d.ts';
import { batchnormApply, batchnormStatistics } from '../src/kernels/batchnorm.ts';
import { densenet121 } from '../src/nn/models/densenet.ts';
import { Adam } from '../src/nn/optim.ts';
import { fillValues, timeSteps, timeStepsWithCpu, type BenchContext, type BenchGroup, type BenchRecord, type Timing } from './harness.ts';

type Tf = typeof import('@tensorflow/tfjs-core');
type TfTensor = import('@tensorflow/tfjs-core').Tensor;

interface ConvCase {
  label: string;
  batch: number;
  cin: number;
  size: number;
  cout: number;
  kernel: number;
  stride: number;
  pad: number;
}

const BATCH = 64;

const conv = (label: string, cin: number, size: number, cout: number, kernel: number, stride = 1): ConvCase => ({
  label, batch: BATCH, cin, size, cout, kernel, stride, pad: Math.floor(kernel / 2),
});

/** DenseNet121's convolutions at 224x224, then at 28x28 with the small stem. */
export const CONV_CASES: ConvCase[] = [
  conv('224 conv0 7x7/2', 3, 224, 64, 7, 2),
  conv('224 block1 1x1', 160, 56, 128, 1),
  conv('224 block1 3x3', 128, 56, 32, 3),
  conv('224 transition1 1x1', 256, 56, 128, 1),
  conv('224 block3 1x1', 640, 14, 128, 1),
  conv('224 block3 3x3', 128, 14, 32, 3),
  conv('224 block4 3x3', 128, 7, 32, 3),
  conv('28 conv0 3x3', 1, 28, 64, 3),
  conv('28 block1 1x1', 160, 28, 128, 1),
  conv('28 block1 3x3', 128, 28, 32, 3),
  conv('28 block3 3x3', 128, 7, 32, 3),
];

/** Work per pass above which a software adapter shrinks a case's batch unless `--full` is given. */
const SOFTWARE_MAX_FLOP = 3e9;
/** Work per pass of a shrunken case: about two seconds per pass on lavapipe. */
const SOFTWARE_REDUCED_FLOP = 1e9;

function outSize(c: ConvCase): number {
  return Math.floor((c.size + 2 * c.pad - c.kernel) / c.stride) + 1;
}

function convFlop(c: ConvCase): number {
  return 2 * c.batch * c.cout * outSize(c) ** 2 * c.cin * c.kernel * c.kernel;
}


function filled(shape: number[], seed: number): Tensor {
  const t = Tensor.empty(shape, 'f32', 'bench');
  t.write(fillValues(t.size, seed));
  return t;
}

async function syncEngine(t: Tensor): Promise<void> {
  await getEngine().read(t.storage.entry, 4);
}

/** Times a TensorFlow.js step that returns a tensor; the previous result is freed each time. */
async function timePeer(tf: Tf, step: () => TfTensor): Promise<number> {
  let last: TfTensor | null = null;
  const seconds = await timeSteps(
    () => {
      last?.dispose();
      last = step();
    },
    async () => {
      const corner = tf.tidy(() => tf.slice(last!, new Array(last!.rank).fill(0), new Array(last!.rank).fill(1)));
      await corner.data();
      corner.dispose();
    },
  );
  (last as TfTensor | null)?.dispose();
  return seconds;
}

function record(ctx: BenchContext, kernel: string, shape: string, metric: string, amount: number, timing: Timing, peerName: string | null, peerSeconds: number | null): void {
  const value = amount / timing.seconds;
  const peerValue = peerSeconds === null ? null : amount / peerSeconds;
  const r: BenchRecord = {
    kernel, shape, adapter: ctx.engine.adapter.name, metric, value, peer: peerName, peerValue,
    ratio: peerValue === null ? null : value / peerValue, seconds: timing.seconds, peerSeconds, cpuSeconds: timing.cpuSeconds,
  };
  ctx.record(r);
}

async function benchConv(ctx: BenchContext, c: ConvCase): Promise<void> {
  const o = outSize(c);
  const xShape = [c.batch, c.cin, c.size, c.size];
  const wShape = [c.cout, c.cin, c.kernel, c.kernel];
  const yShape = [c.batch, c.cout, o, o];
  const options = { stride: c.stride, padding: c.pad };
  const x = filled(xShape, 1);
  const w = filled(wShape, 2);
  const dy = filled(yShape, 3);
  const y = Tensor.empty(yShape, 'f32', 'y');
  const dx = Tensor.empty(xShape, 'f32', 'dx');

  const passes: [string, () => void, Tensor][] = [
    ['forward', () => void C.conv2dForward(x, w, null, options, C.featureView(y)), y],
    ['input gradient', () => void C.conv2dBackwardData(dy, w, xShape, options, C.featureView(dx)), dx],
    ['weight gradient', () => C.conv2dBackwardWeight(dy, x, wShape, options).dispose(), dy],
  ];
  const ours: Timing[] = [];
  for (const [, step, out] of passes) ours.push(await timeStepsWithCpu(step, () => syncEngine(out)));
  for (const t of [x, w, dy, y, dx]) t.dispose();

  const peer = await ctx.peer();
  let peerTimes: (number | null)[] = [null, null, null];
  if (peer) {
    const { tf } = peer;
    // NHWC input and [KH, KW, C_in, C_out] filters, TensorFlow's layout.
    const tx = tf.tensor4d(fillValues(c.batch * c.cin * c.size * c.size, 1), [c.batch, c.size, c.size, c.cin]);
    const tw = tf.tensor4d(fillValues(c.cout * c.cin * c.kernel * c.kernel, 2), [c.kernel, c.kernel, c.cin, c.cout]);
    const tdy = tf.tensor4d(fillValues(c.batch * c.cout * o * o, 3), [c.batch, o, o, c.cout]);
    const pad = c.pad === 0 ? 'valid' : ([[0, 0], [c.pad, c.pad], [c.pad, c.pad], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]]);
    const run = (name: string, inputs: Record<string, TfTensor>, attrs: Record<string, unknown>) =>
      tf.engine().runKernel(name, inputs as never, attrs as never) as TfTensor;
    const attrs = { strides: [c.stride, c.stride], pad, dataFormat: 'NHWC', dilations: [1, 1], dimRoundingMode: undefined };
    peerTimes = [
      await timePeer(tf, () => run('Conv2D', { x: tx, filter: tw }, attrs)),
      await timePeer(tf, () => run('Conv2DBackpropInput', { dy: tdy, filter: tw }, { ...attrs, inputShape: [c.batch, c.size, c.size, c.cin] })),
      await timePeer(tf, () => run('Conv2DBackpropFilter', { x: tx, dy: tdy }, { ...attrs, filterShape: [c.kernel, c.kernel, c.cin, c.cout] })),
    ];
    for (const t of [tx, tw, tdy]) t.dispose();
  }

  const shape = `${c.label}: [${xShape}] * [${wShape}] s${c.stride} p${c.pad}`;
  passes.forEach(([pass], i) => record(ctx, `conv2d ${pass}`, shape, 'GFLOP/s', convFlop(c) / 1e9, ours[i], peer?.name ?? null, peerTimes[i]));
}

async function benchBatchnorm(ctx: BenchContext, label: string, shape: number[]): Promise<void> {
  const [n, c, h, w] = shape;
  const x = filled(shape, 4);
  const params = {
    gamma: filled([c], 5), beta: filled([c], 6), runningMean: filled([c], 7), runningVar: Tensor.empty([c], 'f32', 'var'),
  };
  params.runningVar.write(new Float32Array(c).fill(1));
  const y = Tensor.empty(shape, 'f32', 'y');
  const timing = await timeStepsWithCpu(() => {
    const stats = batchnormStatistics(C.featureView(x), params, { training: true, updateRunning: false });
    batchnormApply(C.featureView(x), stats, true, C.featureView(y));
    stats.dispose();
  }, () => syncEngine(y));
  for (const t of [x, y, ...Object.values(params)]) t.dispose();

  const peer = await ctx.peer();
  let peerSeconds: number | null = null;
  if (peer) {
    const { tf } = peer;
    const tx = tf.tensor4d(fillValues(n * c * h * w, 4), [n, h, w, c]);
    const gamma = tf.tensor1d(fillValues(c, 5));
    const beta = tf.tensor1d(fillValues(c, 6));
    peerSeconds = await timePeer(tf, () => tf.tidy(() => {
      const { mean, variance } = tf.moments(tx, [0, 1, 2]);
      return tf.relu(tf.batchNorm(tx, mean, variance, beta, gamma, 1e-5));
    }));
    for (const t of [tx, gamma, beta]) t.dispose();
  }
  const bytes = 3 * n * c * h * w * 4;
  record(ctx, 'batchnorm+relu training', `${label}: [${shape}]`, 'GB/s', bytes / 1e9, timing, peer?.name ?? null, peerSeconds);
}

async function benchConcat(ctx: BenchContext, label: string, shape: number[], growth: number): Promise<void> {
  // The naive path's per-layer copy: [B, C, H, W] and [B, growth, H, W] into a new tensor.
  // The zero-copy dense block does no such copy at all.
  const [n, c, h, w] = shape;
  const a = filled(shape, 8);
  const b = filled([n, growth, h, w], 9);
  let last: Tensor | null = null;
  const timing = await timeStepsWithCpu(() => {
    last?.dispose();
    last = ops.concat([a, b], 1);
  }, () => syncEngine(last!));
  (last as Tensor | null)?.dispose();
  a.dispose();
  b.dispose();

  const peer = await ctx.peer();
  let peerSeconds: number | null = null;
  if (peer) {
    const { tf } = peer;
    const ta = tf.tensor4d(fillValues(n * c * h * w, 8), [n, h, w, c]);
    const tb = tf.tensor4d(fillValues(n * growth * h * w, 9), [n, h, w, growth]);
    peerSeconds = await timePeer(tf, () => tf.concat([ta, tb], 3));
    ta.dispose();
    tb.dispose();
  }
  const bytes = 2 * n * (c + growth) * h * w * 4;
  record(ctx, 'naive concat', `${label}: [${shape}] + ${growth} channels`, 'GB/s', bytes / 1e9, timing, peer?.name ?? null, peerSeconds);
}

/** Builds DenseNet121 from TensorFlow.js ops (NHWC), the peer of one training step. */
function tfDensenet121(tf: Tf, numClasses: number) {
  const variables: import('@tensorflow/tfjs-core').Variable[] = [];
  let seed = 1;
  const weight = (shape: number[], fanIn: number) => {
    const v = tf.variable(tf.mul(tf.tensor(fillValues(shape.reduce((p, d) => p * d, 1), seed++), shape), Math.sqrt(6 / fanIn)));
    variables.push(v);
    return v;
  };
  const norm = (channels: number) => {
    const gamma = tf.variable(tf.ones([channels]));
    const beta = tf.variable(tf.zeros([channels]));
    variables.push(gamma, beta);
    return (x: TfTensor, relu = true) => {
      const { mean, variance } = tf.moments(x, [0, 1, 2]);
      const y = tf.batchNorm(x, mean, variance, beta, gamma, 1e-5);
      return relu ? tf.relu(y) : y;
    };
  };
  const conv = (cin: number, cout: number, k: number, stride = 1) => {
    const w = weight([k, k, cin, cout], cin * k * k);
    const pad = Math.floor(k / 2);
    const padding = pad === 0 ? 'valid' : ([[0, 0], [pad, pad], [pad, pad], [0, 0]] as [[number, number], [number, number], [number, number], [number, number]]);
    return (x: TfTensor) => tf.conv2d(x as import('@tensorflow/tfjs-core').Tensor4D, w as import('@tensorflow/tfjs-core').Tensor4D, stride, padding);
  };

  const stem = [conv(3, 64, 7, 2), norm(64)] as const;
  const blocks: { layers: ((x: TfTensor) => TfTensor)[]; transition: ((x: TfTensor) => TfTensor) | null }[] = [];
  let channels = 64;
  [6, 12, 24, 16].forEach((count, b) => {
    const layers: ((x: TfTensor) => TfTensor)[] = [];
    for (let l = 0; l < count; l++) {
      const n1 = norm(channels);
      const c1 = conv(channels, 128, 1);
      const n2 = norm(128);
      const c2 = conv(128, 32, 3);
      layers.push((x) => tf.concat([x, c2(n2(c1(n1(x))))], 3));
      channels += 32;
    }
    let transition: ((x: TfTensor) => TfTensor) | null = null;
    if (b < 3) {
      const n = norm(channels);
      const c = conv(channels, channels / 2, 1);
      transition = (x) => tf.avgPool(c(n(x)) as import('@tensorflow/tfjs-core').Tensor4D, 2, 2, 'valid');
      channels /= 2;
    }
    blocks.push({ layers, transition });
  });
  const norm5 = norm(channels);
  const head = weight([channels, numClasses], channels);
  const forward = (x: TfTensor) => {
    let h: TfTensor = tf.maxPool(stem[1](stem[0](x)) as import('@tensorflow/tfjs-core').Tensor4D, 3, 2, 1);
    for (const block of blocks) {
      for (const layer of block.layers) h = layer(h);
      if (block.transition) h = block.transition(h);
    }
    const pooled = tf.mean(tf.relu(norm5(h, false)), [1, 2]);
    return tf.matMul(pooled as import('@tensorflow/tfjs-core').Tensor2D, head as import('@tensorflow/tfjs-core').Tensor2D);
  };
  return { forward, variables };
}

async function benchTrainingStep(ctx: BenchContext, batch: number): Promise<void> {
  const engine = getEngine();
  const model = densenet121({ numClasses: 10 });
  const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
  const x = filled([batch, 3, 224, 224], 10);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  let loss: Tensor | null = null;
  engine.pool.resetPeak();
  const before = engine.stats().liveBytes;
  const timing = await timeStepsWithCpu(() => {
    loss?.dispose();
    loss = tidy(() => {
      optimizer.zeroGrad();
      const l = ops.crossEntropy(model.forward(x), labels);
      l.backward();
      optimizer.step();
      return l;
    });
  }, () => syncEngine(loss!), { warmup: 1, targetSeconds: 2, maxReps: 5 });
  const peak = engine.stats().peakLiveBytes - before;
  (loss as Tensor | null)?.dispose();
  x.dispose();
  model.dispose();
  console.error(`[bench] DenseNet121 training step, batch ${batch}: peak ${(peak / 2 ** 20).toFixed(1)} MiB of live GPU buffers (zero-copy dense blocks)`);

  const peer = await ctx.peer();
  let peerSeconds: number | null = null;
  if (peer) {
    const { tf } = peer;
    // tfjs-core registers the gradients of its kernels only on request (the `@tensorflow/tfjs`
    // bundle does it on import), and the training step needs them.
    // NOTE: under Node this import fails, because tfjs-core 4.22's ES module files import each
    // other without file extensions; the peer step then reports the missing gradient and is skipped.
    try {
      await import('@tensorflow/tfjs-core/dist/register_all_gradients.js');
    } catch (error) {
      console.error(`[bench] cannot register TensorFlow.js gradients: ${(error as Error).message.split('\n')[0]}`);
    }
    const net = tfDensenet121(tf, 10);
    const optimizerTf = tf.train.adam(1e-3);
    const tx = tf.tensor4d(fillValues(batch * 3 * 224 * 224, 10), [batch, 224, 224, 3]);
    const ty = tf.oneHot(tf.tensor1d(labels, 'int32'), 10);
    try {
      peerSeconds = await timePeer(tf, () => optimizerTf.minimize(() => tf.losses.softmaxCrossEntropy(ty, net.forward(tx)) as import('@tensorflow/tfjs-core').Scalar, true, net.variables)!);
    } catch (error) {
      console.error(`[bench] TensorFlow.js DenseNet121 step failed: ${(error as Error).message}`);
    }
    for (const t of [tx, ty, ...net.variables]) t.dispose();
    optimizerTf.dispose();
  }
  record(ctx, 'densenet121 training step', `224x224, batch ${batch}, Adam; peak ${(peak / 2 ** 20).toFixed(0)} MiB`, 'images/s', batch, timing, peer?.name ?? null, peerSeconds);
}

/** Live GPU bytes at the peak of one training step (forward, backward, Adam) of DenseNet121. */
async function trainingStepPeak(concat: 'dense' | 'naive', batch: number, size: number): Promise<number> {
  const engine = getEngine();
  const model = densenet121({ numClasses: 10, concat });
  const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
  const x = filled([batch, 3, size, size], 11);
  const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);
  await engine.sync();
  engine.pool.resetPeak();
  const before = engine.stats().liveBytes;
  const loss = tidy(() => {
    const l = ops.crossEntropy(model.forward(x), labels);
    l.backward();
    optimizer.step();
    return l;
  });
  await loss.data();
  const peak = engine.stats().peakLiveBytes - before;
  loss.dispose();
  x.dispose();
  optimizer.zeroGrad();
  model.dispose();
  return peak;
}

/** Prints the peak memory of a training step with zero-copy and with naive concatenation. */
async function benchPeakMemory(ctx: BenchContext): Promise<void> {
  // A software adapter measures one image: below 224x224, the gradients and Adam state of the
  // 7 million parameters outweigh the activations, which are what concatenation changes.
  const [batch, size] = ctx.engine.adapter.isSoftware && !ctx.full ? [1, 224] : [32, 224];
  const dense = await trainingStepPeak('dense', batch, size);
  const naive = await trainingStepPeak('naive', batch, size);
  const mib = (bytes: number) => `${(bytes / 2 ** 20).toFixed(1)} MiB`;
  console.log(
    `densenet121 training step peak memory, ${size}x${size} batch ${batch} (live GPU buffers above the parameters: activations, gradients, Adam state): ` +
      `zero-copy ${mib(dense)}, naive concatenation ${mib(naive)} (${(naive / dense).toFixed(2)}x)`,
  );
}

const group: BenchGroup = {
  name: 'cnn',
  description: 'conv2d passes, BN-ReLU, concatenation and a DenseNet121 training step',
  run: async (ctx) => {
    const software = ctx.engine.adapter.isSoftware && !ctx.full;
    for (const c of CONV_CASES) {
      const label = `conv2d ${c.label}`;
      if (!ctx.selected(label)) continue;
      if (software && convFlop(c) > SOFTWARE_MAX_FLOP) {
        // The shape per image stays DenseNet121's; only the batch shrinks to fit the budget.
        const batch = Math.max(1, Math.floor(SOFTWARE_REDUCED_FLOP / convFlop({ ...c, batch: 1 })));
        console.error(`[bench] ${label}: batch ${batch} instead of ${c.batch} on a software adapter; pass --full for the full batch`);
        await benchConv(ctx, { ...c, batch });
        continue;
      }
      await benchConv(ctx, c);
    }
    const normShapes: [string, number[]][] = [['224 block1 map', [BATCH, 256, 56, 56]], ['224 block3 map', [BATCH, 1024, 14, 14]], ['28 block1 map', [BATCH, 256, 28, 28]]];
    for (const [label, shape] of normShapes) {
      if (!ctx.selected(`batchnorm ${label}`)) continue;
      if (software && label.startsWith('224')) continue;
      await benchBatchnorm(ctx, label, shape);
    }
    const concatShapes: [string, number[]][] = [['224 block1 last', [BATCH, 224, 56, 56]], ['28 block1 last', [BATCH, 224, 28, 28]]];
    for (const [label, shape] of concatShapes) {
      if (!ctx.selected(`concat ${label}`)) continue;
      if (software && label.startsWith('224')) continue;
      await benchConcat(ctx, label, shape, 32);
    }
    if (ctx.selected('densenet121 peak memory')) await benchPeakMemory(ctx);
    if (ctx.selected('densenet121 training step')) {
      // Batch 64 needs about 10 GiB of activations; a software adapter runs batch 2 with --full only.
      if (!software) await benchTrainingStep(ctx, ctx.engine.adapter.isSoftware ? 2 : 64);
      else console.error('[bench] skipping the DenseNet121 training step on a software adapter; pass --full to run it');
    }
  },
};

export default group;
