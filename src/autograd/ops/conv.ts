/**
 * Differentiable conv2d, and the zero-copy dense concatenation that DenseNet's blocks use.
 *
 * A dense block allocates its concatenated feature map once, as a `FeatureMap` [B, C_total,
 * H, W]. Each layer reads a channel prefix of it (`map.prefix()`, channels [0, C_in)) and
 * writes its new channels into the next free slice (an op called with `into: map`). On the
 * tape, every write produces a new version of the map: a tensor sharing the map's storage,
 * whose creator node takes the previous version as an input.
 *
 * Backward keeps one gradient buffer per map, shared by every version (`slot.grad`):
 * - a writer reads its output gradient from its own slice of that buffer and passes the
 *   buffer on, unchanged, as the gradient of the previous version;
 * - a reader of a prefix adds its input gradient into the buffer's prefix in place (beta 1)
 *   and returns no gradient. When it is the first op to reach the map in backward, it
 *   allocates the buffer, fills its prefix and returns it to the tape.
 * Later layers run backward first, so when a layer's reader runs, the buffer already holds
 * every later layer's contribution to the channels it read. Nothing is ever copied.
 */
import * as K from '../../kernels/conv2d.ts';
import { type FeatureView } from '../../kernels/conv2d.ts';
import { getEngine } from '../../gpu/engine.ts';
import { accumulateInto } from '../../kernels/elementwise.ts';
import { isGradEnabled, record } from '../tape.ts';
import { Tensor, formatShape, zeros } from '../tensor.ts';
import { currentScope } from '../scope.ts';

/** The gradient buffer shared by all versions of one feature map during backward. */
interface GradientSlot {
  grad: Tensor | null;
}

/**
 * Partial batchnorm statistics of a feature map's written channels, shared by the batchnorms
 * that read its prefixes during one forward pass (see ops/batchnorm.ts).
 */
export interface StatisticsCache {
  /** [C_total, chunks, 3] (kernels/batchnorm.ts); null until a batchnorm in training mode reads the map. */
  partial: Tensor | null;
  /** Channels [0, channels) whose statistics `partial` contains. */
  channels: number;
  /** The scope that was open when the map was made: it frees `partial` along with the map. */
  scope: Set<Tensor> | null;
}

/** Channels [0, channels) of one version of a feature map, as an op input. */
export interface ChannelPrefix {
  source: Tensor;
  channels: number;
  slot: GradientSlot;
  statistics?: StatisticsCache;
}

/** Input of conv2d, batchnorm and pooling: a 4-D tensor or a feature-map prefix. */
export type FeatureInput = Tensor | ChannelPrefix;

/**
 * A dense block's concatenated feature map [B, C_total, H, W], filled slice by slice.
 *
 * NOTE: batchnorms in training share the statistics of the written channels (see
 * `statistics`), which assumes that a written channel never changes. Ops only append, and
 * lowering `filled` drops the shared statistics. Writing into `current` directly does not.
 */
export class FeatureMap {
  /** The latest version: the tensor that the next reader or writer takes as input. */
  current: Tensor;
  readonly slot: GradientSlot = { grad: null };
  /**
   * Partial batchnorm statistics of the written channels. It is not enumerable, so that a map
   * returned from `tidy()` does not carry the shared tensor out of the scope that frees it.
   */
  declare readonly statistics: StatisticsCache;
  private written = 0;

  constructor(readonly shape: readonly [number, number, number, number], name = 'feature map') {
    this.current = Tensor.empty(shape, 'f32', name);
    const statistics: StatisticsCache = { partial: null, channels: 0, scope: currentScope() };
    Object.defineProperty(this, 'statistics', { value: statistics, enumerable: false });
  }

  /** Channels written so far; the next writer starts here. */
  get filled(): number {
    return this.written;
  }

  set filled(channels: number) {
    // Channels below the new count may be written again, so their statistics no longer hold.
    if (channels < this.statistics.channels) this.statistics.channels = Math.max(0, channels);
    this.written = channels;
  }

  get channels(): number {
    return this.shape[1];
  }

  /** Channels [0, channels) of the current version (all written channels when omitted). */
  prefix(channels = this.filled): ChannelPrefix {
    if (channels > this.filled) {
      throw new Error(`feature map ${formatShape(this.shape)}: cannot read ${channels} channels, only ${this.filled} are written`);
    }
    return { source: this.current, channels, slot: this.slot, statistics: this.statistics };
  }
}

/** Returns the kernel view of an input, and the tensor the tape records as the op's input. */
export function inputView(input: FeatureInput): { view: FeatureView; source: Tensor } {
  if (input instanceof Tensor) return { view: K.featureView(input), source: input };
  return { view: K.channelSlice(input.source, 0, input.channels), source: input.source };
}

/**
 * Returns where a backward rule writes the gradient of an input. For a plain tensor, that is a
 * new tensor (`beta` 0), returned to the tape. For a prefix, it is the map's gradient buffer
 * (`beta` 1), and the tape receives the buffer only if this call created it.
 */
export function inputGradient(input: FeatureInput): { view: FeatureView; beta: number; result: Tensor | null } {
  if (input instanceof Tensor) {
    const grad = Tensor.empty(input.shape, 'f32', `${input.name}.grad`);
    return { view: K.featureView(grad), beta: 0, result: grad };
  }
  const view = (grad: Tensor) => K.channelSlice(grad, 0, input.channels);
  if (input.slot.grad) return { view: view(input.slot.grad), beta: 1, result: null };
  const grad = zeros(input.source.shape, { name: 'feature map.grad' });
  input.slot.grad = grad.view(grad.shape);
  return { view: view(grad), beta: 1, result: grad };
}

/**
 * Writes `channels` new channels into `map` and records the write. `forward` fills the view
 * it is given and may return more tensors for the rule to save (after `save`); `backward`
 * receives the view of the output gradient (inside the map's gradient buffer) and returns the
 * gradients of `inputs`.
 */
export function writeInto(
  map: FeatureMap,
  channels: number,
  name: string,
  inputs: Tensor[],
  save: Tensor[],
  forward: (out: FeatureView) => Tensor[] | void,
  backward: (saved: Tensor[], gradOut: FeatureView) => (Tensor | null)[],
): Tensor {
  const start = map.filled;
  if (start + channels > map.channels) {
    throw new Error(`${name}: writing ${channels} channels at ${start} overflows feature map ${formatShape(map.shape)}`);
  }
  const previous = map.current;
  const extra = forward(K.channelSlice(previous, start, channels)) ?? [];
  const next = previous.view(previous.shape, previous.name);
  map.current = next;
  map.filled = start + channels;

  const slot = map.slot;
  record(name, [...inputs, previous], [next], [...save, ...extra], (saved, [g]) => {
    // Views made here live until the end of backward (its scope disposes them).
    if (!slot.grad) slot.grad = g!.view(g!.shape);
    else if (g!.storage !== slot.grad.storage) accumulateInto(slot.grad, g!);
    const grads = backward(saved, K.channelSlice(slot.grad, start, channels));
    // The previous version's gradient is the same buffer: this write overwrote channels that
    // no earlier op reads, so nothing changes in it.
    return [...grads, slot.grad.view(slot.grad.shape)];
  });
  return next;
}

export interface Conv2dOpOptions extends K.Conv2dOptions {
  /** Writes the output into the next free channels of this map instead of a new tensor. */
  into?: FeatureMap;
}

/**
 * 2-D convolution (NCHW), PyTorch's `F.conv2d(x, weight, bias, stride, padding)`. The input may
 * be a channel prefix of a feature map; with `into`, the output goes into the map and the
 * map's new version is returned.
 */
export function conv2d(input: FeatureInput, weight: Tensor, bias: Tensor | null = null, options: Conv2dOpOptions = {}): Tensor {
  const { view: x, source } = inputView(input);
  const geometry = K.convGeometry(x, weight.shape, options);
  const inputShape = K.viewShape(x);
  const conv = { stride: geometry.stride, padding: geometry.padding };
  const weightInputs = bias ? [weight, bias] : [weight];

  const backward = (saved: Tensor[], gradOut: Tensor | FeatureView): (Tensor | null)[] => {
    const [savedSource, savedWeight, savedColumns] = saved;
    if (savedColumns) {
      // The forward pass kept its columns (see below): both gradients in one pass, no bias.
      const target = source.requiresGrad ? inputGradient(input) : null;
      const dw = K.conv2dBackwardKept(gradOut, savedWeight, savedColumns, inputShape, conv, target?.view ?? null, target?.beta ?? 0);
      return [target?.result ?? null, dw];
    }
    const savedX = input instanceof Tensor ? K.featureView(savedSource) : K.channelSlice(savedSource, 0, input.channels);
    let dx: Tensor | null = null;
    if (source.requiresGrad) {
      const target = inputGradient(input);
      K.conv2dBackwardData(gradOut, savedWeight, inputShape, conv, target.view, target.beta);
      dx = target.result;
    }
    const dw = weight.requiresGrad ? K.conv2dBackwardWeight(gradOut, savedX, weight.shape, conv) : null;
    const db = bias?.requiresGrad ? channelSum(gradOut) : null;
    return bias ? [dx, dw, db] : [dx, dw];
  };

  // With grad enabled, the forward pass may keep its column matrix for the weight gradient
  // (on software adapters, see kernels/im2col.ts). The tape keeps it until backward or
  // clearTape(), also for a module in eval mode. Under noGrad, or with a frozen weight, the
  // pass keeps nothing.
  const keep = bias === null && weight.requiresGrad && isGradEnabled();
  let columns: Tensor | null = null;
  const forward = (out?: FeatureView): Tensor => {
    if (!keep) return K.conv2dForward(x, weight, bias, conv, out);
    const result = K.conv2dForwardTraining(x, weight, conv, out);
    columns = result.columns;
    return result.y;
  };

  let y: Tensor;
  if (options.into) {
    y = writeInto(options.into, geometry.outChannels, 'conv2d', [source, ...weightInputs], [source, weight],
      (out) => {
        forward(out);
        return columns ? [columns] : [];
      },
      (saved, gradOut) => backward(saved, gradOut));
  } else {
    y = forward();
    record('conv2d', [source, ...weightInputs], [y], columns ? [source, weight, columns] : [source, weight], (saved, [g]) => backward(saved, g!));
  }
  // The tape keeps its own view of the columns.
  (columns as Tensor | null)?.dispose();
  return y;
}

/** Sum of a [B, C, H, W] gradient over batch and pixels: the bias gradient [C]. */
function channelSum(gradOut: Tensor | FeatureView): Tensor {
  const g = K.asView(gradOut);
  // A 1x1 "convolution" of ones over the batch: dbias[c] = sum over (n, p) of dy[n, c, p].
  const ones = onesView(g.batch, g.height, g.width);
  const db = K.conv2dBackwardWeight(g, ones, [g.channels, 1, 1, 1]);
  ones.dispose();
  const result = db.view([g.channels], 'conv2d.dbias');
  db.dispose();
  return result;
}

function onesView(batch: number, height: number, width: number): Tensor {
  const ones = Tensor.empty([batch, 1, height, width], 'f32', 'ones');
  getEngine().write(ones.storage.entry, new Float32Array(ones.size).fill(1));
  return ones;
}
