/** Differentiable reductions: sum, mean and max over chosen axes. */
import * as E from '../../kernels/elementwise.ts';
import { normalizeAxes, reduce } from '../../kernels/reduce.ts';
import { record } from '../tape.ts';
import { Tensor } from '../tensor.ts';

/** The shape `x` reduces to over `axes` with size-1 dimensions kept, for broadcasting back. */
function keptShape(x: Tensor, axes: number[]): number[] {
  return x.shape.map((d, i) => (axes.includes(i) ? 1 : d));
}

export function sum(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const list = normalizeAxes(axes, x.shape, 'sum');
  const out = reduce('sum', x, list, keepDims);
  record('sum', [x], [out], [], (_, [g]) => {
    // The gradient of a sum is the output gradient broadcast back over the reduced axes.
    const gKept = g!.view(keptShape(x, list));
    return [E.binary('add', gKept, E.full(x.shape, 0))];
  });
  return out;
}

export function mean(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const list = normalizeAxes(axes, x.shape, 'mean');
  const count = list.reduce((n, i) => n * x.shape[i], 1);
  const out = reduce('mean', x, list, keepDims);
  record('mean', [x], [out], [], (_, [g]) => {
    const gKept = g!.view(keptShape(x, list));
    return [E.binary('axpby', gKept, E.full(x.shape, 0), 1 / count, 0)];
  });
  return out;
}

/** Maximum over axes; the gradient goes to every element equal to the maximum. */
export function max(x: Tensor, axes?: number | number[], keepDims = false): Tensor {
  const list = normalizeAxes(axes, x.shape, 'max');
  const out = reduce('max', x, list, keepDims);
  record('max', [x], [out], [x, out], ([sx, sout], [g]) => {
    const shape = keptShape(x, list);
    const mask = E.binary('equal', sx, sout.view(shape));
    // Ties share the gradient equally, as PyTorch's amax does.
    const ties = reduce('sum', mask, list, true);
    return [E.binary('mul', mask, E.binary('div', g!.view(shape), ties))];
  });
  return out;
}
