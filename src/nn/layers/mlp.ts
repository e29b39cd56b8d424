/** The transformer's feed-forward block, as timm's Mlp: fc1, exact GELU, dropout, fc2, dropout. */
import { gelu } from '../../autograd/ops/elementwise.ts';
import type { Tensor } from '../../autograd/tensor.ts';
import { Generator } from '../init.ts';
import { Module } from '../module.ts';
import { Linear } from './linear.ts';

export interface MlpOptions {
  gen?: Generator;
  name?: string;
  /** Applied after the activation and after fc2; identity when omitted. */
  dropout?: (x: Tensor) => Tensor;
}

export class Mlp extends Module {
  readonly fc1: Linear;
  readonly fc2: Linear;
  private readonly dropout: (x: Tensor) => Tensor;

  constructor(readonly inFeatures: number, readonly hiddenFeatures: number, options: MlpOptions = {}) {
    super();
    const gen = options.gen ?? new Generator(0);
    const name = options.name ?? 'mlp';
    this.fc1 = this.registerModule('fc1', new Linear(inFeatures, hiddenFeatures, { gen, name: `${name}.fc1` }));
    this.fc2 = this.registerModule('fc2', new Linear(hiddenFeatures, inFeatures, { gen, name: `${name}.fc2` }));
    this.dropout = options.dropout ?? ((x) => x);
  }

  /** Maps x [..., inFeatures] to [..., inFeatures]. */
  forward(x: Tensor): Tensor {
    const hidden = this.dropout(gelu(this.fc1.forward(x)));
    return this.dropout(this.fc2.forward(hidden));
  }
}
