/**
 * Softmax, log-softmax and the fused cross-entropy over the last axis (shaders/softmax.wgsl,
 * softmax_backward.wgsl, cross_entropy.wgsl, cross_entropy_backward.wgsl). A tensor of shape
 * [..., cols] is treated as [rows, cols] with rows the product of the leading dimensions.
 * These wrappers record nothing on the tape; src/autograd/ops/softmax.ts adds the gradients.
 */
import softmaxSource from '../../shaders/softmax.wgsl';
import softmaxBackwardSource from '../../shaders/softmax_backward.wgsl';
import crossEntropySource from '../../shaders/cross_entropy.wgsl';
import crossEntropyBackwardSource from '../../shaders/cross_entropy_backward.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape } from '../autograd/tensor.ts';

/** Threads per row for rows of at least this many elements; shorter rows use SMALL_WORKGROUP. */
export const ROW_WORKGROUP = 256;
const SMALL_WORKGROUP = 64;
/** Threads per workgroup of the elementwise cross-entropy backward kernel. */
const ELEMENT_WORKGROUP = 256;
/** A quiet NaN's bits, written for invalid labels (WGSL has no NaN literal). */
const NAN_BITS = 0x7fc00000;

function rowWorkgroup(cols: number): number {
  return cols >= ROW_WORKGROUP ? ROW_WORKGROUP : SMALL_WORKGROUP;
}

function rowsAndCols(x: Tensor, op: string): { rows: number; cols: number } {
  if (x.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor; ${x.name} is ${x.dtype}`);
  if (x.rank === 0) throw new Error(`${op}: needs at least one dimension; ${x.name} is a scalar`);
  const cols = x.shape[x.rank - 1];
  return { rows: cols === 0 ? 0 : x.size / cols, cols };
}

/** Softmax (or log-softmax when `log`) over the last axis. */
export function softmaxForward(x: Tensor, log: boolean): Tensor {
  const op = log ? 'logSoftmax' : 'softmax';
  const { rows, cols } = rowsAndCols(x, op);
  const out = Tensor.empty(x.shape, 'f32', op);
  if (out.size === 0) return out;
  getEngine().dispatch({
    kernel: { family: 'softmax', source: softmaxSource, defines: { WORKGROUP: rowWorkgroup(cols), LOG: log } },
    bindings: [x.binding(), out.binding()],
    uniforms: new Uniforms().u32(rows, cols, 0, 0).finish(),
    workgroups: rows,
  });
  return out;
}

/** Gradient of softmax (or log-softmax) from its output `y` and the output gradient. */
export function softmaxBackward(y: Tensor, grad: Tensor, log: boolean): Tensor {
  const op = log ? 'logSoftmax backward' : 'softmax backward';
  const { rows, cols } = rowsAndCols(y, op);
  if (grad.size !== y.size) {
    throw new Error(`${op}: gradient ${formatShape(grad.shape)} does not match output ${formatShape(y.shape)}`);
  }
  const dx = Tensor.empty(y.shape, 'f32', op);
  if (dx.size === 0) return dx;
  getEngine().dispatch({
    kernel: { family: 'softmax_backward', source: softmaxBackwardSource, defines: { WORKGROUP: rowWorkgroup(cols), LOG: log } },
    bindings: [y.binding(), grad.binding(), dx.binding()],
    uniforms: new Uniforms().u32(rows, cols, 0, 0).finish(),
    workgroups: rows,
  });
  return dx;
}

/** Per-row losses [rows] and the row statistics [rows, 2] (max, log of the shifted sum). */
export interface CrossEntropyRows {
  loss: Tensor;
  stats: Tensor;
}

/** Checks that logits are f32 [rows, cols] with at least one class. */
export function checkLogits(logits: Tensor): void {
  if (logits.dtype !== 'f32' || logits.rank !== 2) {
    throw new Error(`crossEntropy: logits must be f32 [batch, classes]; got ${logits.dtype} ${formatShape(logits.shape)}`);
  }
  if (logits.shape[1] === 0) throw new Error(`crossEntropy: logits ${formatShape(logits.shape)} have no classes`);
}

/** Checks that logits are [rows, cols] f32 and labels [rows] i32; names both shapes if not. */
export function checkCrossEntropyShapes(logits: Tensor, labels: Tensor): void {
  checkLogits(logits);
  if (labels.dtype !== 'i32') throw new Error(`crossEntropy: labels must be i32; ${labels.name} is ${labels.dtype}`);
  if (labels.rank !== 1 || labels.shape[0] !== logits.shape[0]) {
    throw new Error(
      `crossEntropy: labels ${formatShape(labels.shape)} do not match logits ${formatShape(logits.shape)} ` +
        `(expects [${logits.shape[0]}], one class index per row)`,
    );
  }
}

/**
 * Per-row cross-entropy of `logits` [rows, cols] against i32 `labels` [rows]. Labels are not
 * read on the host: a label outside [0, cols) makes its row's loss NaN.
 */
export function crossEntropyRows(logits: Tensor, labels: Tensor): CrossEntropyRows {
  checkCrossEntropyShapes(logits, labels);
  const [rows, cols] = logits.shape;
  const loss = Tensor.empty([rows], 'f32', 'crossEntropy');
  const stats = Tensor.empty([rows, 2], 'f32', 'crossEntropy stats');
  if (rows === 0) return { loss, stats };
  getEngine().dispatch({
    kernel: { family: 'cross_entropy', source: crossEntropySource, defines: { WORKGROUP: rowWorkgroup(cols) } },
    bindings: [logits.binding(), labels.binding(), loss.binding(), stats.binding()],
    uniforms: new Uniforms().u32(rows, cols, NAN_BITS, 0).finish(),
    workgroups: rows,
  });
  return { loss, stats };
}

/**
 * Gradient of the cross-entropy with respect to the logits: g * scale * (softmax - onehot).
 * `grad` has one element (reductions 'mean' and 'sum') or one per row ('none').
 */
export function crossEntropyBackward(logits: Tensor, labels: Tensor, stats: Tensor, grad: Tensor, scale: number): Tensor {
  const [rows, cols] = logits.shape;
  if (grad.size !== 1 && grad.size !== rows) {
    throw new Error(`crossEntropy backward: gradient ${formatShape(grad.shape)} must have 1 or ${rows} elements`);
  }
  const dx = Tensor.empty(logits.shape, 'f32', 'crossEntropy backward');
  if (dx.size === 0) return dx;
  // One scalar gradient for every row, or one per row.
  const gradStride = grad.size === 1 ? 0 : 1;
  getEngine().dispatch({
    kernel: { family: 'cross_entropy_backward', source: crossEntropyBackwardSource, defines: { WORKGROUP: ELEMENT_WORKGROUP } },
    bindings: [logits.binding(), labels.binding(), stats.binding(), grad.binding(), dx.binding()],
    uniforms: new Uniforms().u32(rows, cols, gradStride).f32(scale).u32(NAN_BITS, 0, 0, 0).finish(),
    workgroups: Math.ceil(dx.size / ELEMENT_WORKGROUP),
  });
  return dx;
}
