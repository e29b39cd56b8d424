/**
 * Pooling kernels over NCHW feature views: max (with argmax for backward), average
 * (padding counted, PyTorch's default) and global average, each with its backward pass.
 */
import maxSource from '../../shaders/pool_max.wgsl';
import maxBackwardSource from '../../shaders/pool_max_backward.wgsl';
import avgSource from '../../shaders/pool_avg.wgsl';
import avgBackwardSource from '../../shaders/pool_avg_backward.wgsl';
import globalSource from '../../shaders/pool_global.wgsl';
import globalBackwardSource from '../../shaders/pool_global_backward.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape } from '../autograd/tensor.ts';
import { asView, featureView, outputSize, viewShape, type FeatureView } from './conv2d.ts';

const WORKGROUP = 256;

export interface PoolWindow {
  kernel: number;
  stride: number;
  padding: number;
}

/** Output [B, C, OH, OW] of a window over x; rejects windows that do not fit. */
export function poolOutputShape(x: FeatureView, w: PoolWindow, op: string): number[] {
  for (const [name, value] of Object.entries(w)) {
    if (!Number.isInteger(value) || value < (name === 'padding' ? 0 : 1)) throw new Error(`${op}: ${name} ${value} is invalid`);
  }
  if (2 * w.padding > w.kernel) throw new Error(`${op}: padding ${w.padding} must be at most half of kernel ${w.kernel}`);
  const oh = outputSize(x.height, w.kernel, w.stride, w.padding);
  const ow = outputSize(x.width, w.kernel, w.stride, w.padding);
  if (oh < 1 || ow < 1) throw new Error(`${op}: window ${w.kernel}x${w.kernel} with padding ${w.padding} does not fit input [${viewShape(x).join(', ')}]`);
  return [x.batch, x.channels, oh, ow];
}

function windowUniforms(x: FeatureView, out: number[], w: PoolWindow): Uniforms {
  return new Uniforms(16).u32(x.batch, x.channels, x.height, x.width, out[2], out[3], w.kernel, w.stride, w.padding);
}

function targetView(out: FeatureView | undefined, shape: number[], name: string, x: FeatureView): FeatureView {
  const y = out ?? featureView(Tensor.empty(shape, 'f32', name));
  if (viewShape(y).some((d, i) => d !== shape[i])) throw new Error(`${name}: output view [${viewShape(y).join(', ')}] is not [${shape.join(', ')}]`);
  asView(y);
  if (y.tensor.storage === x.tensor.storage) throw new Error(`${name}: input and output cannot share a buffer (${x.tensor.name} ${formatShape(x.tensor.shape)})`);
  return y;
}

/** Max pooling into `out` or a new tensor; also returns the argmax for backward. */
export function maxPool(input: Tensor | FeatureView, w: PoolWindow, out?: FeatureView): { y: Tensor; argmax: Tensor } {
  const x = asView(input);
  const shape = poolOutputShape(x, w, 'maxPool2d');
  const y = targetView(out, shape, 'maxPool2d', x);
  const argmax = Tensor.empty(shape, 'i32', 'maxPool2d.argmax');
  if (argmax.size === 0) return { y: y.tensor, argmax };
  getEngine().dispatch({
    kernel: { family: 'pool_max', source: maxSource, defines: { WORKGROUP } },
    bindings: [x.tensor.binding(), y.tensor.binding(), argmax.binding()],
    uniforms: windowUniforms(x, shape, w).u32(x.offset, x.batchStride, y.offset, y.batchStride).finish(),
    workgroups: Math.ceil(argmax.size / WORKGROUP),
  });
  return { y: y.tensor, argmax };
}

/** Gradient of max pooling: a new tensor of the input's shape. */
export function maxPoolBackward(gradOutput: Tensor | FeatureView, argmax: Tensor, inputShape: number[], w: PoolWindow): Tensor {
  const dy = asView(gradOutput);
  const dx = Tensor.empty(inputShape, 'f32', 'maxPool2d.dx');
  if (dx.size === 0) return dx;
  const x = { batch: inputShape[0], channels: inputShape[1], height: inputShape[2], width: inputShape[3] } as FeatureView;
  getEngine().dispatch({
    kernel: { family: 'pool_max_backward', source: maxBackwardSource, defines: { WORKGROUP } },
    bindings: [dy.tensor.binding(), argmax.binding(), dx.binding()],
    uniforms: windowUniforms(x, viewShape(dy), w).u32(dy.offset, dy.batchStride, 0).finish(),
    workgroups: Math.ceil(dx.size / WORKGROUP),
  });
  return dx;
}

/** Average pooling into `out` or a new tensor. */
export function avgPool(input: Tensor | FeatureView, w: PoolWindow, out?: FeatureView): Tensor {
  const x = asView(input);
  const shape = poolOutputShape(x, w, 'avgPool2d');
  const y = targetView(out, shape, 'avgPool2d', x);
  const n = shape.reduce((a, b) => a * b, 1);
  if (n === 0) return y.tensor;
  getEngine().dispatch({
    kernel: { family: 'pool_avg', source: avgSource, defines: { WORKGROUP } },
    bindings: [x.tensor.binding(), y.tensor.binding()],
    uniforms: windowUniforms(x, shape, w).u32(x.offset, x.batchStride, y.offset, y.batchStride).finish(),
    workgroups: Math.ceil(n / WORKGROUP),
  });
  return y.tensor;
}

/** Gradient of average pooling: a new tensor of the input's shape. */
export function avgPoolBackward(gradOutput: Tensor | FeatureView, inputShape: number[], w: PoolWindow): Tensor {
  const dy = asView(gradOutput);
  const dx = Tensor.empty(inputShape, 'f32', 'avgPool2d.dx');
  if (dx.size === 0) return dx;
  const x = { batch: inputShape[0], channels: inputShape[1], height: inputShape[2], width: inputShape[3] } as FeatureView;
  getEngine().dispatch({
    kernel: { family: 'pool_avg_backward', source: avgBackwardSource, defines: { WORKGROUP } },
    bindings: [dy.tensor.binding(), dx.binding()],
    uniforms: windowUniforms(x, viewShape(dy), w).u32(dy.offset, dy.batchStride, 0).finish(),
    workgroups: Math.ceil(dx.size / WORKGROUP),
  });
  return dx;
}

/** Global average pooling: [B, C, H, W] -> [B, C]. */
export function globalAvgPool(input: Tensor | FeatureView): Tensor {
  const x = asView(input);
  const plane = x.height * x.width;
  if (plane === 0) throw new Error(`globalAvgPool2d: input [${viewShape(x).join(', ')}] has an empty plane`);
  const y = Tensor.empty([x.batch, x.channels], 'f32', 'globalAvgPool2d');
  if (y.size === 0) return y;
  getEngine().dispatch({
    kernel: { family: 'pool_global', source: globalSource, defines: { WORKGROUP } },
    bindings: [x.tensor.binding(), y.binding()],
    uniforms: new Uniforms().u32(x.batch, x.channels, plane, x.offset, x.batchStride, 0, 0, 0).finish(),
    workgroups: Math.ceil(y.size / WORKGROUP),
  });
  return y;
}

/** Gradient of global average pooling: dy [B, C] spread over [B, C, H, W]. */
export function globalAvgPoolBackward(dy: Tensor, inputShape: number[]): Tensor {
  const [batch, channels, height, width] = inputShape;
  if (dy.rank !== 2 || dy.shape[0] !== batch || dy.shape[1] !== channels) {
    throw new Error(`globalAvgPool2d: gradient ${formatShape(dy.shape)} does not match [${batch}, ${channels}]`);
  }
  const dx = Tensor.empty(inputShape, 'f32', 'globalAvgPool2d.dx');
  if (dx.size === 0) return dx;
  getEngine().dispatch({
    kernel: { family: 'pool_global_backward', source: globalBackwardSource, defines: { WORKGROUP } },
    bindings: [dy.binding(), dx.binding()],
    uniforms: new Uniforms().u32(batch, channels, height * width, 0).finish(),
    workgroups: Math.ceil(dx.size / WORKGROUP),
  });
  return dx;
}
