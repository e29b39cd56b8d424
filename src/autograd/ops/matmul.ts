/**
 * Differentiable matrix products: `matmul` (batched, either operand transposed) and `linear`
 * (PyTorch's y = x W^T + b), both through the GEMM kernel.
 *
 * With C = op(A) op(B) and G = dL/dC, the gradients are dop(A) = G op(B)^T and
 * dop(B) = op(A)^T G; a stored operand that was transposed receives the transpose, which is
 * again one GEMM with the transposes rearranged. An operand broadcast over the batch has its
 * gradient summed over the batch.
 */
import { gemm } from '../../kernels/gemm.ts';
import { reduce, sumToShape } from '../../kernels/reduce.ts';
import { record } from '../tape.ts';
import { Tensor, formatShape } from '../tensor.ts';

export interface MatmulOptions {
  transA?: boolean;
  transB?: boolean;
}

/** Computes the gradient of the stored A from G = dL/dC and the stored B. */
function gradA(g: Tensor, b: Tensor, transA: boolean, transB: boolean): Tensor {
  // dop(A) = G op(B)^T; when A is stored transposed, dA = op(B) G^T.
  if (!transA) return gemm(g, b, { transB: !transB, name: 'matmul.gradA' });
  return gemm(b, g, { transA: transB, transB: true, name: 'matmul.gradA' });
}

/** Computes the gradient of the stored B from G = dL/dC and the stored A. */
function gradB(g: Tensor, a: Tensor, transA: boolean, transB: boolean): Tensor {
  // dop(B) = op(A)^T G; when B is stored transposed, dB = G^T op(A).
  if (!transB) return gemm(a, g, { transA: !transA, name: 'matmul.gradB' });
  return gemm(g, a, { transA: true, transB: transA, name: 'matmul.gradB' });
}

/** Sums a gradient computed over the broadcast batch back to the operand's shape. */
function reduceBatch(grad: Tensor, shape: readonly number[]): Tensor {
  if (grad.rank === shape.length && grad.shape.every((d, i) => d === shape[i])) return grad;
  return sumToShape(grad, shape);
}

/**
 * Multiplies op(A) op(B) for A [..., M, K] (or [..., K, M] with `transA`) and B [..., K, N]
 * (or [..., N, K] with `transB`). Leading dimensions must match, or one side must be broadcast
 * (see `gemm`).
 */
export function matmul(a: Tensor, b: Tensor, options: MatmulOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const out = gemm(a, b, { transA, transB, name: 'matmul' });
  record('matmul', [a, b], [out], [a, b], ([sa, sb], [g]) => {
    const grad = g!;
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (a.requiresGrad) ga = reduceBatch(gradA(grad, sb, transA, transB), a.shape);
    if (b.requiresGrad) {
      if (b.rank === 2 && !transA && a.rank > 2) {
        // dB sums A_i^T G_i over the batch: one product of the flattened [batch * M, K] and
        // [batch * M, N] matrices.
        const rows = a.size / a.shape[a.rank - 1];
        const a2 = sa.view([rows, a.shape[a.rank - 1]]);
        const g2 = grad.view([rows, grad.shape[grad.rank - 1]]);
        gb = gradB(g2, a2, false, transB);
      } else {
        gb = reduceBatch(gradB(grad, sa, transA, transB), b.shape);
      }
    }
    return [ga, gb];
  });
  return out;
}

/**
 * Computes y = x W^T + b for x [..., in], weight [out, in] and bias [out] (PyTorch's layout); the bias
 * is added inside the GEMM.
 */
export function linear(x: Tensor, weight: Tensor, bias?: Tensor | null): Tensor {
  const inFeatures = x.shape[x.rank - 1];
  if (x.rank < 1 || weight.rank !== 2 || weight.shape[1] !== inFeatures) {
    throw new Error(`linear: input ${x.name} ${formatShape(x.shape)} does not match weight ${weight.name} ${formatShape(weight.shape)} (expects [out, ${inFeatures}])`);
  }
  const outFeatures = weight.shape[0];
  if (bias && (bias.rank !== 1 || bias.shape[0] !== outFeatures)) {
    throw new Error(`linear: bias ${bias.name} ${formatShape(bias.shape)} does not match weight ${weight.name} ${formatShape(weight.shape)} (expects [${outFeatures}])`);
  }

  // Every leading dimension folds into the rows of one [rows, in] x [in, out] product.
  const rows = x.size / Math.max(1, inFeatures);
  const outShape = [...x.shape.slice(0, -1), outFeatures];
  const x2 = x.view([rows, inFeatures]);
  const y2 = gemm(x2, weight, { transB: true, bias: bias ?? undefined, name: 'linear' });
  const out = y2.view(outShape);
  x2.dispose();
  y2.dispose();

  const inputs = bias ? [x, weight, bias] : [x, weight];
  record('linear', inputs, [out], [x, weight], ([sx, sw], [g]) => {
    const g2 = g!.view([rows, outFeatures]);
    // dx = G W, dW = G^T x, db = column sums of G.
    const gx = x.requiresGrad ? gemm(g2, sw, { name: 'linear.gradX' }).view(x.shape) : null;
    const gw = weight.requiresGrad ? gemm(g2, sx.view([rows, inFeatures]), { transA: true, name: 'linear.gradW' }) : null;
    const gb = bias?.requiresGrad ? reduce('sum', g2, [0]) : null;
    return bias ? [gx, gw, gb] : [gx, gw];
  });
  return out;
}
