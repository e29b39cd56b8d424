/**
 * Differentiable batchnorm over NCHW (PyTorch's `F.batch_norm` on 4-D input), optionally fused
 * with the ReLU that follows it. Training mode normalises with the batch statistics (biased
 * variance) and updates the running statistics in place (momentum, unbiased variance); eval
 * mode normalises with the running statistics. The input may be a channel prefix of a dense
 * block's feature map, and `into` writes the output into one (see conv.ts).
 */
import * as K from '../../kernels/batchnorm.ts';
import { featureView, type FeatureView } from '../../kernels/conv2d.ts';
import { record } from '../tape.ts';
import { Tensor } from '../tensor.ts';
import { adopt } from '../scope.ts';
import { inputGradient, inputView, writeInto, type FeatureInput, type FeatureMap } from './conv.ts';

export interface BatchNormOptions {
  training: boolean;
  /** Weight of the new batch statistics in the running averages; PyTorch's default 0.1. */
  momentum?: number;
  eps?: number;
  /** Applies ReLU to the output (BN-ReLU in one pass). */
  relu?: boolean;
  /** Writes the output into the next free channels of this map. */
  into?: FeatureMap;
}

/** Batchnorm of x [B, C, H, W] with weight `gamma` and bias `beta` [C]; running statistics [C]. */
export function batchNorm2d(input: FeatureInput, gamma: Tensor, beta: Tensor, runningMean: Tensor, runningVar: Tensor, options: BatchNormOptions): Tensor {
  const { view: x, source } = inputView(input);
  const relu = options.relu ?? false;
  const training = options.training;
  const params = { gamma, beta, runningMean, runningVar };
  const partial = training ? sharedPartialStatistics(input, x) : undefined;
  const stats = K.batchnormStatistics(x, params, { training, updateRunning: true, eps: options.eps, momentum: options.momentum }, partial);
  const name = relu ? 'batchnorm_relu' : 'batchnorm';

  const backward = (saved: Tensor[], gradOut: FeatureView): (Tensor | null)[] => {
    const [savedSource, savedStats, savedGamma] = saved;
    const savedX = { ...x, tensor: savedSource };
    const target = source.requiresGrad ? inputGradient(input) : null;
    const { dgamma, dbeta } = K.batchnormBackward(savedX, gradOut, savedStats, savedGamma, { relu, training }, target?.view ?? null, target?.beta ?? 0);
    return [target?.result ?? null, gamma.requiresGrad ? dgamma : null, beta.requiresGrad ? dbeta : null];
  };

  if (options.into) {
    const out = writeInto(options.into, x.channels, name, [source, gamma, beta], [source, stats, gamma],
      (view) => {
        K.batchnormApply(x, stats, relu, view);
      },
      backward);
    stats.dispose();
    return out;
  }
  const y = K.batchnormApply(x, stats, relu);
  record(name, [source, gamma, beta], [y], [source, stats, gamma], (saved, [g]) => backward(saved, featureView(g!)));
  stats.dispose();
  return y;
}

/**
 * Returns the partial statistics of a feature-map prefix, shared by every batchnorm that reads
 * the map in this forward pass. Ops never rewrite a written channel (see FeatureMap), so each
 * channel's statistics are computed once rather than by every later layer of the dense block
 * that reads it. Returns undefined for a plain tensor, and for a map made outside any scope,
 * which would have nothing to free the shared tensor.
 */
function sharedPartialStatistics(input: FeatureInput, x: FeatureView): Tensor | undefined {
  if (input instanceof Tensor || !input.statistics) return undefined;
  const cache = input.statistics;
  if (cache.partial?.isDisposed) {
    // The scope that made the map has closed while the map lives on: stop sharing.
    cache.partial = null;
    cache.scope = null;
  }
  if (!cache.partial) {
    if (!cache.scope) return undefined;
    const partial = K.emptyPartialStatistics(input.source.shape[1], x.batch * x.height * x.width);
    if (!adopt(cache.scope, partial)) {
      partial.dispose();
      return undefined;
    }
    cache.partial = partial;
  }
  if (cache.channels < x.channels) {
    K.batchnormPartialStatistics(x, cache.partial, cache.channels);
    cache.channels = x.channels;
  }
  return cache.partial;
}
