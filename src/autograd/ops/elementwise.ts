/**
 * Differentiable elementwise ops. Each forward calls a kernel from src/kernels/elementwise.ts
 * and records a backward rule; broadcast inputs get their gradient summed back to their shape.
 */
import * as K from '../../kernels/elementwise.ts';
import { sumToShape } from '../../kernels/reduce.ts';
import { record, registerTapeKernels } from '../tape.ts';
import { Tensor } from '../tensor.ts';

function binaryOp(op: 'add' | 'sub' | 'mul' | 'div', a: Tensor, b: Tensor): Tensor {
  const out = K.binary(op, a, b);
  const save = op === 'mul' ? [a, b] : op === 'div' ? [b, out] : [];
  record(op, [a, b], [out], save, (saved, [g]) => {
    const grad = g!;
    let ga: Tensor | null = null;
    let gb: Tensor | null = null;
    if (op === 'add' || op === 'sub') {
      ga = a.requiresGrad ? sumToShape(grad, a.shape) : null;
      if (b.requiresGrad) {
        const gbFull = op === 'add' ? grad : K.unary('neg', grad);
        gb = sumToShape(gbFull, b.shape);
      }
    } else if (op === 'mul') {
      const [sa, sb] = saved;
      if (a.requiresGrad) ga = sumToShape(K.binary('mul', grad, sb), a.shape);
      if (b.requiresGrad) gb = sumToShape(K.binary('mul', grad, sa), b.shape);
    } else {
      // out = a / b: da = g / b, db = -g * out / b.
      const [sb, sout] = saved;
      if (a.requiresGrad) ga = sumToShape(K.binary('div', grad, sb), a.shape);
      if (b.requiresGrad) gb = sumToShape(K.unary('neg', K.binary('div', K.binary('mul', grad, sout), sb)), b.shape);
    }
    return [ga, gb];
  });
  return out;
}

export const add = (a: Tensor, b: Tensor): Tensor => binaryOp('add', a, b);
export const sub = (a: Tensor, b: Tensor): Tensor => binaryOp('sub', a, b);
export const mul = (a: Tensor, b: Tensor): Tensor => binaryOp('mul', a, b);
export const div = (a: Tensor, b: Tensor): Tensor => binaryOp('div', a, b);

/** Unary ops whose derivative needs the input (`x`) or the output (`y`). */
const DERIVATIVES: Partial<Record<K.UnaryOp, { uses: 'x' | 'y'; grad: (g: Tensor, saved: Tensor, alpha: number) => Tensor }>> = {
  neg: { uses: 'x', grad: (g) => K.unary('neg', g) },
  exp: { uses: 'y', grad: (g, y) => K.binary('mul', g, y) },
  log: { uses: 'x', grad: (g, x) => K.binary('div', g, x) },
  // d sqrt(x) = 1 / (2 sqrt(x))
  sqrt: { uses: 'y', grad: (g, y) => K.binary('div', g, K.unary('affine', y, 2, 0)) },
  relu: { uses: 'x', grad: (g, x) => K.binary('mul', g, K.unary('step', x)) },
  gelu: { uses: 'x', grad: (g, x) => K.binary('mul', g, K.unary('geluGrad', x)) },
  // d sigmoid = y (1 - y)
  sigmoid: { uses: 'y', grad: (g, y) => K.binary('mul', g, K.binary('mul', y, K.unary('affine', y, -1, 1))) },
  // d tanh = 1 - y^2
  tanh: { uses: 'y', grad: (g, y) => K.binary('mul', g, K.unary('affine', K.unary('square', y), -1, 1)) },
  square: { uses: 'x', grad: (g, x) => K.binary('mul', g, K.unary('affine', x, 2, 0)) },
  abs: { uses: 'x', grad: (g, x) => K.binary('mul', g, K.binary('sub', K.unary('step', x), K.unary('step', K.unary('neg', x)))) },
  // d x^p = p x^(p-1)
  pow: { uses: 'x', grad: (g, x, p) => K.binary('mul', g, K.unary('affine', K.unary('pow', x, p - 1), p, 0)) },
};

function unaryOp(op: K.UnaryOp, x: Tensor, alpha = 0, beta = 0): Tensor {
  const out = K.unary(op, x, alpha, beta);
  if (op === 'affine') {
    record(op, [x], [out], [], (_, [g]) => [K.unary('affine', g!, alpha, 0)]);
    return out;
  }
  const rule = DERIVATIVES[op];
  if (!rule) throw new Error(`${op} has no backward rule`);
  record(op, [x], [out], [rule.uses === 'x' ? x : out], (saved, [g]) => [rule.grad(g!, saved[0], alpha)]);
  return out;
}

export const neg = (x: Tensor): Tensor => unaryOp('neg', x);
export const exp = (x: Tensor): Tensor => unaryOp('exp', x);
export const log = (x: Tensor): Tensor => unaryOp('log', x);
export const sqrt = (x: Tensor): Tensor => unaryOp('sqrt', x);
export const relu = (x: Tensor): Tensor => unaryOp('relu', x);
/** GELU in its exact erf form, PyTorch's default. */
export const gelu = (x: Tensor): Tensor => unaryOp('gelu', x);
export const sigmoid = (x: Tensor): Tensor => unaryOp('sigmoid', x);
export const tanh = (x: Tensor): Tensor => unaryOp('tanh', x);
export const square = (x: Tensor): Tensor => unaryOp('square', x);
export const abs = (x: Tensor): Tensor => unaryOp('abs', x);
export const pow = (x: Tensor, exponent: number): Tensor => unaryOp('pow', x, exponent);
/** `x * scale + shift` with scalar scale and shift. */
export const affine = (x: Tensor, scale: number, shift = 0): Tensor => unaryOp('affine', x, scale, shift);
export const scale = (x: Tensor, factor: number): Tensor => unaryOp('affine', x, factor, 0);

registerTapeKernels({
  accumulate: (into, grad) => K.accumulateInto(into, grad),
  onesLike: (t) => K.full(t.shape, 1, 'ones'),
});
