/** LayerNorm over the last axis with a learned scale and shift, as PyTorch's nn.LayerNorm. */
import { layerNorm } from '../../autograd/ops/layernorm.ts';
import type { Tensor } from '../../autograd/tensor.ts';
import { constant } from '../init.ts';
import { Module, parameter } from '../module.ts';

export interface LayerNormOptions {
  /** Added to the variance; PyTorch's default is 1e-5, timm's ViT uses 1e-6. */
  eps?: number;
  /** Prefix of the parameters' names in error messages. */
  name?: string;
}

export class LayerNorm extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;
  readonly eps: number;

  constructor(readonly features: number, options: LayerNormOptions = {}) {
    super();
    if (!Number.isInteger(features) || features < 1) throw new Error(`LayerNorm: features must be a positive integer, got ${features}`);
    this.eps = options.eps ?? 1e-5;
    const name = options.name ?? 'layerNorm';
    this.weight = this.registerParameter('weight', parameter(constant(features, 1), [features], `${name}.weight`));
    this.bias = this.registerParameter('bias', parameter(constant(features, 0), [features], `${name}.bias`));
  }

  /** Normalises x [..., features] over its last axis. */
  forward(x: Tensor): Tensor {
    return layerNorm(x, this.weight, this.bias, this.eps);
  }
}
