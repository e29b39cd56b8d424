/**
 * conv2d lowered to an explicit column matrix and GEMMs (shaders/im2col.wgsl, src/kernels/gemm.ts).
 *
 * The implicit-GEMM kernels gather the input inside a workgroup-memory tiled loop. On software
 * adapters that loop is slow for the narrow convolutions of a dense block (8 to 32 output
 * channels). Profiled on lavapipe (Mesa 25.0.7, 2 cores), a 3x3 convolution from 32 to 8
 * channels at 8x8, batch 32, ran at 0.2 GFLOP/s. Its three passes took 4x as long as writing
 * the columns once and multiplying them with the register GEMM. The cost is a
 * temporary column buffer. The buffer is bounded by processing the batch in
 * groups of images; a convolution whose columns for one image exceed the bound is not lowered.
 *
 *   forward        cols = im2col(x)            [images, K, P]   y = w cols           (per image)
 *   input grad     dcols = w^T dy              [images, K, P]   dx = col2im(dcols)
 *   weight grad    cols = im2col(x), k-major   [K, images * P]  dw = dy_k cols^T    (one GEMM)
 * with K = C_in * KH * KW and P = OH * OW; dy_k is dy rearranged as [C_out, images * P] by the
 * same im2col kernel with a 1x1 window. Below 32 output pixels per image, the forward and
 * input-gradient passes also use k-major columns, so that each is one GEMM over the batch.
 *
 * In training, a convolution whose columns fit `im2colConfig.keepBytes` runs its forward pass
 * on k-major columns at any size and keeps them for the backward pass. That pass rearranges dy
 * once for both gradients and does not rebuild the columns of x:
 *   forward        cols = im2col(x), k-major   y_k = w cols                 y = y_k rearranged
 *   backward       dy_k = dy rearranged        dx = col2im(w^T dy_k)        dw = dy_k cols^T
 * With stride 1 and fewer output than input channels, as in a dense layer's 3x3 convolution
 * from 32 channels to 8, the input gradient instead runs as a convolution of dy with the
 * flipped kernel (transposedGeometry), whose columns have C_out rows per tap instead of C_in.
 * That writes and rereads a smaller column matrix than w^T dy and col2im.
 *
 * Writing the columns once instead of twice halved the im2col time of the study's reduced
 * DenseNet121 on lavapipe (about 6% of its training step), for about 32 MB of kept columns at
 * batch 32 (an estimate from its layer shapes).
 */
import im2colSource from '../../shaders/im2col.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor } from '../autograd/tensor.ts';
import { gemmInto } from './gemm.ts';
import type { ConvGeometry, FeatureView } from './conv2d.ts';

const WORKGROUP = 256;
/** Upper bound of one column buffer in bytes; larger convolutions run in groups of images. Tests lower it. */
export const im2colConfig = { maxBytes: 64 * 2 ** 20, keepBytes: 16 * 2 ** 20 };
/** Output pixels per image below which the batch shares one GEMM: the register GEMM's tile width. */
const BATCH_WIDE_BELOW = 32;

/** Images per group whose column buffer fits the bound, or 0 when one image does not fit. */
export function im2colImagesPerGroup(g: ConvGeometry): number {
  const rows = g.inChannels * g.kernelH * g.kernelW;
  const perImage = rows * g.outHeight * g.outWidth * 4;
  // k-major rows are padded by up to 3 columns (see rowStrideOf).
  const bound = Math.min(im2colConfig.maxBytes, getEngine().limits.maxStorageBufferBindingSize) - rows * 3 * 4;
  return Math.max(0, Math.min(g.batch, Math.floor(bound / Math.max(4, perImage))));
}

/**
 * Returns whether training keeps this convolution's forward columns for its backward pass:
 * when the whole batch fits one k-major column buffer of at most `im2colConfig.keepBytes`.
 */
export function keepsColumns(g: ConvGeometry): boolean {
  const rows = g.inChannels * g.kernelH * g.kernelW;
  const bytes = rows * rowStrideOf(g.batch, g.outHeight * g.outWidth) * 4;
  return bytes <= im2colConfig.keepBytes && im2colImagesPerGroup(g) >= g.batch;
}

/**
 * Returns the convolution of dy that gives a stride-1 convolution's input gradient: the same
 * square kernel, flipped, with the channel counts swapped and padding KH - 1 - padding, which
 * maps OH x OW back to H x W. Returns null for other strides, non-square or 1x1 kernels and
 * padding over KH - 1. Also returns null with at least as many output as input channels,
 * because then its columns would be no smaller than those of w^T dy.
 */
export function transposedGeometry(g: ConvGeometry): ConvGeometry | null {
  const applies = g.stride === 1 && g.kernelH === g.kernelW && g.kernelH > 1 && g.padding <= g.kernelH - 1;
  if (!applies || g.outChannels >= g.inChannels) return null;
  const transposed = {
    batch: g.batch, inChannels: g.outChannels, height: g.outHeight, width: g.outWidth,
    outChannels: g.inChannels, outHeight: g.height, outWidth: g.width,
    kernelH: g.kernelH, kernelW: g.kernelW, stride: 1, padding: g.kernelH - 1 - g.padding,
  };
  return im2colImagesPerGroup(transposed) > 0 ? transposed : null;
}

/** Returns the flipped kernel [C_in, C_out, KH, KW] of a stride-1 input gradient (see transposedGeometry). */
function flipKernel(weight: Tensor, g: ConvGeometry): Tensor {
  const flipped = Tensor.empty([g.inChannels, g.outChannels, g.kernelH, g.kernelW], 'f32', 'conv2d.flipped kernel');
  // The shader reads C_out from `batch` and C_in from `c_in`.
  const window: Window = { ...g, batch: g.outChannels };
  getEngine().dispatch({
    kernel: { family: 'im2col', source: im2colSource, entry: 'flip_kernel', defines: { WORKGROUP } },
    bindings: [weight.binding(), flipped.binding()],
    uniforms: windowUniforms(window, 0, 0, false, 0),
    workgroups: Math.ceil(flipped.size / WORKGROUP),
  });
  return flipped;
}

/** Input gradient of a stride-1 convolution as the forward pass of its transposed geometry. */
function backwardDataTransposed(dy: FeatureView, weight: Tensor, transposed: ConvGeometry, g: ConvGeometry, dx: FeatureView, beta: number): void {
  const flipped = flipKernel(weight, g);
  conv2dForwardIm2col(dy, flipped, transposed, dx, beta);
  flipped.dispose();
}

/** The window of a convolution that im2col and col2im walk: its geometry without the outputs. */
type Window = Omit<ConvGeometry, 'outChannels'>;

function windowOf(g: ConvGeometry, batch: number): Window {
  return { ...g, batch };
}

/**
 * Returns a 1x1 window over the convolution's output: it rearranges a [images, C_out, OH, OW]
 * view (y or dy) into k-major [C_out, images * OH * OW] and back.
 */
function outputWindow(g: ConvGeometry, images: number): Window {
  return {
    batch: images, inChannels: g.outChannels, height: g.outHeight, width: g.outWidth,
    outHeight: g.outHeight, outWidth: g.outWidth, kernelH: 1, kernelW: 1, stride: 1, padding: 0,
  };
}

/**
 * Row stride of k-major columns for `images` images of `plane` pixels: rounded up to a
 * multiple of 4, so that the GEMM reads aligned vec4 runs (and compiles the same pipeline)
 * whatever the batch size. The padding columns are never written and never stored from.
 */
function rowStrideOf(images: number, plane: number): number {
  return Math.ceil((images * plane) / 4) * 4;
}

function windowUniforms(w: Window, offset: number, batchStride: number, kMajor: boolean, beta: number): ArrayBuffer {
  return new Uniforms(16)
    .u32(w.batch, w.inChannels, w.height, w.width, w.outHeight, w.outWidth, w.kernelH, w.kernelW, w.stride, w.padding, offset, batchStride, kMajor ? 1 : 0)
    .f32(beta)
    .u32(rowStrideOf(w.batch, w.outHeight * w.outWidth), 0)
    .finish();
}

/** Writes the column matrix of `w.batch` images of a view starting at element `offset` into `cols`. */
function im2col(source: Tensor, offset: number, batchStride: number, w: Window, kMajor: boolean, cols: Tensor): void {
  const rows = w.inChannels * w.kernelH * w.kernelW;
  getEngine().dispatch({
    kernel: { family: 'im2col', source: im2colSource, defines: { WORKGROUP } },
    bindings: [source.binding(), cols.binding()],
    uniforms: windowUniforms(w, offset, batchStride, kMajor, 0),
    workgroups: Math.ceil((w.batch * rows) / WORKGROUP),
  });
}

/**
 * Returns a temporary for the columns of `rows` rows of the largest group of `images` images
 * of `plane` pixels, in either layout. Every group reuses it: dispatches run in order, and the
 * pool would not hand a freed buffer out again before the next submit, so a buffer per group
 * would multiply the memory the bound allows.
 */
function scratch(rows: number, images: number, plane: number, kMajor: boolean, name: string): Tensor {
  return Tensor.empty([rows, kMajor ? rowStrideOf(images, plane) : images * plane], 'f32', name);
}

/** Sums columns back into a view starting at element `offset` (`beta` 1 adds). */
function col2im(cols: Tensor, target: Tensor, offset: number, batchStride: number, w: Window, kMajor: boolean, beta: number): void {
  const size = w.batch * w.inChannels * w.height * w.width;
  const rearrangement = kMajor && w.kernelH === 1 && w.kernelW === 1 && w.stride === 1 && w.padding === 0;
  getEngine().dispatch({
    kernel: { family: 'im2col', source: im2colSource, entry: rearrangement ? 'rearrange' : 'col2im', defines: { WORKGROUP } },
    bindings: [cols.binding(), target.binding()],
    uniforms: windowUniforms(w, offset, batchStride, kMajor, beta),
    workgroups: Math.ceil((rearrangement ? w.batch * w.inChannels : size) / WORKGROUP),
  });
}

/** Splits the batch into groups of images [start, start + count) that each fit the column bound. */
function imageGroups(batch: number, perGroup: number): { start: number; count: number }[] {
  const groups: { start: number; count: number }[] = [];
  for (let start = 0; start < batch; start += perGroup) groups.push({ start, count: Math.min(perGroup, batch - start) });
  return groups;
}

/**
 * Returns whether a convolution with `plane` output pixels per image runs on k-major columns.
 * A per-image GEMM is only `plane` columns wide, which leaves most of a GEMM tile idle in the
 * small maps at the end of a dense network (4 or 1 pixels). One GEMM over the batch fills its
 * tiles, at the cost of rearranging the output (or the output gradient) too.
 */
export function batchWide(plane: number): boolean {
  return plane < BATCH_WIDE_BELOW;
}

/**
 * Forward without bias: y = conv(x, w), into the view `y` (`beta` 1 adds to it). With `keep`
 * (see keepsColumns), the pass runs on k-major columns and returns them to the caller, who
 * passes them to conv2dBackwardKeptIm2col; otherwise it returns null.
 */
export function conv2dForwardIm2col(x: FeatureView, weight: Tensor, g: ConvGeometry, y: FeatureView, beta: number, keep = false): Tensor | null {
  const rows = g.inChannels * g.kernelH * g.kernelW;
  const plane = g.outHeight * g.outWidth;
  const wide = keep || batchWide(plane);
  const perGroup = keep ? g.batch : im2colImagesPerGroup(g);
  const cols = scratch(rows, perGroup, plane, wide, keep ? 'conv2d.saved columns' : 'conv2d.columns');
  const product = wide ? scratch(g.outChannels, perGroup, plane, true, 'conv2d.output columns') : null;
  for (const group of imageGroups(g.batch, perGroup)) {
    im2col(x.tensor, x.offset + group.start * x.batchStride, x.batchStride, windowOf(g, group.count), wide, cols);
    const yOffset = y.offset + group.start * y.batchStride;
    if (product) {
      // y_k[C_out, images * P] = w[C_out, K] cols[K, images * P], then back into the view.
      const ld = rowStrideOf(group.count, plane);
      gemmInto({ a: weight, b: cols, c: product, m: g.outChannels, n: group.count * plane, k: rows, ldb: ld, ldc: ld });
      col2im(product, y.tensor, yOffset, y.batchStride, outputWindow(g, group.count), true, beta);
    } else {
      // Per image: y[C_out, P] = w[C_out, K] cols[K, P], the weights shared by the group.
      gemmInto({
        a: weight, b: cols, c: y.tensor, m: g.outChannels, n: plane, k: rows, batch: group.count,
        aBatchStride: 0, bBatchStride: rows * plane, cOffset: yOffset, cBatchStride: y.batchStride, beta,
      });
    }
  }
  product?.dispose();
  if (keep) return cols;
  cols.dispose();
  return null;
}

/**
 * Both gradients from the columns that the forward pass kept: writes dx into the view `dx`
 * (`beta` 1 adds to it) unless it is null, and returns dw [C_out, C_in, KH, KW].
 */
export function conv2dBackwardKeptIm2col(dy: FeatureView, weight: Tensor, columns: Tensor, g: ConvGeometry, dx: FeatureView | null, beta: number): Tensor {
  const rows = g.inChannels * g.kernelH * g.kernelW;
  const plane = g.outHeight * g.outWidth;
  const ld = rowStrideOf(g.batch, plane);
  if (columns.rank !== 2 || columns.shape[0] !== rows || columns.shape[1] !== ld) {
    throw new Error(`conv2d: saved columns [${columns.shape.join(', ')}] do not match this convolution's [${rows}, ${ld}]`);
  }

  // dy_k[C_out, B * P], shared by both gradients.
  const gradients = scratch(g.outChannels, g.batch, plane, true, 'conv2d.output gradient columns');
  im2col(dy.tensor, dy.offset, dy.batchStride, outputWindow(g, g.batch), true, gradients);

  const transposed = dx ? transposedGeometry(g) : null;
  if (dx && transposed) {
    backwardDataTransposed(dy, weight, transposed, g, dx, beta);
  } else if (dx) {
    // dcols[K, B * P] = w^T[K, C_out] dy_k[C_out, B * P], summed back into the image.
    const dcols = scratch(rows, g.batch, plane, true, 'conv2d.column gradient');
    gemmInto({ a: weight, b: gradients, c: dcols, m: rows, n: g.batch * plane, k: g.outChannels, transA: true, ldb: ld, ldc: ld });
    col2im(dcols, dx.tensor, dx.offset, dx.batchStride, windowOf(g, g.batch), true, beta);
    dcols.dispose();
  }

  // dw[C_out, K] = dy_k[C_out, B * P] cols[K, B * P]^T.
  const dw = Tensor.empty([g.outChannels, g.inChannels, g.kernelH, g.kernelW], 'f32', 'conv2d.dw');
  gemmInto({ a: gradients, b: columns, c: dw, m: g.outChannels, n: rows, k: g.batch * plane, transB: true, lda: ld, ldb: ld });
  gradients.dispose();
  return dw;
}

/**
 * Input gradient into the view `dx` (`beta` 1 adds to it): dx = col2im(w^T dy), or a
 * convolution of dy with the flipped kernel where transposedGeometry applies.
 */
export function conv2dBackwardDataIm2col(dy: FeatureView, weight: Tensor, g: ConvGeometry, dx: FeatureView, beta: number): void {
  const transposed = transposedGeometry(g);
  if (transposed) {
    backwardDataTransposed(dy, weight, transposed, g, dx, beta);
    return;
  }
  const rows = g.inChannels * g.kernelH * g.kernelW;
  const plane = g.outHeight * g.outWidth;
  const wide = batchWide(plane);
  const perGroup = im2colImagesPerGroup(g);
  const cols = scratch(rows, perGroup, plane, wide, 'conv2d.column gradient');
  const gradients = wide ? scratch(g.outChannels, perGroup, plane, true, 'conv2d.output gradient columns') : null;
  for (const group of imageGroups(g.batch, perGroup)) {
    const dyOffset = dy.offset + group.start * dy.batchStride;
    if (gradients) {
      // dcols[K, images * P] = w^T[K, C_out] dy_k[C_out, images * P].
      const ld = rowStrideOf(group.count, plane);
      im2col(dy.tensor, dyOffset, dy.batchStride, outputWindow(g, group.count), true, gradients);
      gemmInto({ a: weight, b: gradients, c: cols, m: rows, n: group.count * plane, k: g.outChannels, transA: true, ldb: ld, ldc: ld });
    } else {
      // Per image: dcols[K, P] = w^T[K, C_out] dy[C_out, P].
      gemmInto({
        a: weight, b: dy.tensor, c: cols, m: rows, n: plane, k: g.outChannels, batch: group.count, transA: true,
        aBatchStride: 0, bOffset: dyOffset, bBatchStride: dy.batchStride, cBatchStride: rows * plane,
      });
    }
    col2im(cols, dx.tensor, dx.offset + group.start * dx.batchStride, dx.batchStride, windowOf(g, group.count), wide, beta);
  }
  cols.dispose();
  gradients?.dispose();
}

/** Weight gradient: a new [C_out, C_in, KH, KW] tensor, dw = sum over images of dy cols^T. */
export function conv2dBackwardWeightIm2col(dy: FeatureView, x: FeatureView, g: ConvGeometry, weightShape: readonly number[]): Tensor {
  const rows = g.inChannels * g.kernelH * g.kernelW;
  const plane = g.outHeight * g.outWidth;
  const dw = Tensor.empty([...weightShape], 'f32', 'conv2d.dw');
  const perGroup = im2colImagesPerGroup(g);
  const cols = scratch(rows, perGroup, plane, true, 'conv2d.columns');
  const gradients = scratch(g.outChannels, perGroup, plane, true, 'conv2d.output gradient columns');
  imageGroups(g.batch, perGroup).forEach((group, index) => {
    const ld = rowStrideOf(group.count, plane);
    im2col(x.tensor, x.offset + group.start * x.batchStride, x.batchStride, windowOf(g, group.count), true, cols);
    im2col(dy.tensor, dy.offset + group.start * dy.batchStride, dy.batchStride, outputWindow(g, group.count), true, gradients);
    // dw[C_out, K] (+)= dy_k[C_out, images * P] cols[K, images * P]^T; later groups add.
    gemmInto({
      a: gradients, b: cols, c: dw, m: g.outChannels, n: rows, k: group.count * plane, transB: true, lda: ld, ldb: ld, beta: index === 0 ? 0 : 1,
    });
  });
  cols.dispose();
  gradients.dispose();
  return dw;
}
