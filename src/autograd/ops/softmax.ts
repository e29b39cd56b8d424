/**
 * Differentiable softmax, log-softmax (over the last axis) and cross-entropy with integer
 * class labels, fused with log-softmax as PyTorch's `F.cross_entropy` is.
 */
import * as K from '../../kernels/softmax.ts';
import { reduce } from '../../kernels/reduce.ts';
import { record } from '../tape.ts';
import { Tensor, tensor } from '../tensor.ts';

/** Softmax over the last axis. */
export function softmax(x: Tensor): Tensor {
  const out = K.softmaxForward(x, false);
  record('softmax', [x], [out], [out], ([y], [g]) => [K.softmaxBackward(y, g!, false)]);
  return out;
}

/** Log-softmax over the last axis: x - max - log(sum(exp(x - max))). */
export function logSoftmax(x: Tensor): Tensor {
  const out = K.softmaxForward(x, true);
  record('logSoftmax', [x], [out], [out], ([y], [g]) => [K.softmaxBackward(y, g!, true)]);
  return out;
}

export type Reduction = 'mean' | 'sum' | 'none';

export interface CrossEntropyOptions {
  /** 'mean' (the default) averages over the batch, 'sum' adds, 'none' returns one loss per row. */
  reduction?: Reduction;
}

/** Class labels: an i32 tensor on the GPU, or host values that are checked before upload. */
export type Labels = Tensor | Int32Array | readonly number[];

/** Uploads host labels after checking that each is an integer class index in [0, classes). */
function labelTensor(labels: Int32Array | readonly number[], classes: number): Tensor {
  for (let i = 0; i < labels.length; i++) {
    const label = labels[i];
    if (!Number.isInteger(label) || label < 0 || label >= classes) {
      throw new Error(`crossEntropy: label ${label} at index ${i} is out of range for ${classes} classes (expects an integer in [0, ${classes - 1}])`);
    }
  }
  return tensor(labels, [labels.length], { dtype: 'i32', name: 'labels' });
}

/**
 * Cross-entropy of `logits` [batch, classes] against class indices `labels` [batch]:
 * loss_i = logsumexp(logits_i) - logits_i[label_i], then reduced over the batch. The gradient
 * with respect to the logits is (softmax(logits) - onehot(labels)) times the output gradient
 * (divided by the batch size for 'mean').
 *
 * Labels given as host values are range-checked here. A label tensor already on the GPU is not
 * read back: an out-of-range label there makes its row's loss and gradient NaN.
 */
export function crossEntropy(logits: Tensor, labels: Labels, options: CrossEntropyOptions = {}): Tensor {
  const reduction = options.reduction ?? 'mean';
  if (reduction !== 'mean' && reduction !== 'sum' && reduction !== 'none') {
    throw new Error(`crossEntropy: unknown reduction '${String(reduction)}' (expects 'mean', 'sum' or 'none')`);
  }
  K.checkLogits(logits);
  const fromHost = !(labels instanceof Tensor);
  if (fromHost && labels.length !== logits.shape[0]) {
    throw new Error(`crossEntropy: ${labels.length} labels do not match logits [${logits.shape.join(', ')}] (expects ${logits.shape[0]})`);
  }
  const labelsOnDevice = fromHost ? labelTensor(labels, logits.shape[1]) : labels;

  // Forward: per-row losses, then the batch reduction.
  const { loss: rowLoss, stats } = K.crossEntropyRows(logits, labelsOnDevice);
  const rows = logits.shape[0];
  const out = reduction === 'none' ? rowLoss : reduce(reduction, rowLoss, [0]);
  const scale = reduction === 'mean' ? 1 / rows : 1;

  record('crossEntropy', [logits], [out], [logits, labelsOnDevice, stats], ([x, y, s], [g]) => [K.crossEntropyBackward(x, y, s, g!, scale)]);

  // The tape keeps its own references to what it saved.
  stats.dispose();
  if (reduction !== 'none') rowLoss.dispose();
  if (fromHost) labelsOnDevice.dispose();
  return out;
}
