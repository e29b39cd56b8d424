// conv2d: forward and both gradients against float64 references on awkward shapes, channel
// views (reading a prefix, writing a slice, accumulating), and backward rules against finite
// differences, including a dense block's zero-copy concatenation. Convolutions have two
// lowerings (implicit GEMM, and a column buffer with GEMMs); the cases run with each.
import { getEngine, gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import * as K from '../../src/kernels/conv2d.ts';
import { conv2dConfig } from '../../src/kernels/conv2d.ts';
import { im2colConfig } from '../../src/kernels/im2col.ts';
import { FeatureMap } from '../../src/autograd/ops/conv.ts';
import { assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';
import { conv2dGradRef, conv2dRef, outSize, type ConvShape } from '../reference/cnn.ts';

// batch, channels in, height, width, channels out, kernel, stride, padding: channels 1, 3, 5,
// 33, images 1x1 and 7x7, batch 1, the DenseNet kernels (7x7/2/3, 3x3/1/1, 1x1), and output
// channels just under and over the 16, 32 and 64 row tiles.
const SHAPES: ConvShape[] = [
  { batch: 1, cin: 1, h: 1, w: 1, cout: 1, k: 1, stride: 1, pad: 0 },
  { batch: 3, cin: 5, h: 1, w: 1, cout: 3, k: 1, stride: 1, pad: 0 },
  { batch: 1, cin: 3, h: 7, w: 7, cout: 5, k: 3, stride: 1, pad: 1 },
  { batch: 2, cin: 5, h: 7, w: 7, cout: 33, k: 1, stride: 1, pad: 0 },
  { batch: 1, cin: 3, h: 13, w: 11, cout: 8, k: 7, stride: 2, pad: 3 },
  { batch: 2, cin: 33, h: 5, w: 5, cout: 17, k: 3, stride: 1, pad: 1 },
  { batch: 1, cin: 1, h: 7, w: 7, cout: 65, k: 3, stride: 1, pad: 1 },
  { batch: 2, cin: 3, h: 9, w: 10, cout: 64, k: 3, stride: 2, pad: 1 },
  { batch: 1, cin: 36, h: 1, w: 1, cout: 5, k: 3, stride: 1, pad: 1 },
  { batch: 1, cin: 3, h: 2, w: 3, cout: 2, k: 7, stride: 2, pad: 3 },
  // Stride 1 with fewer output than input channels: on the im2col path, the input gradient is a
  // convolution of dy with the flipped kernel. Here the padding is 0, 2 and 2 (2, 0 and 2 for
  // dy), the last with a 5x5 kernel.
  { batch: 2, cin: 6, h: 6, w: 5, cout: 4, k: 3, stride: 1, pad: 0 },
  { batch: 1, cin: 5, h: 4, w: 4, cout: 2, k: 3, stride: 1, pad: 2 },
  { batch: 3, cin: 9, h: 7, w: 6, cout: 8, k: 5, stride: 1, pad: 2 },
];

function label(s: ConvShape): string {
  return `[${s.batch}, ${s.cin}, ${s.h}, ${s.w}] * ${s.cout}x${s.k}x${s.k} s${s.stride} p${s.pad}`;
}

function inputs(s: ConvShape, seed: number) {
  const oh = outSize(s.h, s.k, s.stride, s.pad);
  const ow = outSize(s.w, s.k, s.stride, s.pad);
  return {
    x: f32(uniform(s.batch * s.cin * s.h * s.w, seed, -1, 1)),
    w: f32(uniform(s.cout * s.cin * s.k * s.k, seed + 1, -1, 1)),
    b: f32(uniform(s.cout, seed + 2, -1, 1)),
    dy: f32(uniform(s.batch * s.cout * oh * ow, seed + 3, -1, 1)),
    yShape: [s.batch, s.cout, oh, ow],
  };
}

// f32 sums of up to a few hundred products of values in [-1, 1].
const TOL = { atol: 2e-4, rtol: 1e-4 };

const LOWERINGS = ['implicit', 'im2col'] as const;
type Lowering = (typeof LOWERINGS)[number];

/**
 * Runs `body` with every convolution lowered one way. `maxBytes` bounds the column buffer: a
 * small bound makes the im2col lowering split the batch into groups of images.
 */
async function withLowering(lowering: Lowering, body: () => Promise<void>, maxBytes?: number, keepBytes?: number): Promise<void> {
  const previous = { lowering: conv2dConfig.lowering, ...im2colConfig };
  conv2dConfig.lowering = lowering;
  if (maxBytes !== undefined) im2colConfig.maxBytes = maxBytes;
  if (keepBytes !== undefined) im2colConfig.keepBytes = keepBytes;
  try {
    await body();
  } finally {
    conv2dConfig.lowering = previous.lowering;
    im2colConfig.maxBytes = previous.maxBytes;
    im2colConfig.keepBytes = previous.keepBytes;
  }
}

const cases: Case[] = [];

for (const lowering of LOWERINGS) SHAPES.forEach((s, index) => {
  cases.push({
    name: `forward ${label(s)}, ${lowering}`,
    run: () => withLowering(lowering, async () => {
      const { x, w, b, yShape } = inputs(s, 10 * index);
      for (const withBias of [false, true]) {
        const y = tidy(() =>
          K.conv2dForward(tensor(x, [s.batch, s.cin, s.h, s.w]), tensor(w, [s.cout, s.cin, s.k, s.k]), withBias ? tensor(b, [s.cout]) : null, { stride: s.stride, padding: s.pad }),
        );
        assertEqual(y.shape, yShape, 'output shape');
        assertClose(await y.data(), conv2dRef(x, w, withBias ? b : null, s), `conv2d ${withBias ? 'with' : 'without'} bias`, TOL);
        y.dispose();
      }
    }),
  });
  cases.push({
    name: `input and weight gradients ${label(s)}, ${lowering}`,
    run: () => withLowering(lowering, async () => {
      const { x, w, dy, yShape } = inputs(s, 10 * index + 5);
      const expected = conv2dGradRef(x, w, dy, s);
      const [dx, dw] = tidy(() => {
        const conv = { stride: s.stride, padding: s.pad };
        const wt = tensor(w, [s.cout, s.cin, s.k, s.k]);
        const dyt = tensor(dy, yShape);
        return [
          K.conv2dBackwardData(dyt, wt, [s.batch, s.cin, s.h, s.w], conv),
          K.conv2dBackwardWeight(dyt, tensor(x, [s.batch, s.cin, s.h, s.w]), wt.shape, conv),
        ];
      });
      assertClose(await dx.data(), expected.dx, 'dx', TOL);
      assertClose(await dw.data(), expected.dw, 'dw', TOL);
      dx.dispose();
      dw.dispose();
    }),
  });
});

// A training step keeps the forward pass's columns for the backward pass when they fit
// `im2colConfig.keepBytes` (every shape here by default, none with a bound of 0). The op's output
// and both gradients must match the references either way. 1x1 convolutions on maps of 32
// pixels or more run as per-image GEMMs, which build no columns to keep.
for (const keepBytes of [im2colConfig.keepBytes, 0]) SHAPES.forEach((s, index) => cases.push({
  name: `op forward and gradients ${label(s)}, im2col, columns ${keepBytes ? 'kept' : 'rebuilt'}`,
  run: () => withLowering('im2col', async () => {
    const { x, w, dy, yShape } = inputs(s, 10 * index + 7);
    const conv = { stride: s.stride, padding: s.pad };
    const xt = tensor(x, [s.batch, s.cin, s.h, s.w], { requiresGrad: true, name: 'x' });
    const wt = tensor(w, [s.cout, s.cin, s.k, s.k], { requiresGrad: true, name: 'w' });
    const pointwisePerImage = s.k === 1 && s.stride === 1 && s.pad === 0 && s.h * s.w >= 32;
    const columnsKept = tidy(() => K.conv2dForwardTraining(xt, wt, conv).columns !== null);
    assertEqual(columnsKept, keepBytes > 0 && !pointwisePerImage, 'columns kept');

    const y = tidy(() => {
      const out = ops.conv2d(xt, wt, null, conv);
      out.backward(tensor(dy, yShape));
      return out;
    });
    const expected = conv2dGradRef(x, w, dy, s);
    assertClose(await y.data(), conv2dRef(x, w, null, s), 'y', TOL);
    assertClose(await xt.grad!.data(), expected.dx, 'dx', TOL);
    assertClose(await wt.grad!.data(), expected.dw, 'dw', TOL);
    for (const t of [y, xt.grad!, wt.grad!, xt, wt]) t.dispose();
  }, undefined, keepBytes),
}));

// The columns of one image are 3 * 9 * P floats: 2,700 bytes at 5x5 and 6,912 bytes at 8x8.
// Bounds of 6,000 and 15,000 bytes make groups of 2, 2 and 1 images, and the weight gradient
// sums over the three groups. 5x5 maps (25 pixels) run as one GEMM per group over k-major
// columns, 8x8 maps (64 pixels) as one GEMM per image.
for (const [side, maxBytes] of [[5, 6000], [8, 15000]]) {
  cases.push({
    name: `im2col in groups of images, ${side}x${side}`,
    run: () => withLowering('im2col', async () => {
      const s: ConvShape = { batch: 5, cin: 3, h: side, w: side, cout: 4, k: 3, stride: 1, pad: 1 };
      const { x, w, dy, yShape } = inputs(s, 55);
      const expected = conv2dGradRef(x, w, dy, s);
      const xShape = [5, 3, side, side];
      const [y, dx, dw] = tidy(() => {
        const xt = tensor(x, xShape);
        const wt = tensor(w, [4, 3, 3, 3]);
        const dyt = tensor(dy, yShape);
        return [
          K.conv2dForward(xt, wt, null, { padding: 1 }),
          K.conv2dBackwardData(dyt, wt, xShape, { padding: 1 }),
          K.conv2dBackwardWeight(dyt, xt, wt.shape, { padding: 1 }),
        ];
      });
      assertClose(await y.data(), conv2dRef(x, w, null, s), 'y', TOL);
      assertClose(await dx.data(), expected.dx, 'dx', TOL);
      assertClose(await dw.data(), expected.dw, 'dw', TOL);
      for (const t of [y, dx, dw]) t.dispose();
    }, maxBytes),
  });
}

// 1x1 convolutions run as GEMMs by default; the implicit-GEMM kernel must agree.
for (const s of SHAPES.filter((shape) => shape.k === 1)) {
  cases.push({
    name: `implicit GEMM for 1x1 ${label(s)}`,
    run: () => withLowering('implicit', async () => {
      const { x, w, dy, yShape } = inputs(s, 99);
      conv2dConfig.pointwiseAsGemm = false;
      try {
        const [y, dx] = tidy(() => {
          const wt = tensor(w, [s.cout, s.cin, 1, 1]);
          return [
            K.conv2dForward(tensor(x, [s.batch, s.cin, s.h, s.w]), wt, null),
            K.conv2dBackwardData(tensor(dy, yShape), wt, [s.batch, s.cin, s.h, s.w]),
          ];
        });
        assertClose(await y.data(), conv2dRef(x, w, null, s), 'y', TOL);
        assertClose(await dx.data(), conv2dGradRef(x, w, dy, s).dx, 'dx', TOL);
        y.dispose();
        dx.dispose();
      } finally {
        conv2dConfig.pointwiseAsGemm = true;
      }
    }),
  });
}

cases.push({
  name: 'weight gradient with a split K',
  run: () => withLowering('implicit', async () => {
    // 2 * 40 * 40 = 3200 pixels of K: the kernel splits them and sums the partial results.
    const s: ConvShape = { batch: 2, cin: 3, h: 40, w: 40, cout: 4, k: 3, stride: 1, pad: 1 };
    const { x, w, dy, yShape } = inputs(s, 77);
    const dw = tidy(() => K.conv2dBackwardWeight(tensor(dy, yShape), tensor(x, [2, 3, 40, 40]), [4, 3, 3, 3], { padding: 1 }));
    assertClose(await dw.data(), conv2dGradRef(x, w, dy, s).dw, 'dw', { atol: 1e-3, rtol: 1e-4 });
    dw.dispose();
  }),
});

// Read channels [0, 3) of a [2, 7, S, S] map and add the result into channels [4, 6) of a
// [2, 9, O, O] map, whose other channels must stay as they were. Stride 2 on 5x5 gives 9 output
// pixels (k-major columns in the im2col lowering), stride 1 on 6x6 gives 36 (image-major), and
// the same two with input and output in one buffer, as in a dense block.
for (const lowering of LOWERINGS) {
  for (const [side, stride, shared] of [[5, 2, false], [6, 1, false], [6, 1, true]] as const) {
    {
      cases.push({
        name: `channel views and accumulation, ${side}x${side} stride ${stride}${shared ? ', one buffer' : ''}, ${lowering}`,
        run: () => withLowering(lowering, async () => {
          const out = outSize(side, 3, stride, 1);
          const inPlane = side * side;
          const outPlane = out * out;
          const s: ConvShape = { batch: 2, cin: 3, h: side, w: side, cout: 2, k: 3, stride, pad: 1 };
          const big = f32(uniform(2 * 7 * inPlane, 1, -1, 1));
          const w = f32(uniform(2 * 3 * 9, 2, -1, 1));
          const target = f32(uniform(2 * 9 * outPlane, 3, -1, 1));
          const x = new Float64Array(2 * 3 * inPlane);
          for (let n = 0; n < 2; n++) x.set(big.subarray(n * 7 * inPlane, n * 7 * inPlane + 3 * inPlane), n * 3 * inPlane);
          const conv = conv2dRef(x, w, null, s);

          if (shared) {
            // One [2, 7, 6, 6] map: read channels [0, 3), add into channels [4, 6).
            const expected = Float64Array.from(big);
            for (let n = 0; n < 2; n++) for (let i = 0; i < 2 * outPlane; i++) expected[n * 7 * inPlane + 4 * inPlane + i] += conv[n * 2 * outPlane + i];
            const map = tensor(big, [2, 7, side, side]);
            tidy(() => K.conv2dForward(K.channelSlice(map, 0, 3), tensor(w, [2, 3, 3, 3]), null, { stride, padding: 1 }, K.channelSlice(map, 4, 2), 1));
            assertClose(await map.data(), expected, 'accumulated slice of the same map', TOL);
            map.dispose();
            return;
          }
          const expected = Float64Array.from(target);
          for (let n = 0; n < 2; n++) for (let i = 0; i < 2 * outPlane; i++) expected[n * 9 * outPlane + 4 * outPlane + i] += conv[n * 2 * outPlane + i];
          const outMap = tensor(target, [2, 9, out, out]);
          tidy(() => {
            const src = tensor(big, [2, 7, side, side]);
            K.conv2dForward(K.channelSlice(src, 0, 3), tensor(w, [2, 3, 3, 3]), null, { stride, padding: 1 }, K.channelSlice(outMap, 4, 2), 1);
          });
          assertClose(await outMap.data(), expected, 'accumulated slice', TOL);
          outMap.dispose();
        }),
      });
    }
  }
}

cases.push({
  name: 'shape errors name both shapes',
  run: async () => {
    const x = tensor(new Float32Array(2 * 5 * 4 * 4), [2, 5, 4, 4]);
    const w = tensor(new Float32Array(8 * 3 * 9), [8, 3, 3, 3]);
    await assertThrows(() => K.conv2dForward(x, w, null), /input channels 5 do not match weight \[8, 3, 3, 3\]/, 'channel mismatch');
    const big = tensor(new Float32Array(8 * 5 * 9 * 9), [8, 5, 9, 9]);
    await assertThrows(() => K.conv2dForward(big, w, null), /input channels 5/, 'channel mismatch');
    for (const t of [x, w, big]) t.dispose();
  },
});

const GRAD_SHAPES: ConvShape[] = [
  { batch: 2, cin: 3, h: 5, w: 4, cout: 4, k: 3, stride: 1, pad: 1 },
  { batch: 1, cin: 2, h: 7, w: 7, cout: 3, k: 7, stride: 2, pad: 3 },
  { batch: 2, cin: 5, h: 3, w: 3, cout: 3, k: 1, stride: 1, pad: 0 },
];

for (const s of GRAD_SHAPES) {
  cases.push({
    name: `backward finite differences ${label(s)}`,
    run: async () => {
      const x = tensor(uniform(s.batch * s.cin * s.h * s.w, 1, -1, 1), [s.batch, s.cin, s.h, s.w], { requiresGrad: true, name: 'x' });
      const w = tensor(uniform(s.cout * s.cin * s.k * s.k, 2, -0.5, 0.5), [s.cout, s.cin, s.k, s.k], { requiresGrad: true, name: 'w' });
      const b = tensor(uniform(s.cout, 3, -1, 1), [s.cout], { requiresGrad: true, name: 'b' });
      await gradcheck((xi, wi, bi) => ops.conv2d(xi, wi, bi, { stride: s.stride, padding: s.pad }), [x, w, b], { maxElements: 20 });
      for (const t of [x, w, b]) {
        t.grad?.dispose();
        t.dispose();
      }
    },
  });
}

// 4x4 maps take k-major columns in the im2col lowering (16 pixels per image), 6x6 maps
// image-major ones (36 pixels).
for (const lowering of LOWERINGS) for (const side of [4, 6]) cases.push({
  name: `dense concatenation backward, finite differences, ${side}x${side}, ${lowering}`,
  run: () => withLowering(lowering, async () => {
    // A two-layer dense block on a [2, 7, side, side] map: a stem writes channels [0, 3), layer
    // 1 reads them and writes [3, 5), layer 2 reads [0, 5) and writes [5, 7), and the output
    // reads all 7 channels. Every gradient flows through the map's one gradient buffer.
    const x = tensor(uniform(2 * 2 * side * side, 4, -1, 1), [2, 2, side, side], { requiresGrad: true, name: 'x' });
    const w0 = tensor(uniform(3 * 2, 5, -1, 1), [3, 2, 1, 1], { requiresGrad: true, name: 'w0' });
    const w1 = tensor(uniform(2 * 3 * 9, 6, -0.5, 0.5), [2, 3, 3, 3], { requiresGrad: true, name: 'w1' });
    const w2 = tensor(uniform(2 * 5 * 9, 7, -0.5, 0.5), [2, 5, 3, 3], { requiresGrad: true, name: 'w2' });
    const w3 = tensor(uniform(3 * 7, 8, -1, 1), [3, 7, 1, 1], { requiresGrad: true, name: 'w3' });
    const block = (xi: Tensor, a: Tensor, b: Tensor, c: Tensor, d: Tensor) => {
      const map = new FeatureMap([2, 7, side, side]);
      ops.conv2d(xi, a, null, { into: map });
      ops.conv2d(map.prefix(), b, null, { padding: 1, into: map });
      ops.conv2d(map.prefix(), c, null, { padding: 1, into: map });
      return ops.conv2d(map.prefix(), d);
    };
    await gradcheck(block, [x, w0, w1, w2, w3], { maxElements: 16 });
    for (const t of [x, w0, w1, w2, w3]) {
      t.grad?.dispose();
      t.dispose();
    }
  }),
});

// A dense block's passes at batch 4, then 7 and 2: shapes travel in uniforms and the column
// layouts are padded to aligned rows, so the new batch sizes compile no new pipeline. (Batch 1
// on a 1x1 map is left out: there the sum's gradient has the shape of its input, and the
// elementwise kernel takes its non-broadcasting variant.)
for (const lowering of LOWERINGS) cases.push({
  name: `new batch size compiles nothing, ${lowering}`,
  run: () => withLowering(lowering, async () => {
    const w0 = tensor(uniform(3 * 2, 5, -1, 1), [3, 2, 1, 1], { requiresGrad: true, name: 'w0' });
    const w1 = tensor(uniform(2 * 3 * 9, 6, -0.5, 0.5), [2, 3, 3, 3], { requiresGrad: true, name: 'w1' });
    const w2 = tensor(uniform(5, 7, -1, 1), [1, 5, 1, 1], { requiresGrad: true, name: 'w2' });
    const step = async (batch: number, side: number) => {
      const x = tensor(uniform(batch * 2 * side * side, batch, -1, 1), [batch, 2, side, side], { requiresGrad: true, name: 'x' });
      tidy(() => {
        const map = new FeatureMap([batch, 5, side, side]);
        ops.conv2d(x, w0, null, { into: map });
        ops.conv2d(map.prefix(), w1, null, { padding: 1, into: map });
        ops.sum(ops.conv2d(map.prefix(), w2)).backward();
      });
      await x.grad!.data();
      for (const t of [x, x.grad!]) t.dispose();
      for (const w of [w0, w1, w2]) {
        w.grad!.dispose();
        w.grad = null;
      }
    };
    for (const side of [1, 2, 6]) await step(4, side);
    const compiled = getEngine().stats().pipelines;
    for (const side of [1, 2, 6]) {
      await step(7, side);
      await step(2, side);
    }
    assertEqual(getEngine().stats().pipelines, compiled, 'pipelines after batches 7 and 2');
    for (const w of [w0, w1, w2]) w.dispose();
  }),
});

export default suite('conv2d', cases);
