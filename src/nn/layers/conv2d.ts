/** A 2-D convolution layer, as PyTorch's nn.Conv2d (NCHW, weight [out, in, k, k]). */
import { conv2d, type FeatureInput, type FeatureMap } from '../../autograd/ops/conv.ts';
import type { Tensor } from '../../autograd/tensor.ts';
import { Generator, defaultUniform, kaimingNormal } from '../init.ts';
import { Module, parameter } from '../module.ts';

export interface Conv2dLayerOptions {
  stride?: number;
  padding?: number;
  /** Adds a learned bias; true by default, as in PyTorch. */
  bias?: boolean;
  /** `default`: PyTorch's U(-1/sqrt(fan_in), 1/sqrt(fan_in)); `kaiming`: kaiming_normal_ (torchvision's DenseNet). */
  init?: 'default' | 'kaiming';
  gen?: Generator;
  /** Prefix of the parameters' names in error messages. */
  name?: string;
}

export class Conv2d extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor | null;
  readonly stride: number;
  readonly padding: number;

  constructor(
    readonly inChannels: number,
    readonly outChannels: number,
    readonly kernelSize: number,
    options: Conv2dLayerOptions = {},
  ) {
    super();
    for (const [value, what] of [[inChannels, 'inChannels'], [outChannels, 'outChannels'], [kernelSize, 'kernelSize']] as const) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`Conv2d: ${what} must be a positive integer, got ${value}`);
    }
    this.stride = options.stride ?? 1;
    this.padding = options.padding ?? 0;
    const gen = options.gen ?? new Generator(0);
    const name = options.name ?? 'conv';
    const fanIn = inChannels * kernelSize * kernelSize;
    const count = outChannels * fanIn;
    const values = options.init === 'kaiming' ? kaimingNormal(count, fanIn, gen) : defaultUniform(count, fanIn, gen);
    this.weight = this.registerParameter('weight', parameter(values, [outChannels, inChannels, kernelSize, kernelSize], `${name}.weight`));
    this.bias = options.bias === false
      ? null
      : this.registerParameter('bias', parameter(options.init === 'kaiming' ? new Float32Array(outChannels) : defaultUniform(outChannels, fanIn, gen), [outChannels], `${name}.bias`));
  }

  /** Convolves x [B, in, H, W] (or a feature-map prefix); `into` writes the output into a map. */
  forward(x: FeatureInput, options: { into?: FeatureMap } = {}): Tensor {
    return conv2d(x, this.weight, this.bias, { stride: this.stride, padding: this.padding, into: options.into });
  }
}
