/**
 * BatchNorm2d, as PyTorch's nn.BatchNorm2d: parameters `weight` (gamma, ones) and `bias`
 * (beta, zeros), buffers `running_mean`, `running_var` and `num_batches_tracked`, eps 1e-5
 * and momentum 0.1. Training mode uses and tracks batch statistics; eval mode uses the running
 * ones.
 */
import { batchNorm2d } from '../../autograd/ops/batchnorm.ts';
import type { FeatureInput, FeatureMap } from '../../autograd/ops/conv.ts';
import { keep } from '../../autograd/scope.ts';
import { tensor, type Tensor } from '../../autograd/tensor.ts';
import { Module, buffer, parameter } from '../module.ts';

export interface BatchNorm2dOptions {
  eps?: number;
  momentum?: number;
  /** Prefix of the tensors' names in error messages. */
  name?: string;
}

export class BatchNorm2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly eps: number;
  readonly momentum: number;
  /** The value of num_batches_tracked, mirrored on the host. */
  private batches = 0;

  constructor(readonly numFeatures: number, options: BatchNorm2dOptions = {}) {
    super();
    if (!Number.isInteger(numFeatures) || numFeatures < 1) throw new Error(`BatchNorm2d: numFeatures must be a positive integer, got ${numFeatures}`);
    this.eps = options.eps ?? 1e-5;
    this.momentum = options.momentum ?? 0.1;
    const name = options.name ?? 'norm';
    this.weight = this.registerParameter('weight', parameter(new Float32Array(numFeatures).fill(1), [numFeatures], `${name}.weight`));
    this.bias = this.registerParameter('bias', parameter(new Float32Array(numFeatures), [numFeatures], `${name}.bias`));
    this.registerBuffer('running_mean', buffer(new Float32Array(numFeatures), [numFeatures], `${name}.running_mean`));
    this.registerBuffer('running_var', buffer(new Float32Array(numFeatures).fill(1), [numFeatures], `${name}.running_var`));
    this.registerBuffer('num_batches_tracked', keep(tensor([0], [], { dtype: 'i32', name: `${name}.num_batches_tracked` })));
  }

  get runningMean(): Tensor {
    return this.getBuffer('running_mean');
  }

  get runningVar(): Tensor {
    return this.getBuffer('running_var');
  }

  /**
   * Normalises x [B, C, H, W] (or a feature-map prefix); `relu` fuses the ReLU that follows,
   * `into` writes the output into a map.
   */
  forward(x: FeatureInput, options: { relu?: boolean; into?: FeatureMap } = {}): Tensor {
    if (this.training) this.countBatch();
    return batchNorm2d(x, this.weight, this.bias, this.runningMean, this.runningVar, {
      training: this.training, momentum: this.momentum, eps: this.eps, relu: options.relu, into: options.into,
    });
  }

  /** Advances num_batches_tracked; the host keeps the count, so no readback is needed. */
  private countBatch(): void {
    this.batches++;
    this.getBuffer('num_batches_tracked').write([this.batches]);
  }

  /** Sets num_batches_tracked, on the device and in the host-side counter. */
  setBatchCount(count: number): void {
    this.batches = count;
    this.getBuffer('num_batches_tracked').write([count]);
  }
}

/**
 * Sets the host-side num_batches_tracked counter of every BatchNorm2d in `model` from the
 * state dict `entries`. Call it after `model.loadStateDict(entries, { skip })`, which writes only
 * the device buffers, so the next training batch would otherwise count from the old value.
 */
export function syncBatchCounts(model: Module, entries: Map<string, { values: ArrayLike<number> }>, skip: (name: string) => boolean = () => false): void {
  for (const [prefix, m] of model.namedModules()) {
    if (!(m instanceof BatchNorm2d)) continue;
    const name = prefix ? `${prefix}.num_batches_tracked` : 'num_batches_tracked';
    const entry = entries.get(name);
    if (entry && !skip(name)) m.setBatchCount(entry.values[0]);
  }
}
