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
  const stats = K.batchnormStatistics(x, params, { training, updateRunning: true, eps: options.eps, momentum: options.momentum });
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
