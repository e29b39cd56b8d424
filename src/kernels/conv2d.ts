/**
 * conv2d kernels: forward, gradient of the input and gradient of the weights, each an implicit
 * GEMM over a tiled core (shaders/conv2d.wgsl), so no im2col buffer is ever built.
 *
 * Layout is NCHW; weights are [C_out, C_in, KH, KW] as in PyTorch. Activations are passed as
 * feature views: a tensor plus an element offset and a batch stride, so that a kernel can read
 * the first C channels of a larger feature map or write its output into a channel slice of one
 * (the zero-copy concatenation of a dense block). Results can be added to the destination
 * (`beta` 1) instead of overwriting it.
 */
import coreSource from '../../shaders/conv2d.wgsl';
import forwardSource from '../../shaders/conv2d_forward.wgsl';
import backwardDataSource from '../../shaders/conv2d_backward_data.wgsl';
import backwardWeightSource from '../../shaders/conv2d_backward_weight.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape, type Shape } from '../autograd/tensor.ts';
import { reduce } from './reduce.ts';
import { gemmInto } from './gemm.ts';
import { batchWide, conv2dBackwardDataIm2col, conv2dBackwardKeptIm2col, conv2dBackwardWeightIm2col, conv2dForwardIm2col, im2colImagesPerGroup, keepsColumns } from './im2col.ts';

/** Threads per workgroup side; every tile size below is a multiple of it. */
const WG = 16;
const TILE_N = 64;
const TILE_K = 16;
/** Workgroups the weight-gradient kernel aims for before it stops splitting K. */
const WEIGHT_GRAD_TARGET_WORKGROUPS = 512;
/** Minimum pixels of K per split of the weight-gradient kernel. */
const WEIGHT_GRAD_MIN_CHUNK = 1024;

/**
 * Runtime switches, which tests change to check every path.
 * - `pointwiseAsGemm`: 1x1 convolutions without bias (DenseNet's bottlenecks and transitions)
 *   run their forward and input-gradient passes as batched GEMMs (src/kernels/gemm.ts) instead
 *   of the implicit-GEMM kernel.
 * - `lowering` of the other convolutions without bias: `implicit` (the implicit-GEMM kernels),
 *   `im2col` (a column buffer and GEMMs, src/kernels/im2col.ts, when the columns of one image
 *   fit its bound), or `auto`: im2col on software adapters, implicit on GPUs.
 */
export const conv2dConfig: { pointwiseAsGemm: boolean; lowering: 'auto' | 'implicit' | 'im2col' } = { pointwiseAsGemm: true, lowering: 'auto' };

/**
 * A [batch, channels, height, width] window of a tensor's buffer: image `n` starts at element
 * `offset + n * batchStride`, and its channels are contiguous planes of height * width.
 */
export interface FeatureView {
  tensor: Tensor;
  batch: number;
  channels: number;
  height: number;
  width: number;
  offset: number;
  batchStride: number;
}

/** Returns the whole of a 4-D tensor as a feature view. */
export function featureView(t: Tensor): FeatureView {
  if (t.rank !== 4) throw new Error(`expected a 4-D [batch, channels, height, width] tensor; ${t.name} has shape ${formatShape(t.shape)}`);
  const [batch, channels, height, width] = t.shape;
  return { tensor: t, batch, channels, height, width, offset: 0, batchStride: channels * height * width };
}

/** Returns channels [start, start + count) of a 4-D tensor as a feature view. */
export function channelSlice(t: Tensor, start: number, count: number): FeatureView {
  const full = featureView(t);
  if (!Number.isInteger(start) || !Number.isInteger(count) || start < 0 || count < 0 || start + count > full.channels) {
    throw new Error(`channel slice [${start}, ${start + count}) is out of range for ${t.name} ${formatShape(t.shape)}`);
  }
  return { ...full, channels: count, offset: start * full.height * full.width };
}

/** Accepts a tensor or a view; checks that the view lies inside its tensor. */
export function asView(x: Tensor | FeatureView): FeatureView {
  if (x instanceof Tensor) return featureView(x);
  const plane = x.height * x.width;
  const last = x.batch === 0 ? 0 : x.offset + (x.batch - 1) * x.batchStride + x.channels * plane;
  if (last > x.tensor.size) {
    throw new Error(`feature view [${x.batch}, ${x.channels}, ${x.height}, ${x.width}] at offset ${x.offset} overruns ${x.tensor.name} ${formatShape(x.tensor.shape)}`);
  }
  return x;
}

export function viewShape(v: FeatureView): number[] {
  return [v.batch, v.channels, v.height, v.width];
}

export interface Conv2dOptions {
  stride?: number;
  padding?: number;
}

/** Geometry of one convolution, resolved and checked. */
export interface ConvGeometry {
  batch: number;
  inChannels: number;
  height: number;
  width: number;
  outChannels: number;
  outHeight: number;
  outWidth: number;
  kernelH: number;
  kernelW: number;
  stride: number;
  padding: number;
}

/** Output size of a convolution or pooling window along one axis, as PyTorch floors it. */
export function outputSize(size: number, kernel: number, stride: number, padding: number): number {
  return Math.floor((size + 2 * padding - kernel) / stride) + 1;
}

/** Resolves and checks the geometry of x (a view [B, C_in, H, W]) convolved with w [C_out, C_in, KH, KW]. */
export function convGeometry(x: FeatureView, weightShape: Shape, options: Conv2dOptions = {}): ConvGeometry {
  const stride = options.stride ?? 1;
  const padding = options.padding ?? 0;
  if (weightShape.length !== 4) throw new Error(`conv2d: weight must be [C_out, C_in, KH, KW]; got ${formatShape(weightShape)}`);
  const [outChannels, inChannels, kernelH, kernelW] = weightShape;
  if (x.channels !== inChannels) {
    throw new Error(`conv2d: input channels ${x.channels} do not match weight ${formatShape(weightShape)} (expects ${inChannels}); input is [${viewShape(x).join(', ')}]`);
  }
  if (!Number.isInteger(stride) || stride < 1) throw new Error(`conv2d: stride ${stride} must be a positive integer`);
  if (!Number.isInteger(padding) || padding < 0) throw new Error(`conv2d: padding ${padding} must be a non-negative integer`);
  const outHeight = outputSize(x.height, kernelH, stride, padding);
  const outWidth = outputSize(x.width, kernelW, stride, padding);
  if (outHeight < 1 || outWidth < 1) {
    throw new Error(`conv2d: kernel ${kernelH}x${kernelW} with padding ${padding} does not fit input ${x.height}x${x.width}`);
  }
  return { batch: x.batch, inChannels, height: x.height, width: x.width, outChannels, outHeight, outWidth, kernelH, kernelW, stride, padding };
}

/**
 * Returns whether a source view and a destination view live in one buffer, as when a dense
 * block reads its own feature map. Raises if their element ranges overlap, because one
 * dispatch reads the one while it writes the other.
 */
export function sharesBuffer(source: FeatureView, destination: FeatureView): boolean {
  if (source.tensor.storage !== destination.tensor.storage) return false;
  const plane = source.height * source.width;
  const sourceEnd = source.offset + source.channels * plane;
  const destinationEnd = destination.offset + destination.channels * destination.height * destination.width;
  const separate = source.batchStride === destination.batchStride && (sourceEnd <= destination.offset || destinationEnd <= source.offset);
  if (!separate) {
    throw new Error(`a kernel cannot read and write overlapping parts of ${source.tensor.name} ${formatShape(source.tensor.shape)}`);
  }
  return true;
}

function flag(value: boolean): number {
  return value ? 1 : 0;
}

function isPointwise(g: ConvGeometry): boolean {
  return g.kernelH === 1 && g.kernelW === 1 && g.stride === 1 && g.padding === 0;
}

/**
 * Returns whether a convolution pass runs through a column buffer and GEMMs (see
 * `conv2dConfig`). The forward and input-gradient passes of a 1x1 convolution are per-image
 * GEMMs already, so they take this path only on maps too small for a GEMM tile, where one GEMM
 * over the batch is faster. Its weight gradient (`weightGradient`) always gains, because the rearranged
 * operands let one GEMM sum over the whole batch.
 */
function usesIm2col(g: ConvGeometry, hasBias: boolean, weightGradient = false): boolean {
  if (hasBias || conv2dConfig.lowering === 'implicit') return false;
  if (conv2dConfig.lowering === 'auto' && !getEngine().adapter.isSoftware) return false;
  const perImageGemm = conv2dConfig.pointwiseAsGemm && isPointwise(g) && !weightGradient;
  if (perImageGemm && !batchWide(g.outHeight * g.outWidth)) return false;
  return im2colImagesPerGroup(g) > 0;
}

/** Rows per tile: the smallest of 16, 32 and 64 that covers M, so thin outputs waste no threads. */
function tileM(m: number): number {
  if (m <= 16) return 16;
  if (m <= 32) return 32;
  return 64;
}

function tileDefines(m: number, bKFastest: boolean): Record<string, number | boolean> {
  const tm = tileM(m);
  return { WG, TILE_M: tm, TILE_N, TILE_K, THREAD_M: tm / WG, THREAD_N: TILE_N / WG, B_K_FASTEST: bKFastest };
}

function geometryUniforms(g: ConvGeometry): Uniforms {
  return new Uniforms(24).u32(
    g.batch, g.inChannels, g.height, g.width,
    g.outChannels, g.outHeight, g.outWidth, g.kernelH,
    g.kernelW, g.stride, g.padding,
  );
}

function checkView(v: FeatureView, shape: number[], what: string): void {
  const actual = viewShape(v);
  if (actual.some((d, i) => d !== shape[i])) {
    throw new Error(`conv2d: ${what} is [${actual.join(', ')}], expected [${shape.join(', ')}]`);
  }
  asView(v);
}

/**
 * Forward: y = conv(x, w) + bias, written to `out` (a view, `beta` 1 adds to it) or to a new
 * tensor [B, C_out, OH, OW], which is returned.
 */
export function conv2dForward(
  input: Tensor | FeatureView,
  weight: Tensor,
  bias: Tensor | null,
  options: Conv2dOptions = {},
  out?: FeatureView,
  beta = 0,
): Tensor {
  return forwardPass(input, weight, bias, options, out, beta, false).y;
}

/**
 * Forward pass of a training step without bias: conv2dForward, plus the column matrix when this
 * convolution keeps it for the backward pass (on the im2col path, see keepsColumns in
 * im2col.ts). Pass the columns to conv2dBackwardKept; when they are null, use
 * conv2dBackwardData and conv2dBackwardWeight.
 */
export function conv2dForwardTraining(input: Tensor | FeatureView, weight: Tensor, options: Conv2dOptions = {}, out?: FeatureView): { y: Tensor; columns: Tensor | null } {
  return forwardPass(input, weight, null, options, out, 0, true);
}

/** Runs the forward pass; with `keep`, returns the columns of an im2col pass that keepsColumns allows. */
function forwardPass(
  input: Tensor | FeatureView,
  weight: Tensor,
  bias: Tensor | null,
  options: Conv2dOptions,
  out: FeatureView | undefined,
  beta: number,
  keep: boolean,
): { y: Tensor; columns: Tensor | null } {
  const x = asView(input);
  const g = convGeometry(x, weight.shape, options);
  if (bias && (bias.rank !== 1 || bias.shape[0] !== g.outChannels)) {
    throw new Error(`conv2d: bias ${formatShape(bias.shape)} does not match ${g.outChannels} output channels`);
  }
  const outShape = [g.batch, g.outChannels, g.outHeight, g.outWidth];
  const y = out ?? featureView(Tensor.empty(outShape, 'f32', 'conv2d'));
  checkView(y, outShape, 'output view');
  const n = g.batch * g.outHeight * g.outWidth;
  if (n === 0 || g.outChannels === 0) return { y: y.tensor, columns: null };
  const aliased = sharesBuffer(x, y);
  if (usesIm2col(g, bias !== null)) {
    const columns = conv2dForwardIm2col(x, weight, g, y, beta, keep && keepsColumns(g));
    return { y: y.tensor, columns };
  }
  if (conv2dConfig.pointwiseAsGemm && isPointwise(g) && !bias && !aliased) {
    // Per image: y[C_out, HW] = w[C_out, C_in] x[C_in, HW], the weights shared by the batch.
    gemmInto({
      a: weight, b: x.tensor, c: y.tensor, m: g.outChannels, n: g.height * g.width, k: g.inChannels, batch: g.batch,
      aBatchStride: 0, bOffset: x.offset, bBatchStride: x.batchStride, cOffset: y.offset, cBatchStride: y.batchStride, beta,
    });
    return { y: y.tensor, columns: null };
  }

  getEngine().dispatch({
    kernel: {
      family: 'conv2d_forward',
      source: forwardSource + coreSource,
      defines: tileDefines(g.outChannels, false),
    },
    bindings: [(aliased ? weight : x.tensor).binding(), weight.binding(), (bias ?? weight).binding(), y.tensor.binding()],
    uniforms: geometryUniforms(g).u32(x.offset, x.batchStride, y.offset, y.batchStride).f32(beta)
      .u32(flag(isPointwise(g)), flag(bias !== null), flag(aliased)).finish(),
    workgroups: [Math.ceil(n / TILE_N), Math.ceil(g.outChannels / tileM(g.outChannels)), 1],
  });
  return { y: y.tensor, columns: null };
}

/**
 * Both gradients of a convolution whose forward pass kept its columns (conv2dForwardTraining):
 * writes dx into the view `dx` (`beta` 1 adds to it) unless it is null, and returns dw.
 */
export function conv2dBackwardKept(gradOutput: Tensor | FeatureView, weight: Tensor, columns: Tensor, inputShape: Shape, options: Conv2dOptions, dx: FeatureView | null, beta = 0): Tensor {
  const [batch, channels, height, width] = inputShape;
  const g = convGeometry({ tensor: weight, batch, channels, height, width, offset: 0, batchStride: 0 }, weight.shape, options);
  const dy = asView(gradOutput);
  checkView(dy, [g.batch, g.outChannels, g.outHeight, g.outWidth], 'output gradient');
  if (dx) {
    checkView(dx, [batch, channels, height, width], 'input gradient view');
    sharesBuffer(dy, dx);
  }
  return conv2dBackwardKeptIm2col(dy, weight, columns, g, dx, beta);
}

/**
 * Gradient of the input: dx = conv_transpose(dy, w), written to `dx` (a view; `beta` 1 adds
 * to it) or to a new tensor [B, C_in, H, W], which is returned.
 */
export function conv2dBackwardData(
  gradOutput: Tensor | FeatureView,
  weight: Tensor,
  inputShape: Shape,
  options: Conv2dOptions = {},
  dx?: FeatureView,
  beta = 0,
): Tensor {
  const [batch, channels, height, width] = inputShape;
  const g = convGeometry({ tensor: weight, batch, channels, height, width, offset: 0, batchStride: 0 }, weight.shape, options);
  const dy = asView(gradOutput);
  checkView(dy, [g.batch, g.outChannels, g.outHeight, g.outWidth], 'output gradient');
  const target = dx ?? featureView(Tensor.empty([batch, channels, height, width], 'f32', 'conv2d.dx'));
  checkView(target, [batch, channels, height, width], 'input gradient view');
  const n = batch * height * width;
  if (n === 0 || channels === 0) return target.tensor;
  if (g.outChannels === 0) throw new Error('conv2d: the input gradient of a convolution with 0 output channels is zero; nothing to compute');
  const aliased = sharesBuffer(dy, target);
  if (usesIm2col(g, false)) {
    conv2dBackwardDataIm2col(dy, weight, g, target, beta);
    return target.tensor;
  }
  if (conv2dConfig.pointwiseAsGemm && isPointwise(g) && !aliased) {
    // Per image: dx[C_in, HW] = w^T[C_in, C_out] dy[C_out, HW].
    gemmInto({
      a: weight, b: dy.tensor, c: target.tensor, m: channels, n: height * width, k: g.outChannels, batch, transA: true,
      aBatchStride: 0, bOffset: dy.offset, bBatchStride: dy.batchStride, cOffset: target.offset, cBatchStride: target.batchStride, beta,
    });
    return target.tensor;
  }

  getEngine().dispatch({
    kernel: {
      family: 'conv2d_backward_data',
      source: backwardDataSource + coreSource,
      defines: tileDefines(channels, false),
    },
    bindings: [(aliased ? weight : dy.tensor).binding(), weight.binding(), target.tensor.binding()],
    uniforms: geometryUniforms(g).u32(dy.offset, dy.batchStride, target.offset, target.batchStride).f32(beta)
      .u32(flag(isPointwise(g)), flag(aliased)).finish(),
    workgroups: [Math.ceil(n / TILE_N), Math.ceil(channels / tileM(channels)), 1],
  });
  return target.tensor;
}

/** Gradient of the weights: a new tensor of the weight's shape [C_out, C_in, KH, KW]. */
export function conv2dBackwardWeight(gradOutput: Tensor | FeatureView, input: Tensor | FeatureView, weightShape: Shape, options: Conv2dOptions = {}): Tensor {
  const x = asView(input);
  const g = convGeometry(x, weightShape, options);
  const dy = asView(gradOutput);
  checkView(dy, [g.batch, g.outChannels, g.outHeight, g.outWidth], 'output gradient');

  const m = g.outChannels;
  const n = g.inChannels * g.kernelH * g.kernelW;
  const k = g.batch * g.outHeight * g.outWidth;
  if (m * n > 0 && k > 0 && usesIm2col(g, false, true)) return conv2dBackwardWeightIm2col(dy, x, g, weightShape);
  const dw = Tensor.empty(weightShape, 'f32', 'conv2d.dw');
  if (m * n === 0) return dw;
  if (k === 0) {
    getEngine().clear(dw.storage.entry, 0, dw.byteSize);
    return dw;
  }

  // Split K until the grid has enough workgroups, keeping each split at least a minimum
  // length and a multiple of TILE_K.
  const tiles = Math.ceil(m / tileM(m)) * Math.ceil(n / TILE_N);
  const wanted = Math.max(1, Math.min(Math.ceil(WEIGHT_GRAD_TARGET_WORKGROUPS / tiles), Math.floor(k / WEIGHT_GRAD_MIN_CHUNK)));
  const chunk = Math.ceil(Math.ceil(k / wanted) / TILE_K) * TILE_K;
  const splits = Math.ceil(k / chunk);
  const partial = splits === 1 ? dw : Tensor.empty([splits, m, n], 'f32', 'conv2d.dw partial');

  getEngine().dispatch({
    kernel: {
      family: 'conv2d_backward_weight',
      source: backwardWeightSource + coreSource,
      defines: tileDefines(m, true),
    },
    bindings: [dy.tensor.binding(), x.tensor.binding(), partial.binding()],
    uniforms: geometryUniforms(g).u32(x.offset, x.batchStride, dy.offset, dy.batchStride, chunk, flag(isPointwise(g))).finish(),
    workgroups: [Math.ceil(n / TILE_N), Math.ceil(m / tileM(m)), splits],
  });
  if (splits === 1) return dw;

  dw.dispose();
  const summed = reduce('sum', partial, 0);
  partial.dispose();
  const result = summed.view(weightShape, 'conv2d.dw');
  summed.dispose();
  return result;
}
