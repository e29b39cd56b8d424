/**
 * DenseNet (Huang et al., "Densely Connected Convolutional Networks", 2017) with torchvision's
 * topology and parameter names, so that torchvision's state dicts load as they are.
 *
 * features: conv0 -> norm0 + ReLU -> pool0 (max 3x3/2) -> denseblock1 -> transition1 -> ...
 * -> denseblock4 -> norm5; then ReLU, global average pooling and the linear `classifier`.
 * A dense layer is BN-ReLU -> conv 1x1 (bnSize * growth channels) -> BN-ReLU -> conv 3x3
 * (growth channels); a transition is BN-ReLU -> conv 1x1 (half the channels) -> avg pool 2x2.
 *
 * Dense concatenation copies nothing: each block allocates its full feature map
 * [B, C_in + layers * growth, H, W] once (a `FeatureMap`), the stem's pool or the previous
 * transition's pool writes its first channels, and every layer reads the prefix it needs and
 * writes its growth channels into its own slice; backward accumulates into one gradient buffer
 * per block (see src/autograd/ops/conv.ts). `concat: 'naive'` builds the same network with
 * torch.cat-style copies instead, for comparison.
 */
import { FeatureMap } from '../../autograd/ops/conv.ts';
import { relu } from '../../autograd/ops/elementwise.ts';
import { concat } from '../../autograd/ops/shape.ts';
import { tidy } from '../../autograd/scope.ts';
import { formatShape, type Tensor } from '../../autograd/tensor.ts';
import { getEngine, formatBytes } from '../../gpu/engine.ts';
import { DeviceLimitError } from '../../gpu/errors.ts';
import { outputSize } from '../../kernels/conv2d.ts';
import { Generator } from '../init.ts';
import { Module } from '../module.ts';
import { BatchNorm2d } from '../layers/batchnorm.ts';
import { Conv2d } from '../layers/conv2d.ts';
import { Linear } from '../layers/linear.ts';
import { AvgPool2d, GlobalAvgPool2d, MaxPool2d } from '../layers/pool.ts';

export interface DenseNetOptions {
  /** New channels per dense layer (32 in DenseNet121). */
  growthRate?: number;
  /** Dense layers per block ([6, 12, 24, 16] in DenseNet121). */
  blockConfig?: readonly number[];
  /** Channels of the stem convolution (64). */
  numInitFeatures?: number;
  /** Bottleneck width as a multiple of the growth rate (4). */
  bnSize?: number;
  numClasses?: number;
  inChannels?: number;
  /** `imagenet`: 7x7 stride 2 convolution and max pool (input / 4); `small`: 3x3 convolution, no pooling (for 28x28 input). */
  stem?: 'imagenet' | 'small';
  /** Seed of the initial weights. */
  seed?: number;
  /** Input height and width the model is meant for; used for batch-size limits. */
  imageSize?: number;
  /** `dense` (zero-copy feature maps, the default) or `naive` (a concatenation per layer). */
  concat?: 'dense' | 'naive';
}

/** The device limits that bound the batch size. */
export interface BindingLimits {
  maxStorageBufferBindingSize: number;
  maxBufferSize: number;
}

/** A module that only groups children under a name, as torch.nn.Sequential does for `features`. */
class Group extends Module {
  add<M extends Module>(name: string, m: M): M {
    return this.registerModule(name, m);
  }
}

class DenseLayer extends Module {
  readonly norm1: BatchNorm2d;
  readonly conv1: Conv2d;
  readonly norm2: BatchNorm2d;
  readonly conv2: Conv2d;

  constructor(readonly inChannels: number, growthRate: number, bnSize: number, gen: Generator, name: string) {
    super();
    const width = bnSize * growthRate;
    this.norm1 = this.registerModule('norm1', new BatchNorm2d(inChannels, { name: `${name}.norm1` }));
    this.conv1 = this.registerModule('conv1', new Conv2d(inChannels, width, 1, { bias: false, init: 'kaiming', gen, name: `${name}.conv1` }));
    this.norm2 = this.registerModule('norm2', new BatchNorm2d(width, { name: `${name}.norm2` }));
    this.conv2 = this.registerModule('conv2', new Conv2d(width, growthRate, 3, { padding: 1, bias: false, init: 'kaiming', gen, name: `${name}.conv2` }));
  }

  /** Computes BN-ReLU, conv 1x1 and BN-ReLU of x [B, inChannels, H, W]: the input of conv2. */
  private bottleneck(x: Tensor | ReturnType<FeatureMap['prefix']>): Tensor {
    const h = this.conv1.forward(this.norm1.forward(x, { relu: true }));
    return this.norm2.forward(h, { relu: true });
  }

  /** Reads the first inChannels channels of `map` and writes the new ones after them. */
  forwardInto(map: FeatureMap): Tensor {
    return tidy(() => this.conv2.forward(this.bottleneck(map.prefix(this.inChannels)), { into: map }));
  }

  /** Naive concatenation: returns [x, new channels] as a new tensor. */
  forwardConcat(x: Tensor): Tensor {
    return tidy(() => concat([x, this.conv2.forward(this.bottleneck(x))], 1));
  }
}

class Transition extends Module {
  readonly norm: BatchNorm2d;
  readonly conv: Conv2d;
  readonly pool: AvgPool2d;

  constructor(inChannels: number, outChannels: number, gen: Generator, name: string) {
    super();
    this.norm = this.registerModule('norm', new BatchNorm2d(inChannels, { name: `${name}.norm` }));
    this.conv = this.registerModule('conv', new Conv2d(inChannels, outChannels, 1, { bias: false, init: 'kaiming', gen, name: `${name}.conv` }));
    this.pool = this.registerModule('pool', new AvgPool2d(2, 2));
  }

  /** Writes the pooled output into `into` when given (the next block's map), else returns it. */
  forward(x: Tensor | ReturnType<FeatureMap['prefix']>, into?: FeatureMap): Tensor {
    return tidy(() => this.pool.forward(this.conv.forward(this.norm.forward(x, { relu: true })), { into }));
  }
}

/** Shapes of the activations that bound memory, per image: name, channels, height, width. */
interface ActivationShape {
  name: string;
  channels: number;
  height: number;
  width: number;
}

export class DenseNet extends Module {
  readonly growthRate: number;
  readonly blockConfig: readonly number[];
  readonly numInitFeatures: number;
  readonly bnSize: number;
  readonly numClasses: number;
  readonly inChannels: number;
  readonly stem: 'imagenet' | 'small';
  readonly imageSize: number;
  readonly concatMode: 'dense' | 'naive';
  readonly features: Group;
  readonly classifier: Linear;
  /** Channels entering each block, and the block's total (the size of its feature map). */
  readonly blockChannels: { input: number; total: number }[] = [];
  readonly numFeatures: number;

  private readonly conv0: Conv2d;
  private readonly norm0: BatchNorm2d;
  private readonly pool0: MaxPool2d | null;
  private readonly blocks: DenseLayer[][] = [];
  private readonly transitions: Transition[] = [];
  private readonly norm5: BatchNorm2d;
  private readonly pool = new GlobalAvgPool2d();

  constructor(options: DenseNetOptions = {}) {
    super();
    this.growthRate = options.growthRate ?? 32;
    this.blockConfig = options.blockConfig ?? [6, 12, 24, 16];
    this.numInitFeatures = options.numInitFeatures ?? 64;
    this.bnSize = options.bnSize ?? 4;
    this.numClasses = options.numClasses ?? 1000;
    this.inChannels = options.inChannels ?? 3;
    this.stem = options.stem ?? 'imagenet';
    this.imageSize = options.imageSize ?? (this.stem === 'imagenet' ? 224 : 28);
    this.concatMode = options.concat ?? 'dense';
    const positive: [string, number][] = [
      ['growthRate', this.growthRate], ['numInitFeatures', this.numInitFeatures], ['bnSize', this.bnSize],
      ['numClasses', this.numClasses], ['inChannels', this.inChannels], ['imageSize', this.imageSize],
      ...this.blockConfig.map((n, i): [string, number] => [`blockConfig[${i}]`, n]),
    ];
    for (const [name, value] of positive) {
      if (!Number.isInteger(value) || value < 1) throw new Error(`DenseNet: ${name} must be a positive integer, got ${value}`);
    }
    if (this.blockConfig.length === 0) throw new Error('DenseNet: blockConfig needs at least one block');
    if (this.stem !== 'imagenet' && this.stem !== 'small') throw new Error(`DenseNet: stem must be 'imagenet' or 'small', got '${this.stem}'`);
    const gen = new Generator(options.seed ?? 0);

    // Registration order follows torchvision, so namedParameters() lists the same order.
    this.features = this.registerModule('features', new Group());
    this.conv0 = this.stem === 'imagenet'
      ? this.features.add('conv0', new Conv2d(this.inChannels, this.numInitFeatures, 7, { stride: 2, padding: 3, bias: false, init: 'kaiming', gen, name: 'features.conv0' }))
      : this.features.add('conv0', new Conv2d(this.inChannels, this.numInitFeatures, 3, { padding: 1, bias: false, init: 'kaiming', gen, name: 'features.conv0' }));
    this.norm0 = this.features.add('norm0', new BatchNorm2d(this.numInitFeatures, { name: 'features.norm0' }));
    this.pool0 = this.stem === 'imagenet' ? this.features.add('pool0', new MaxPool2d(3, 2, 1)) : null;

    let channels = this.numInitFeatures;
    this.blockConfig.forEach((layers, b) => {
      const block = this.features.add(`denseblock${b + 1}`, new Group());
      const input = channels;
      const list: DenseLayer[] = [];
      for (let l = 0; l < layers; l++) {
        const name = `features.denseblock${b + 1}.denselayer${l + 1}`;
        list.push(block.add(`denselayer${l + 1}`, new DenseLayer(channels, this.growthRate, this.bnSize, gen, name)));
        channels += this.growthRate;
      }
      this.blocks.push(list);
      this.blockChannels.push({ input, total: channels });
      if (b < this.blockConfig.length - 1) {
        const out = Math.floor(channels / 2);
        this.transitions.push(this.features.add(`transition${b + 1}`, new Transition(channels, out, gen, `features.transition${b + 1}`)));
        channels = out;
      }
    });
    this.norm5 = this.features.add('norm5', new BatchNorm2d(channels, { name: 'features.norm5' }));
    this.numFeatures = channels;
    this.classifier = this.registerModule('classifier', new Linear(channels, this.numClasses, { gen, name: 'classifier' }));
    // torchvision initialises the classifier's bias to zero.
    this.classifier.bias?.write(new Float32Array(this.numClasses));
  }

  /** Spatial size after the stem, and after each transition. */
  private blockSizes(height: number, width: number): [number, number][] {
    let h = height;
    let w = width;
    if (this.stem === 'imagenet') {
      h = outputSize(outputSize(h, 7, 2, 3), 3, 2, 1);
      w = outputSize(outputSize(w, 7, 2, 3), 3, 2, 1);
    }
    const sizes: [number, number][] = [];
    for (let b = 0; b < this.blockConfig.length; b++) {
      sizes.push([h, w]);
      h = outputSize(h, 2, 2, 0);
      w = outputSize(w, 2, 2, 0);
    }
    return sizes;
  }

  /** Output shapes of the stages, without running anything: [B, C, H, W] of the final features, and the logits. */
  outputShapes(batch: number, height = this.imageSize, width = height): { features: number[]; logits: number[]; blocks: number[][] } {
    const sizes = this.blockSizes(height, width);
    const blocks = sizes.map(([h, w], b) => [batch, this.blockChannels[b].total, h, w]);
    const last = blocks[blocks.length - 1];
    return { features: [batch, this.numFeatures, last[2], last[3]], logits: [batch, this.numClasses], blocks };
  }

  /** Per-image shapes of the largest activations: the stem's outputs, each block's map and its bottleneck. */
  private activationShapes(height: number, width: number): ActivationShape[] {
    const shapes: ActivationShape[] = [];
    const stemH = this.stem === 'imagenet' ? outputSize(height, 7, 2, 3) : height;
    const stemW = this.stem === 'imagenet' ? outputSize(width, 7, 2, 3) : width;
    shapes.push({ name: 'conv0 output', channels: this.numInitFeatures, height: stemH, width: stemW });
    this.blockSizes(height, width).forEach(([h, w], b) => {
      shapes.push({ name: `denseblock${b + 1} feature map`, channels: this.blockChannels[b].total, height: h, width: w });
      shapes.push({ name: `denseblock${b + 1} bottleneck`, channels: this.bnSize * this.growthRate, height: h, width: w });
    });
    return shapes;
  }

  /**
   * Returns the largest batch whose every activation fits in one storage binding and one buffer, at
   * `height` x `width` input, under `limits` (the current device's when omitted).
   */
  maxBatchSize(height = this.imageSize, width = height, limits: BindingLimits = getEngine().limits): { batch: number; bytesPerImage: number; tensor: string; limit: number } {
    const limit = Math.min(limits.maxStorageBufferBindingSize, limits.maxBufferSize);
    let worst = { name: '', bytes: 0 };
    for (const s of this.activationShapes(height, width)) {
      const bytes = s.channels * s.height * s.width * 4;
      if (bytes > worst.bytes) worst = { name: s.name, bytes };
    }
    return { batch: Math.floor(limit / worst.bytes), bytesPerImage: worst.bytes, tensor: worst.name, limit };
  }

  /** Rejects a batch whose activations exceed the device's binding limit, naming the largest batch that fits. */
  checkBatch(batch: number, height = this.imageSize, width = height, limits: BindingLimits = getEngine().limits): void {
    const fit = this.maxBatchSize(height, width, limits);
    if (batch > fit.batch) {
      throw new DeviceLimitError(
        `DenseNet: a batch of ${batch} at ${height}x${width} needs ${formatBytes(batch * fit.bytesPerImage)} for the ${fit.tensor} ` +
          `(${fit.bytesPerImage} bytes per image), over this device's limit of ${formatBytes(fit.limit)} per storage binding; ` +
          `the largest batch that fits is ${fit.batch}. Use a batch of at most ${fit.batch}, or accumulate gradients over smaller batches.`,
      );
    }
  }

  forward(x: Tensor): Tensor {
    const { features, logits } = this.forwardWithFeatures(x);
    features.dispose();
    return logits;
  }

  /** Logits [B, classes] and the final batchnorm's output [B, C, h, w] (before the ReLU), for Grad-CAM. */
  forwardWithFeatures(x: Tensor): { features: Tensor; logits: Tensor } {
    if (x.rank !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`DenseNet: input must be [B, ${this.inChannels}, H, W]; got ${formatShape(x.shape)}`);
    }
    const [batch, , height, width] = x.shape;
    this.checkBatch(batch, height, width);
    // The scope frees the block maps once features exist; the tape keeps what backward reads.
    const features = tidy(() => (this.concatMode === 'dense' ? this.featuresDense(x) : this.featuresNaive(x)));
    const logits = tidy(() => this.classifier.forward(this.pool.forward(relu(features))));
    return { features, logits };
  }

  private stemInto(x: Tensor, map: FeatureMap | undefined): Tensor {
    return tidy(() => {
      const y = this.conv0.forward(x);
      if (this.pool0) return this.pool0.forward(this.norm0.forward(y, { relu: true }), { into: map });
      return this.norm0.forward(y, { relu: true, into: map });
    });
  }

  private featuresDense(x: Tensor): Tensor {
    const batch = x.shape[0];
    const sizes = this.blockSizes(x.shape[2], x.shape[3]);
    let map: FeatureMap | null = null;
    for (let b = 0; b < this.blocks.length; b++) {
      const [h, w] = sizes[b];
      const next = new FeatureMap([batch, this.blockChannels[b].total, h, w], `denseblock${b + 1}`);
      if (map === null) this.stemInto(x, next);
      else this.transitions[b - 1].forward(map.prefix(), next);
      map = next;
      for (const layer of this.blocks[b]) layer.forwardInto(map);
    }
    return this.norm5.forward(map!.prefix());
  }

  private featuresNaive(x: Tensor): Tensor {
    let h = this.stemInto(x, undefined);
    for (let b = 0; b < this.blocks.length; b++) {
      if (b > 0) h = this.transitions[b - 1].forward(h);
      for (const layer of this.blocks[b]) h = layer.forwardConcat(h);
    }
    return this.norm5.forward(h);
  }
}

/** DenseNet121: growth 32, blocks 6-12-24-16, 64 stem channels, bottleneck 4 (6,964,106 parameters with 10 classes). */
export function densenet121(options: Omit<DenseNetOptions, 'growthRate' | 'blockConfig' | 'numInitFeatures' | 'bnSize'> = {}): DenseNet {
  return new DenseNet({ ...options, growthRate: 32, blockConfig: [6, 12, 24, 16], numInitFeatures: 64, bnSize: 4 });
}
