/**
 * Differentiable shape ops: reshape (a view sharing storage), permute and transpose, slice and
 * concat (copies, src/kernels/shape.ts). Axes may be negative, counting from the end.
 */
import * as K from '../../kernels/shape.ts';
import { record } from '../tape.ts';
import { Tensor, formatShape, sizeOf, zeros, type Shape } from '../tensor.ts';

/** Resolves one -1 in `shape` from the size of `x`; names both shapes when the sizes differ. */
function resolveShape(x: Tensor, shape: Shape): number[] {
  const unknown = shape.filter((d) => d === -1).length;
  if (unknown > 1) throw new Error(`reshape: ${formatShape(shape)} has more than one -1`);
  for (const d of shape) {
    if (d !== -1 && (!Number.isInteger(d) || d < 0)) throw new Error(`reshape: invalid dimension ${d} in ${formatShape(shape)}`);
  }
  const known = sizeOf(shape.filter((d) => d !== -1));
  const inferred = known === 0 ? 0 : x.size / known;
  const resolved = shape.map((d) => (d === -1 ? inferred : d));
  if (sizeOf(resolved) !== x.size || !resolved.every(Number.isInteger)) {
    throw new Error(`reshape: cannot reshape ${x.name} ${formatShape(x.shape)} (${x.size} elements) to ${formatShape(shape)}`);
  }
  return resolved;
}

/** Returns a view of `x` with another shape of the same size (no copy); one dimension may be -1. */
export function reshape(x: Tensor, shape: Shape): Tensor {
  const out = x.view(resolveShape(x, shape), 'reshape');
  record('reshape', [x], [out], [], (_, [g]) => [g!.view(x.shape)]);
  return out;
}

/** Reorders the axes of `x` into a copy, as PyTorch's `permute`: out.shape[i] = x.shape[dims[i]]. */
export function permute(x: Tensor, dims: readonly number[]): Tensor {
  const order = K.checkPermutation(x, dims);
  const out = K.permuteCopy(x, order);
  record('permute', [x], [out], [], (_, [g]) => {
    // The inverse permutation puts each axis back where it came from.
    const inverse = new Array<number>(order.length);
    order.forEach((d, i) => (inverse[d] = i));
    return [K.permuteCopy(g!, inverse)];
  });
  return out;
}

/** Swaps axes `dim0` and `dim1` of `x` into a copy. */
export function transpose(x: Tensor, dim0: number, dim1: number): Tensor {
  const a = K.normalizeAxis(dim0, x.rank, 'transpose', x.shape);
  const b = K.normalizeAxis(dim1, x.rank, 'transpose', x.shape);
  const dims = x.shape.map((_, i) => i);
  dims[a] = b;
  dims[b] = a;
  return permute(x, dims);
}

/**
 * Copies the box of `x` that starts at `starts` with extents `sizes`; a size of -1 runs to the
 * end of its axis. The gradient is zero outside the box.
 */
export function slice(x: Tensor, starts: readonly number[], sizes: readonly number[]): Tensor {
  const out = K.sliceCopy(x, starts, sizes);
  const origin = [...starts];
  record('slice', [x], [out], [], (_, [g]) => {
    const dx = zeros(x.shape, { dtype: x.dtype, name: 'slice backward' });
    K.writeSlice(dx, g!, origin);
    return [dx];
  });
  return out;
}

/** Joins `xs` along `axis` into a new tensor; every other dimension must match. */
export function concat(xs: readonly Tensor[], axis: number): Tensor {
  const inputs = [...xs];
  const out = K.concatCopy(inputs, axis);
  const a = K.normalizeAxis(axis, out.rank, 'concat', out.shape);
  record('concat', inputs, [out], [], (_, [g]) => {
    const starts = new Array<number>(out.rank).fill(0);
    return inputs.map((x) => {
      const grad = x.requiresGrad ? K.sliceCopy(g!, starts, x.shape) : null;
      starts[a] += x.shape[a];
      return grad;
    });
  });
  return out;
}
