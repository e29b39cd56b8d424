/**
 * Elementwise kernels: unary ops, binary ops with NumPy broadcasting, and in-place
 * accumulation. These wrappers work on raw tensors and record nothing on the tape; the
 * differentiable versions live in src/autograd/ops.
 */
import unarySource from '../../shaders/unary.wgsl';
import binarySource from '../../shaders/binary.wgsl';
import inplaceSource from '../../shaders/inplace.wgsl';
import fillSource from '../../shaders/fill.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape, type Shape } from '../autograd/tensor.ts';

export const WORKGROUP = 256;
const MAX_RANK = 8;

/** Unary op codes, matching `apply_unary` in shaders/unary.wgsl. */
export const UNARY = {
  neg: 0, exp: 1, log: 2, sqrt: 3, relu: 4, gelu: 5, sigmoid: 6, tanh: 7, affine: 8,
  abs: 10, square: 11, reciprocal: 12, pow: 13, step: 14, geluGrad: 15, clamp: 16,
} as const;
export type UnaryOp = keyof typeof UNARY;

/** Binary op codes, matching `apply_binary` in shaders/binary.wgsl. */
export const BINARY = {
  add: 100, sub: 101, mul: 102, div: 103, maximum: 104, minimum: 105, equal: 106, greater: 107, axpby: 108,
} as const;
export type BinaryOp = keyof typeof BINARY;

function checkFloat(t: Tensor, op: string): void {
  if (t.dtype !== 'f32') throw new Error(`${op} needs f32 tensors; ${t.name} is ${t.dtype}`);
}

/** Applies a unary op; `alpha` and `beta` are its scalar operands where it has them. */
export function unary(op: UnaryOp, x: Tensor, alpha = 0, beta = 0): Tensor {
  checkFloat(x, op);
  const out = Tensor.empty(x.shape, 'f32', op);
  if (x.size === 0) return out;
  getEngine().dispatch({
    kernel: { family: 'unary', source: unarySource, defines: { OP: UNARY[op], WORKGROUP } },
    bindings: [x.binding(), out.binding()],
    uniforms: new Uniforms().u32(x.size).f32(alpha, beta).u32(0).finish(),
    workgroups: Math.ceil(x.size / WORKGROUP),
  });
  return out;
}

/** Returns the broadcast shape of two shapes by NumPy's rules, naming both on a mismatch. */
export function broadcastShapes(a: Shape, b: Shape, op = 'broadcast'): number[] {
  const rank = Math.max(a.length, b.length);
  const out: number[] = [];
  for (let i = 0; i < rank; i++) {
    const da = a[a.length - rank + i] ?? 1;
    const db = b[b.length - rank + i] ?? 1;
    if (da !== db && da !== 1 && db !== 1) {
      throw new Error(`${op}: shapes ${formatShape(a)} and ${formatShape(b)} cannot be broadcast together (dimension ${i}: ${da} vs ${db})`);
    }
    out.push(da === 1 ? db : da);
  }
  return out;
}

/** Element strides of `shape` over the dimensions of `outShape`, 0 where broadcast. */
export function broadcastStrides(shape: Shape, outShape: Shape): number[] {
  const strides = new Array<number>(outShape.length).fill(0);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    const o = outShape.length - shape.length + i;
    strides[o] = shape[i] === 1 ? 0 : stride;
    stride *= shape[i];
  }
  return strides;
}

function padded(values: number[]): number[] {
  return [...values, ...new Array<number>(MAX_RANK - values.length).fill(0)];
}

/** Applies a binary op with broadcasting; `alpha` and `beta` weight `axpby`. */
export function binary(op: BinaryOp, a: Tensor, b: Tensor, alpha = 1, beta = 1): Tensor {
  checkFloat(a, op);
  checkFloat(b, op);
  const shape = broadcastShapes(a.shape, b.shape, op);
  if (shape.length > MAX_RANK) throw new Error(`${op}: rank ${shape.length} exceeds the supported ${MAX_RANK}`);
  const out = Tensor.empty(shape, 'f32', op);
  if (out.size === 0) return out;
  const same = a.size === out.size && b.size === out.size;
  getEngine().dispatch({
    kernel: { family: 'binary', source: binarySource, defines: { OP: BINARY[op], WORKGROUP, BROADCAST: !same } },
    bindings: [a.binding(), b.binding(), out.binding()],
    uniforms: new Uniforms(4 + 3 * MAX_RANK)
      .u32(out.size, shape.length)
      .f32(alpha, beta)
      .u32(...padded(shape), ...padded(broadcastStrides(a.shape, shape)), ...padded(broadcastStrides(b.shape, shape)))
      .finish(),
    workgroups: Math.ceil(out.size / WORKGROUP),
  });
  return out;
}

/** Adds `alpha * src` into `dst` in place; both must have the same shape. */
export function accumulateInto(dst: Tensor, src: Tensor, alpha = 1): void {
  if (dst.size !== src.size) {
    throw new Error(`accumulate: ${src.name} ${formatShape(src.shape)} does not match ${dst.name} ${formatShape(dst.shape)}`);
  }
  if (dst.size === 0) return;
  getEngine().dispatch({
    kernel: { family: 'inplace', source: inplaceSource, defines: { WORKGROUP } },
    bindings: [src.binding(), dst.binding()],
    uniforms: new Uniforms().u32(dst.size).f32(alpha).u32(0, 0).finish(),
    workgroups: Math.ceil(dst.size / WORKGROUP),
  });
}

/** Returns a new tensor filled with `value`. */
export function full(shape: Shape, value: number, name = 'full'): Tensor {
  const out = Tensor.empty(shape, 'f32', name);
  if (out.size === 0) return out;
  getEngine().dispatch({
    kernel: { family: 'fill', source: fillSource, defines: { WORKGROUP } },
    bindings: [out.binding()],
    uniforms: new Uniforms().u32(out.size).f32(value).u32(0, 0).finish(),
    workgroups: Math.ceil(out.size / WORKGROUP),
  });
  return out;
}
