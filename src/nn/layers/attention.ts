/**
 * Multi-head self-attention, as timm's Attention: one linear layer `qkv` produces queries,
 * keys and values for every head at once, the fused kernel attends without materialising the
 * attention matrix, and `proj` mixes the heads.
 */
import { attention } from '../../autograd/ops/attention.ts';
import type { Tensor } from '../../autograd/tensor.ts';
import { Generator } from '../init.ts';
import { Module } from '../module.ts';
import { Linear } from './linear.ts';

export interface AttentionOptions {
  gen?: Generator;
  name?: string;
  /** A bias on the qkv projection; true by default, as timm's `qkv_bias`. */
  qkvBias?: boolean;
  /** Applied after the output projection; identity when omitted. */
  dropout?: (x: Tensor) => Tensor;
}

export class Attention extends Module {
  readonly qkv: Linear;
  readonly proj: Linear;
  readonly headDim: number;
  private readonly dropout: (x: Tensor) => Tensor;

  constructor(readonly width: number, readonly heads: number, options: AttentionOptions = {}) {
    super();
    if (!Number.isInteger(heads) || heads < 1 || width % heads !== 0) {
      throw new Error(`Attention: width ${width} must be a multiple of heads ${heads}; choose heads that divide the width`);
    }
    this.headDim = width / heads;
    const gen = options.gen ?? new Generator(0);
    const name = options.name ?? 'attn';
    this.qkv = this.registerModule('qkv', new Linear(width, 3 * width, { gen, bias: options.qkvBias ?? true, name: `${name}.qkv` }));
    this.proj = this.registerModule('proj', new Linear(width, width, { gen, name: `${name}.proj` }));
    this.dropout = options.dropout ?? ((x) => x);
  }

  /** Maps a sequence x [B, T, width] to [B, T, width]. */
  forward(x: Tensor): Tensor {
    const qkv = this.qkv.forward(x);
    return this.dropout(this.proj.forward(attention(qkv, this.heads)));
  }
}
