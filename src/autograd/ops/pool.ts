/**
 * Differentiable pooling (NCHW): max and average over square windows, and global average.
 * Inputs may be channel prefixes of a dense block's feature map, and max and average pooling
 * can write into one (`into`): a transition's average pool fills the prefix of the next
 * block's map, so the block starts without a copy (see conv.ts).
 */
import * as K from '../../kernels/pool.ts';
import { featureView, viewShape, type FeatureView } from '../../kernels/conv2d.ts';
import { accumulateInto } from '../../kernels/elementwise.ts';
import { record } from '../tape.ts';
import { Tensor } from '../tensor.ts';
import { inputGradient, inputView, writeInto, type FeatureInput, type FeatureMap } from './conv.ts';

export interface PoolOptions {
  kernel: number;
  /** Defaults to the kernel size, as in PyTorch. */
  stride?: number;
  padding?: number;
  /** Writes the output into the next free channels of this map. */
  into?: FeatureMap;
}

/**
 * Returns the gradient of a pooling input computed as `dx`. For a feature-map prefix, it is
 * added into the map's gradient buffer. The backward kernels write contiguous tensors, so this
 * works only when the prefix is the whole map, the only case DenseNet has.
 */
function routeGradient(input: FeatureInput, dx: Tensor): Tensor | null {
  if (input instanceof Tensor) return dx;
  const target = inputGradient(input);
  if (target.view.tensor.size !== dx.size) {
    throw new Error(`pooling reads ${input.channels} of ${target.view.tensor.shape[1]} channels of a feature map; only the whole map is supported`);
  }
  accumulateInto(target.view.tensor, dx);
  dx.dispose();
  return target.result;
}

function pool(kind: 'max' | 'avg', input: FeatureInput, options: PoolOptions): Tensor {
  const { view: x, source } = inputView(input);
  const w = { kernel: options.kernel, stride: options.stride ?? options.kernel, padding: options.padding ?? 0 };
  const inputShape = viewShape(x);
  const name = kind === 'max' ? 'maxPool2d' : 'avgPool2d';

  // Returns the tensors the backward rule reads: max pooling's argmax.
  const forward = (out?: FeatureView): { y: Tensor; saved: Tensor[] } => {
    if (kind === 'avg') return { y: K.avgPool(x, w, out), saved: [] };
    const { y, argmax } = K.maxPool(x, w, out);
    return { y, saved: [argmax] };
  };
  const backward = (saved: Tensor[], gradOut: FeatureView): (Tensor | null)[] => {
    if (!source.requiresGrad) return [null];
    const dx = kind === 'max' ? K.maxPoolBackward(gradOut, saved[0], inputShape, w) : K.avgPoolBackward(gradOut, inputShape, w);
    return [routeGradient(input, dx)];
  };

  if (options.into) {
    let saved: Tensor[] = [];
    const y = writeInto(options.into, x.channels, name, [source], [], (out) => {
      saved = forward(out).saved;
      return saved;
    }, backward);
    for (const t of saved) t.dispose();
    return y;
  }
  const { y, saved } = forward();
  record(name, [source], [y], saved, (kept, [g]) => backward(kept, featureView(g!)));
  for (const t of saved) t.dispose();
  return y;
}

/** Max pooling, PyTorch's `F.max_pool2d(x, kernel, stride, padding)`. */
export function maxPool2d(input: FeatureInput, options: PoolOptions): Tensor {
  return pool('max', input, options);
}

/** Average pooling with padding counted, PyTorch's `F.avg_pool2d(x, kernel, stride, padding)`. */
export function avgPool2d(input: FeatureInput, options: PoolOptions): Tensor {
  return pool('avg', input, options);
}

/** Global average pooling: [B, C, H, W] -> [B, C] (`adaptive_avg_pool2d(x, 1)` flattened). */
export function globalAvgPool2d(input: FeatureInput): Tensor {
  const { view: x, source } = inputView(input);
  const inputShape = viewShape(x);
  const y = K.globalAvgPool(x);
  record('globalAvgPool2d', [source], [y], [], (_, [g]) => [routeGradient(input, K.globalAvgPoolBackward(g!, inputShape))]);
  return y;
}
