/**
 * Data benchmarks: the fused batch kernel that turns uint8 images into model inputs
 * (gather, bilinear resize, three channels, ImageNet normalisation), and the plain bilinear
 * resize of f32 planes beside TensorFlow.js's `resizeBilinear` with half-pixel centres (the
 * same sampling as PyTorch's align_corners=False). Both at the study's 28x28 -> 224x224,
 * batch 64. The metric is GB/s of output written.
 */
import { DeviceSplit, resizeBilinear, sampleParams, transformImages, IMAGENET_NORMALIZATION, type HostSplit } from '../src/data/index.ts';
import { Tensor, getEngine } from '../src/index.ts';
import { timeSteps, type BenchContext, type BenchGroup } from './harness.ts';

const BATCH = 64;
const SOURCE = 28;
const TARGET = 224;
/** Images in the synthetic split the batches are gathered from. */
const SPLIT_IMAGES = 1000;

/** Creates a split of pseudo-random uint8 images (a linear congruential generator). */
function syntheticSplit(count: number): HostSplit {
  const images = new Uint8Array(count * SOURCE * SOURCE);
  let state = 1;
  for (let i = 0; i < images.length; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    images[i] = state >>> 24;
  }
  return { name: 'train', count, rows: SOURCE, cols: SOURCE, images, labels: new Uint8Array(count) };
}

async function benchBatch(ctx: BenchContext): Promise<void> {
  const engine = getEngine();
  const split = DeviceSplit.upload(syntheticSplit(SPLIT_IMAGES));
  const indices = Int32Array.from({ length: BATCH }, (_, i) => (i * 37) % SPLIT_IMAGES);
  const params = sampleParams(indices, { padding: 2, flip: true }, 1, 0);
  let last: Tensor | null = null;
  const seconds = await timeSteps(
    () => {
      last?.dispose();
      last = transformImages(split, params, { size: TARGET, channels: 3, ...IMAGENET_NORMALIZATION });
    },
    async () => void (await engine.read(last!.storage.entry, 4)),
  );
  (last as Tensor | null)?.dispose();
  split.dispose();

  const bytes = BATCH * 3 * TARGET * TARGET * 4;
  ctx.record({
    kernel: 'data batch',
    shape: `uint8 ${BATCH}x${SOURCE}x${SOURCE} -> f32 ${BATCH}x3x${TARGET}x${TARGET}, crop and flip, ImageNet normalisation`,
    adapter: ctx.engine.adapter.name,
    metric: 'GB/s',
    value: bytes / seconds / 1e9,
    peer: null,
    peerValue: null,
    ratio: null,
    seconds,
    peerSeconds: null,
  });
}

async function benchResize(ctx: BenchContext): Promise<void> {
  const engine = getEngine();
  const values = Float32Array.from({ length: BATCH * SOURCE * SOURCE }, (_, i) => (i % 251) / 251);
  const x = Tensor.empty([BATCH, SOURCE, SOURCE], 'f32', 'x');
  x.write(values);
  let last: Tensor | null = null;
  const seconds = await timeSteps(
    () => {
      last?.dispose();
      last = resizeBilinear(x, TARGET);
    },
    async () => void (await engine.read(last!.storage.entry, 4)),
  );
  (last as Tensor | null)?.dispose();
  x.dispose();

  // The peer: tf.image.resizeBilinear on NHWC [64, 28, 28, 1] with half-pixel centres.
  let peerSeconds: number | null = null;
  const peer = await ctx.peer();
  if (peer) {
    const { tf } = peer;
    const input = tf.tensor4d(values, [BATCH, SOURCE, SOURCE, 1]);
    let out: import('@tensorflow/tfjs-core').Tensor4D | null = null;
    peerSeconds = await timeSteps(
      () => {
        out?.dispose();
        out = tf.image.resizeBilinear(input, [TARGET, TARGET], false, true);
      },
      async () => {
        const corner = tf.tidy(() => tf.slice(out!, [0, 0, 0, 0], [1, 1, 1, 1]));
        await corner.data();
        corner.dispose();
      },
    );
    (out as import('@tensorflow/tfjs-core').Tensor | null)?.dispose();
    input.dispose();
  }

  const bytes = BATCH * TARGET * TARGET * 4;
  const value = bytes / seconds / 1e9;
  const peerValue = peerSeconds === null ? null : bytes / peerSeconds / 1e9;
  ctx.record({
    kernel: 'resize',
    shape: `bilinear ${BATCH}x${SOURCE}x${SOURCE} -> ${BATCH}x${TARGET}x${TARGET}`,
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
  name: 'data',
  description: 'Data: uint8 batch to normalised 3x224x224 inputs, bilinear resize 28 -> 224',
  run: async (ctx) => {
    if (ctx.selected('data batch')) await benchBatch(ctx);
    if (ctx.selected('data resize')) await benchResize(ctx);
  },
};

export default group;
