/** Pooling layers, as PyTorch's nn.MaxPool2d, nn.AvgPool2d and a flattened global average pool. */
import type { FeatureInput, FeatureMap } from '../../autograd/ops/conv.ts';
import { avgPool2d, globalAvgPool2d, maxPool2d } from '../../autograd/ops/pool.ts';
import type { Tensor } from '../../autograd/tensor.ts';
import { Module } from '../module.ts';

export class MaxPool2d extends Module {
  constructor(readonly kernel: number, readonly stride = kernel, readonly padding = 0) {
    super();
  }

  forward(x: FeatureInput, options: { into?: FeatureMap } = {}): Tensor {
    return maxPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding, into: options.into });
  }
}

export class AvgPool2d extends Module {
  constructor(readonly kernel: number, readonly stride = kernel, readonly padding = 0) {
    super();
  }

  forward(x: FeatureInput, options: { into?: FeatureMap } = {}): Tensor {
    return avgPool2d(x, { kernel: this.kernel, stride: this.stride, padding: this.padding, into: options.into });
  }
}

/** [B, C, H, W] -> [B, C], PyTorch's `adaptive_avg_pool2d(x, 1)` followed by `flatten(1)`. */
export class GlobalAvgPool2d extends Module {
  forward(x: FeatureInput): Tensor {
    return globalAvgPool2d(x);
  }
}
