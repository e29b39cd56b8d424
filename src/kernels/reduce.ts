/** Reductions over chosen axes: sum, mean and max (shaders/reduce.wgsl). */
import reduceSource from '../../shaders/reduce.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape, type Shape } from '../autograd/tensor.ts';
import { reductionConfig, serialReductions } from './strategy.ts';

export type ReduceOp = 'sum' | 'mean' | 'max';
const OPS: Record<ReduceOp, number> = { sum: 0, mean: 1, max: 2 };
const MAX_RANK = 8;

/** Returns the workgroup size, smaller for short reductions so fewer threads idle. */
function workgroupFor(nReduce: number): number {
  return nReduce >= 256 ? 256 : 64;
}

/**
 * Output elements per workgroup of the serial variant, one thread each: 16, two of lavapipe's
 * 8-lane vectors, so that a bias gradient of 64 features still makes 4 workgroups for the
 * adapter's threads to share.
 */
const SERIAL_WORKGROUP = 16;
/** Maximum values per output for the serial variant, whose one sequential f32 sum loses precision past it. */
const SERIAL_MAX_REDUCE = 4096;

/**
 * Returns whether a reduction takes the serial variant, unless a test forces one: on software
 * adapters, when each output reduces at most SERIAL_MAX_REDUCE values. Longer reductions keep
 * a workgroup per output, whose threads share the loop and sum as a tree. The choice ignores
 * the output count, so that a model run again with another batch size compiles no new
 * pipeline unless a reduction crosses the limit.
 */
function usesSerial(nReduce: number): boolean {
  if (reductionConfig.strategy !== 'auto') return reductionConfig.strategy === 'serial';
  return serialReductions() && nReduce <= SERIAL_MAX_REDUCE;
}

/** Normalises axes (negative ones count from the end); rejects duplicates and out-of-range axes. */
export function normalizeAxes(axes: number | readonly number[] | undefined, shape: Shape, op: string): number[] {
  const rank = shape.length;
  const list = axes === undefined ? shape.map((_, i) => i) : typeof axes === 'number' ? [axes] : [...axes];
  const result = list.map((a) => {
    const axis = a < 0 ? a + rank : a;
    if (!Number.isInteger(axis) || axis < 0 || axis >= rank) {
      throw new Error(`${op}: axis ${a} is out of range for shape ${formatShape(shape)}`);
    }
    return axis;
  });
  if (new Set(result).size !== result.length) throw new Error(`${op}: repeated axis in [${list.join(', ')}]`);
  return result.sort((a, b) => a - b);
}

function padded(values: number[]): number[] {
  return [...values, ...new Array<number>(MAX_RANK - values.length).fill(0)];
}

/**
 * Reduces `x` over `axes` (all axes when omitted). The result keeps size-1 dimensions in place
 * of reduced ones when `keepDims` is set, and drops them otherwise.
 */
export function reduce(op: ReduceOp, x: Tensor, axes?: number | readonly number[], keepDims = false): Tensor {
  if (x.dtype !== 'f32') throw new Error(`${op}: needs an f32 tensor; ${x.name} is ${x.dtype}`);
  if (x.rank > MAX_RANK) throw new Error(`${op}: rank ${x.rank} exceeds the supported ${MAX_RANK}`);
  const reduced = normalizeAxes(axes, x.shape, op);

  const strides: number[] = [];
  let stride = 1;
  for (let i = x.rank - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= x.shape[i];
  }
  const kept = x.shape.map((_, i) => i).filter((i) => !reduced.includes(i));
  const nReduce = reduced.reduce((n, i) => n * x.shape[i], 1);
  // Neighbouring reduced axes of a dense tensor are one axis of their combined size, so that
  // a bias gradient's sum over [batch, tokens] walks a single strided axis (main_serial's fast path).
  const walk = mergeNeighbours(reduced, x.shape, strides);
  if (nReduce === 0 && op !== 'sum') throw new Error(`${op}: cannot reduce ${formatShape(x.shape)} over an empty axis`);

  const outShape = keepDims ? x.shape.map((d, i) => (reduced.includes(i) ? 1 : d)) : kept.map((i) => x.shape[i]);
  const out = Tensor.empty(outShape, 'f32', op);
  if (out.size === 0) return out;
  const serial = usesSerial(nReduce);
  const workgroup = serial ? SERIAL_WORKGROUP : workgroupFor(nReduce);
  getEngine().dispatch({
    kernel: { family: 'reduce', source: reduceSource, entry: serial ? 'main_serial' : 'main', defines: { OP: OPS[op], WORKGROUP: workgroup } },
    bindings: [x.binding(), out.binding()],
    uniforms: new Uniforms(4 + 4 * MAX_RANK)
      .u32(out.size, nReduce, kept.length, walk.sizes.length)
      .u32(...padded(kept.map((i) => x.shape[i])), ...padded(kept.map((i) => strides[i])))
      .u32(...padded(walk.sizes), ...padded(walk.strides))
      .finish(),
    workgroups: serial ? Math.ceil(out.size / SERIAL_WORKGROUP) : out.size,
  });
  return out;
}

/** Returns the sizes and strides of sorted `axes`, where runs of consecutive axes become one. */
function mergeNeighbours(axes: number[], shape: Shape, strides: number[]): { sizes: number[]; strides: number[] } {
  const sizes: number[] = [];
  const steps: number[] = [];
  axes.forEach((axis, i) => {
    if (i > 0 && axes[i - 1] === axis - 1) {
      // The run's stride becomes this axis's; its size multiplies in.
      sizes[sizes.length - 1] *= shape[axis];
      steps[steps.length - 1] = strides[axis];
    } else {
      sizes.push(shape[axis]);
      steps.push(strides[axis]);
    }
  });
  return { sizes, strides: steps };
}

/** Sums a broadcast gradient back to `shape` (the reverse of NumPy broadcasting). */
export function sumToShape(grad: Tensor, shape: Shape): Tensor {
  if (grad.shape.length === shape.length && grad.shape.every((d, i) => d === shape[i])) return grad.view(shape);
  const lead = grad.rank - shape.length;
  const axes: number[] = [];
  for (let i = 0; i < grad.rank; i++) {
    if (i < lead || (shape[i - lead] === 1 && grad.shape[i] !== 1)) axes.push(i);
  }
  const summed = reduce('sum', grad, axes, true);
  // Drop the leading dimensions that broadcasting added.
  const result = summed.view(shape);
  summed.dispose();
  return result;
}
