/**
 * Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", 2021) with
 * pre-norm blocks and a linear head on the class token. It is built as timm's
 * VisionTransformer, so parameter names match timm's (`patch_embed.proj.weight`,
 * `blocks.0.attn.qkv.weight`, ...) and shapes, and a timm state dict of the same configuration
 * has the same entries.
 *
 *   tokens = [cls, patches(x) W_patch^T + b] + pos_embed            [B, T, D], T = N + 1
 *   for each block:  x = x + attn(norm1(x));  x = x + mlp(norm2(x))
 *   logits = head(norm(x[:, 0]))
 *
 * The study's model, `vitStudy()`: 224x224x3 input, patch 16 (196 patches + class token =
 * 197 tokens), width 128, depth 6, 4 heads of 32, MLP 512, 10 classes: 1,314,954 parameters.
 *   patch_embed   128*3*16*16 + 128                      =    98,432
 *   cls_token     128;  pos_embed 197*128                 =    25,344
 *   per block     2 LayerNorms 512, qkv 49,536, proj 16,512,
 *                 fc1 66,048, fc2 65,664                 =   198,272  (x 6 = 1,189,632)
 *   norm 256;  head 128*10 + 10                          =     1,546
 */
import { dropout } from '../../autograd/ops/dropout.ts';
import { add } from '../../autograd/ops/elementwise.ts';
import { addClassToken, patchEmbed, selectTokens } from '../../autograd/ops/patch.ts';
import { reshape } from '../../autograd/ops/shape.ts';
import { formatShape, type Tensor } from '../../autograd/tensor.ts';
import { Generator, constant, defaultUniform, normal, truncatedNormal } from '../init.ts';
import { Module, parameter } from '../module.ts';
import { Attention } from '../layers/attention.ts';
import { LayerNorm } from '../layers/layernorm.ts';
import { Linear } from '../layers/linear.ts';
import { Mlp } from '../layers/mlp.ts';

export interface VisionTransformerOptions {
  /** Input height and width in pixels (square images); a multiple of `patchSize`. */
  imageSize?: number;
  patchSize?: number;
  inChannels?: number;
  /** Token width D (timm's `embed_dim`). */
  width?: number;
  /** Number of transformer blocks. */
  depth?: number;
  /** Attention heads; must divide `width`. */
  heads?: number;
  /** Hidden width of each block's MLP. */
  mlpDim?: number;
  numClasses?: number;
  /**
   * Dropout probability after the position embedding, the attention output projection and both
   * MLP layers (timm's `drop_rate` and `proj_drop_rate`). The fused attention kernel has no
   * dropout on the attention probabilities, which is timm's `attn_drop_rate`, 0 by default.
   */
  dropout?: number;
  /** Seed of the initial parameters and of dropout masks. */
  seed?: number;
}

/** LayerNorm's eps in timm's ViT. */
const LAYER_NORM_EPS = 1e-6;
/** Standard deviation of timm's truncated-normal initialisation of linear weights and positions. */
const INIT_STD = 0.02;

/** timm's PatchEmbed: a P x P, stride-P convolution, here as unfold plus GEMM. */
class PatchProjection extends Module {
  readonly weight: Tensor;
  readonly bias: Tensor;

  constructor(width: number, inChannels: number, patch: number, gen: Generator) {
    super();
    // A convolution keeps PyTorch's default initialisation in timm: U(-1/sqrt(fan_in), ...).
    const fanIn = inChannels * patch * patch;
    this.weight = this.registerParameter('weight', parameter(defaultUniform(width * fanIn, fanIn, gen), [width, inChannels, patch, patch], 'patch_embed.proj.weight'));
    this.bias = this.registerParameter('bias', parameter(defaultUniform(width, fanIn, gen), [width], 'patch_embed.proj.bias'));
  }
}

class PatchEmbed extends Module {
  readonly proj: PatchProjection;

  constructor(width: number, inChannels: number, readonly patch: number, gen: Generator) {
    super();
    this.proj = this.registerModule('proj', new PatchProjection(width, inChannels, patch, gen));
  }

  /** images [B, C, H, W] -> [B, N, width] */
  forward(images: Tensor): Tensor {
    return patchEmbed(images, this.proj.weight, this.proj.bias, this.patch);
  }
}

/** A pre-norm transformer block: x + attn(norm1(x)), then x + mlp(norm2(x)). */
export class Block extends Module {
  readonly norm1: LayerNorm;
  readonly attn: Attention;
  readonly norm2: LayerNorm;
  readonly mlp: Mlp;

  constructor(width: number, heads: number, mlpDim: number, gen: Generator, dropout: (x: Tensor) => Tensor, name: string) {
    super();
    this.norm1 = this.registerModule('norm1', new LayerNorm(width, { eps: LAYER_NORM_EPS, name: `${name}.norm1` }));
    this.attn = this.registerModule('attn', new Attention(width, heads, { gen, dropout, name: `${name}.attn` }));
    this.norm2 = this.registerModule('norm2', new LayerNorm(width, { eps: LAYER_NORM_EPS, name: `${name}.norm2` }));
    this.mlp = this.registerModule('mlp', new Mlp(width, mlpDim, { gen, dropout, name: `${name}.mlp` }));
  }

  forward(x: Tensor): Tensor {
    const h = add(x, this.attn.forward(this.norm1.forward(x)));
    return add(h, this.mlp.forward(this.norm2.forward(h)));
  }
}

/** Children registered under their index, as PyTorch's nn.ModuleList (`blocks.0`, ...). */
class ModuleList<M extends Module> extends Module {
  readonly items: M[];

  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.registerModule(String(i), m));
  }
}

export class VisionTransformer extends Module {
  readonly options: Required<VisionTransformerOptions>;
  readonly patchCount: number;
  readonly cls_token: Tensor;
  readonly pos_embed: Tensor;
  readonly patch_embed: PatchEmbed;
  readonly blocks: ModuleList<Block>;
  readonly norm: LayerNorm;
  readonly head: Linear;
  /** Dropout calls so far; each call draws its mask from a new seed. */
  private dropoutCalls = 0;

  constructor(options: VisionTransformerOptions = {}) {
    super();
    const o: Required<VisionTransformerOptions> = {
      imageSize: 224, patchSize: 16, inChannels: 3, width: 128, depth: 6, heads: 4, mlpDim: 512,
      numClasses: 10, dropout: 0, seed: 0,
      ...options,
    };
    this.options = o;
    for (const key of ['imageSize', 'patchSize', 'inChannels', 'width', 'depth', 'heads', 'mlpDim', 'numClasses'] as const) {
      if (!Number.isInteger(o[key]) || o[key] < 1) throw new Error(`VisionTransformer: ${key} must be a positive integer, got ${o[key]}`);
    }
    if (o.imageSize % o.patchSize !== 0) {
      throw new Error(`VisionTransformer: imageSize ${o.imageSize} is not a multiple of patchSize ${o.patchSize}; choose a patch size that divides it`);
    }
    if (o.width % o.heads !== 0) {
      throw new Error(`VisionTransformer: width ${o.width} is not a multiple of heads ${o.heads}; choose heads that divide the width`);
    }
    if (!(o.dropout >= 0 && o.dropout < 1)) throw new Error(`VisionTransformer: dropout must be in [0, 1), got ${o.dropout}`);

    const gen = new Generator(o.seed);
    const side = o.imageSize / o.patchSize;
    this.patchCount = side * side;
    const tokens = this.patchCount + 1;

    // Registration order gives timm's state-dict order: own parameters, then children.
    // timm: cls_token ~ N(0, 1e-6), pos_embed ~ trunc normal(0.02).
    this.cls_token = this.registerParameter('cls_token', parameter(normal(o.width, 1e-6, gen), [1, 1, o.width], 'cls_token'));
    this.pos_embed = this.registerParameter('pos_embed', parameter(truncatedNormal(tokens * o.width, INIT_STD, gen), [1, tokens, o.width], 'pos_embed'));
    this.patch_embed = this.registerModule('patch_embed', new PatchEmbed(o.width, o.inChannels, o.patchSize, gen));
    const blocks: Block[] = [];
    const drop = (x: Tensor) => this.applyDropout(x);
    for (let i = 0; i < o.depth; i++) blocks.push(new Block(o.width, o.heads, o.mlpDim, gen, drop, `blocks.${i}`));
    this.blocks = this.registerModule('blocks', new ModuleList(blocks));
    this.norm = this.registerModule('norm', new LayerNorm(o.width, { eps: LAYER_NORM_EPS, name: 'norm' }));
    this.head = this.registerModule('head', new Linear(o.width, o.numClasses, { gen, name: 'head' }));

    // timm's init_weights_vit_timm: every Linear gets trunc normal(0.02) weights and zero biases.
    for (const [, module] of this.namedModules()) {
      if (!(module instanceof Linear)) continue;
      module.weight.write(truncatedNormal(module.weight.size, INIT_STD, gen));
      module.bias?.write(constant(module.bias.size, 0));
    }
  }

  /**
   * Sets the count of dropout calls from which the next mask's seed is derived. Setting it from
   * the update number before each update makes the masks a function of the update, so a
   * resumed run replays them.
   */
  setDropoutSeed(count: number): void {
    if (!Number.isSafeInteger(count) || count < 0) throw new Error(`VisionTransformer: dropout seed ${count} must be a non-negative integer`);
    this.dropoutCalls = count;
  }

  /**
   * Applies dropout with the model's probability in training mode; identity in eval mode. The
   * mask depends only on its seed, so every call takes a new seed derived from the model's.
   */
  private applyDropout(x: Tensor): Tensor {
    const p = this.options.dropout;
    if (!this.training || p === 0) return x;
    this.dropoutCalls++;
    return dropout(x, p, (Math.imul(this.options.seed, 0x9e3779b1) + this.dropoutCalls) >>> 0, true);
  }

  /** Maps images [B, inChannels, imageSize, imageSize] to logits [B, numClasses]. */
  forward(images: Tensor): Tensor {
    const o = this.options;
    const expected = [o.inChannels, o.imageSize, o.imageSize];
    if (images.rank !== 4 || images.shape.slice(1).some((d, i) => d !== expected[i])) {
      throw new Error(`VisionTransformer: input ${formatShape(images.shape)} does not match [batch, ${expected.join(', ')}]; resize the images or set imageSize and inChannels`);
    }
    const batch = images.shape[0];

    let x = addClassToken(this.patch_embed.forward(images), this.cls_token, this.pos_embed);
    x = this.applyDropout(x);
    for (const block of this.blocks.items) x = block.forward(x);

    // LayerNorm acts on each token alone, so normalising only the class token equals timm's
    // norm over the whole sequence followed by taking token 0.
    const cls = reshape(selectTokens(x, 0, 1), [batch, o.width]);
    return this.head.forward(this.norm.forward(cls));
  }
}

/** Creates the study's ViT: 224x224 RGB, patch 16, width 128, depth 6, 4 heads, MLP 512 (1,314,954 parameters). */
export function vitStudy(options: VisionTransformerOptions = {}): VisionTransformer {
  return new VisionTransformer({ imageSize: 224, patchSize: 16, inChannels: 3, width: 128, depth: 6, heads: 4, mlpDim: 512, numClasses: 10, ...options });
}
