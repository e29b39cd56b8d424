/**
 * Shape kernels: permute, slice, slice assignment and concat, all built on one strided copy
 * (shaders/strided_copy.wgsl). A copy whose source and destination are both contiguous runs
 * as a buffer-to-buffer copy instead. These wrappers record nothing on the tape; the
 * differentiable versions are in src/autograd/ops/shape.ts.
 */
import stridedCopySource from '../../shaders/strided_copy.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape, sizeOf, type Shape } from '../autograd/tensor.ts';

const WORKGROUP = 256;
const MAX_RANK = 8;

/** Row-major element strides of `shape`. */
export function contiguousStrides(shape: Shape): number[] {
  const strides = new Array<number>(shape.length);
  let stride = 1;
  for (let i = shape.length - 1; i >= 0; i--) {
    strides[i] = stride;
    stride *= shape[i];
  }
  return strides;
}

/** True when `strides` walk `shape` in row-major order with no gaps (size-1 dimensions ignored). */
function isContiguous(shape: Shape, strides: readonly number[]): boolean {
  const expected = contiguousStrides(shape);
  return shape.every((d, i) => d === 1 || strides[i] === expected[i]);
}

function padded(values: readonly number[]): number[] {
  return [...values, ...new Array<number>(MAX_RANK - values.length).fill(0)];
}

/** One strided copy: a box of `shape` elements, with element offsets and strides on each side. */
export interface StridedCopy {
  src: Tensor;
  dst: Tensor;
  shape: Shape;
  srcOffset: number;
  srcStrides: readonly number[];
  dstOffset: number;
  dstStrides: readonly number[];
}

/**
 * Drops size-1 dimensions and merges each dimension into the next inner one when both sides
 * step over it contiguously, so that the kernel does fewer divisions per element and more
 * copies become plain buffer copies. Concat along axis 1 of [N, C, H, W], for example, becomes
 * a copy of N rows of C * H * W elements.
 */
function simplify(c: StridedCopy): { shape: number[]; srcStrides: number[]; dstStrides: number[] } {
  const shape: number[] = [];
  const srcStrides: number[] = [];
  const dstStrides: number[] = [];
  for (let i = 0; i < c.shape.length; i++) {
    if (c.shape[i] === 1) continue;
    const last = shape.length - 1;
    const mergeable =
      last >= 0 && srcStrides[last] === c.srcStrides[i] * c.shape[i] && dstStrides[last] === c.dstStrides[i] * c.shape[i];
    if (mergeable) {
      shape[last] *= c.shape[i];
      srcStrides[last] = c.srcStrides[i];
      dstStrides[last] = c.dstStrides[i];
    } else {
      shape.push(c.shape[i]);
      srcStrides.push(c.srcStrides[i]);
      dstStrides.push(c.dstStrides[i]);
    }
  }
  return { shape, srcStrides, dstStrides };
}

/** Rows at most this many, each at least MIN_ROW_ELEMENTS long, are copied row by row with buffer copies. */
const MAX_COPY_ROWS = 64;
const MIN_ROW_ELEMENTS = 4096;

/** Records a strided copy from `src` into `dst` (no bounds are checked here). */
export function stridedCopy(c: StridedCopy): void {
  const n = sizeOf(c.shape);
  if (n === 0) return;
  const { shape, srcStrides, dstStrides } = simplify(c);
  if (shape.length > MAX_RANK) throw new Error(`strided copy: rank ${shape.length} exceeds the supported ${MAX_RANK}`);
  const engine = getEngine();
  const src = c.src.binding().entry;
  const dst = c.dst.binding().entry;

  // Contiguous on both sides: one buffer copy.
  if (isContiguous(shape, srcStrides) && isContiguous(shape, dstStrides)) {
    engine.copy(src, 4 * c.srcOffset, dst, 4 * c.dstOffset, 4 * n);
    return;
  }

  // A few long contiguous rows (concat and slice along an outer axis): one buffer copy per row.
  const rows = shape[0];
  if (shape.length === 2 && srcStrides[1] === 1 && dstStrides[1] === 1 && rows <= MAX_COPY_ROWS && shape[1] >= MIN_ROW_ELEMENTS) {
    for (let r = 0; r < rows; r++) {
      engine.copy(src, 4 * (c.srcOffset + r * srcStrides[0]), dst, 4 * (c.dstOffset + r * dstStrides[0]), 4 * shape[1]);
    }
    return;
  }

  engine.dispatch({
    kernel: { family: 'strided_copy', source: stridedCopySource, defines: { WORKGROUP } },
    bindings: [c.src.binding(), c.dst.binding()],
    uniforms: new Uniforms(4 + 3 * MAX_RANK)
      .u32(n, shape.length, c.srcOffset, c.dstOffset)
      .u32(...padded(shape), ...padded(srcStrides), ...padded(dstStrides))
      .finish(),
    workgroups: Math.ceil(n / WORKGROUP),
  });
}

/** Normalises an axis that may count from the end; names the shape when out of range. */
export function normalizeAxis(axis: number, rank: number, op: string, shape: Shape): number {
  const a = axis < 0 ? axis + rank : axis;
  if (!Number.isInteger(a) || a < 0 || a >= rank) {
    throw new Error(`${op}: axis ${axis} is out of range for shape ${formatShape(shape)} (rank ${rank})`);
  }
  return a;
}

/** Checks that `dims` is a permutation of the axes of `x` and returns it with negatives resolved. */
export function checkPermutation(x: Tensor, dims: readonly number[], op = 'permute'): number[] {
  if (dims.length !== x.rank) {
    throw new Error(`${op}: dims [${dims.join(', ')}] must list each of the ${x.rank} axes of ${x.name} ${formatShape(x.shape)} once`);
  }
  const resolved = dims.map((d) => normalizeAxis(d, x.rank, op, x.shape));
  if (new Set(resolved).size !== resolved.length) {
    throw new Error(`${op}: dims [${dims.join(', ')}] repeat an axis; expected a permutation of 0..${x.rank - 1}`);
  }
  return resolved;
}

/** Copies `x` with its axes reordered: out.shape[i] = x.shape[dims[i]]. */
export function permuteCopy(x: Tensor, dims: readonly number[]): Tensor {
  const order = checkPermutation(x, dims);
  const shape = order.map((d) => x.shape[d]);
  const out = Tensor.empty(shape, x.dtype, 'permute');
  const xStrides = contiguousStrides(x.shape);
  stridedCopy({
    src: x, dst: out, shape,
    srcOffset: 0, srcStrides: order.map((d) => xStrides[d]),
    dstOffset: 0, dstStrides: contiguousStrides(shape),
  });
  return out;
}

/**
 * Resolves slice bounds: a size of -1 runs to the end of its axis. Rejects bounds outside the
 * tensor with a message naming its shape.
 */
export function resolveSlice(x: Tensor, starts: readonly number[], sizes: readonly number[]): number[] {
  if (starts.length !== x.rank || sizes.length !== x.rank) {
    throw new Error(
      `slice: starts [${starts.join(', ')}] and sizes [${sizes.join(', ')}] need one entry per axis of ${x.name} ${formatShape(x.shape)}`,
    );
  }
  return sizes.map((size, i) => {
    const start = starts[i];
    const resolved = size === -1 ? x.shape[i] - start : size;
    if (!Number.isInteger(start) || !Number.isInteger(resolved) || start < 0 || resolved < 0 || start + resolved > x.shape[i]) {
      throw new Error(
        `slice: starts [${starts.join(', ')}] with sizes [${sizes.join(', ')}] exceed ${x.name} ${formatShape(x.shape)} on axis ${i}`,
      );
    }
    return resolved;
  });
}

function offsetOf(starts: readonly number[], strides: readonly number[]): number {
  return starts.reduce((sum, s, i) => sum + s * strides[i], 0);
}

/** Copies x[starts[0] : starts[0] + sizes[0], ...] into a new tensor; a size of -1 runs to the end. */
export function sliceCopy(x: Tensor, starts: readonly number[], sizes: readonly number[]): Tensor {
  const shape = resolveSlice(x, starts, sizes);
  const out = Tensor.empty(shape, x.dtype, 'slice');
  const xStrides = contiguousStrides(x.shape);
  stridedCopy({
    src: x, dst: out, shape,
    srcOffset: offsetOf(starts, xStrides), srcStrides: xStrides,
    dstOffset: 0, dstStrides: contiguousStrides(shape),
  });
  return out;
}

/** Copies all of `src` into the box of `dst` that starts at `starts` (in place). */
export function writeSlice(dst: Tensor, src: Tensor, starts: readonly number[]): void {
  if (src.dtype !== dst.dtype) throw new Error(`writeSlice: ${src.name} is ${src.dtype} but ${dst.name} is ${dst.dtype}`);
  resolveSlice(dst, starts, src.shape);
  const dstStrides = contiguousStrides(dst.shape);
  stridedCopy({
    src, dst, shape: src.shape,
    srcOffset: 0, srcStrides: contiguousStrides(src.shape),
    dstOffset: offsetOf(starts, dstStrides), dstStrides,
  });
}

/** Computes the shape of `xs` joined along `axis`; names the first pair of shapes that do not fit. */
export function concatShape(xs: readonly Tensor[], axis: number): number[] {
  if (xs.length === 0) throw new Error('concat: needs at least one tensor');
  const first = xs[0];
  const a = normalizeAxis(axis, first.rank, 'concat', first.shape);
  const shape = [...first.shape];
  for (let k = 1; k < xs.length; k++) {
    const x = xs[k];
    const fits = x.rank === first.rank && x.shape.every((d, i) => i === a || d === first.shape[i]);
    if (!fits) {
      throw new Error(
        `concat: ${x.name} ${formatShape(x.shape)} (input ${k}) does not match ${first.name} ${formatShape(first.shape)} ` +
          `(input 0) outside axis ${a}`,
      );
    }
    if (x.dtype !== first.dtype) throw new Error(`concat: input ${k} is ${x.dtype} but input 0 is ${first.dtype}`);
    shape[a] += x.shape[a];
  }
  return shape;
}

/** Copies `xs`, joined along `axis`, into a new tensor. */
export function concatCopy(xs: readonly Tensor[], axis: number): Tensor {
  const shape = concatShape(xs, axis);
  const a = normalizeAxis(axis, shape.length, 'concat', shape);
  const out = Tensor.empty(shape, xs[0].dtype, 'concat');
  const starts = new Array<number>(shape.length).fill(0);
  for (const x of xs) {
    writeSlice(out, x, starts);
    starts[a] += x.shape[a];
  }
  return out;
}
