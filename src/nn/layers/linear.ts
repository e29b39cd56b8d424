/** A fully connected layer, as PyTorch's nn.Linear: y = x W^T + b with weight [out, in]. */
import { linear } from '../../autograd/ops/matmul.ts';
import type { Tensor } from '../../autograd/tensor.ts';
import { Generator, defaultUniform } from '../init.ts';
import { Module, parameter } from '../module.ts';

export interface LinearOptions {
  /** Adds a learned bias; true by default. */
  bias?: boolean;
  /** Generator of the initial values; a fixed seed when omitted. */
  gen?: Generator;
  /** Prefix of the parameters' names in error messages. */
  name?: string;
}

export class Linear extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;

  constructor(
    readonly inFeatures: number,
    readonly outFeatures: number,
    options: LinearOptions = {},
  ) {
    super();
    for (const [value, what] of [[inFeatures, 'inFeatures'], [outFeatures, 'outFeatures']] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`Linear: ${what} must be a positive integer, got ${value}`);
    }
    const gen = options.gen ?? new Generator(0);
    const name = options.name ?? 'linear';
    // PyTorch's default: U(-1/sqrt(in), 1/sqrt(in)) for the weight, then for the bias.
    this.weight = this.registerParameter(
      'weight',
      parameter(defaultUniform(outFeatures * inFeatures, inFeatures, gen), [outFeatures, inFeatures], `${name}.weight`),
    );
    this.bias = options.bias === false
      ? null
      : this.registerParameter('bias', parameter(defaultUniform(outFeatures, inFeatures, gen), [outFeatures], `${name}.bias`));
  }

  /** Maps x [..., inFeatures] to [..., outFeatures]. */
  forward(x: Tensor): Tensor {
    return linear(x, this.weight, this.bias);
  }
}
