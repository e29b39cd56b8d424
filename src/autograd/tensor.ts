/**
 * Tensor: a shape, a dtype and a reference to GPU storage, plus its autograd state.
 *
 * Storage is reference counted so that several tensors can share one buffer (a reshape, a
 * tensor saved by the tape after its scope ended). Tensors are freed explicitly with
 * `dispose()` or by the scope that created them (`tidy`, in scope.ts); the garbage collector
 * never frees GPU memory.
 */
import { getEngine, type Binding } from '../gpu/engine.ts';
import type { PooledBuffer } from '../gpu/pool.ts';
import { trackTensor } from './scope.ts';
import type { TapeNode } from './tape.ts';

export type DType = 'f32' | 'i32';
export type Shape = readonly number[];
export type TypedArrayFor<D extends DType> = D extends 'i32' ? Int32Array : Float32Array;

/** A pooled GPU buffer shared by one or more tensors. */
export class Storage {
  private refs = 1;

  constructor(
    readonly entry: PooledBuffer,
    /** Bytes in use (the pool's size class may be larger). */
    readonly byteSize: number,
  ) {}

  retain(): this {
    if (this.refs <= 0) throw new Error('retain() on freed storage');
    this.refs++;
    return this;
  }

  release(): void {
    if (--this.refs === 0) getEngine().release(this.entry);
    if (this.refs < 0) throw new Error('storage released more often than retained');
  }

  get alive(): boolean {
    return this.refs > 0;
  }

  /** True when more than one tensor refers to this storage, so an in-place write shows in all. */
  get shared(): boolean {
    return this.refs > 1;
  }
}

let nextId = 1;

export function sizeOf(shape: Shape): number {
  let n = 1;
  for (const d of shape) n *= d;
  return n;
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(', ')}]`;
}

export function checkShape(shape: Shape, what = 'shape'): void {
  for (const d of shape) {
    if (!Number.isInteger(d) || d < 0) throw new Error(`invalid ${what} ${formatShape(shape)}: dimensions must be non-negative integers`);
  }
}

export class Tensor {
  readonly id = nextId++;
  readonly shape: Shape;
  readonly dtype: DType;
  readonly storage: Storage;
  name: string;
  requiresGrad = false;
  /** Accumulated gradient of a leaf tensor (a parameter) after `backward()`. */
  grad: Tensor | null = null;
  /** The tape node that produced this tensor, or null for leaves. */
  creator: TapeNode | null = null;
  private disposed = false;

  constructor(shape: Shape, dtype: DType, storage: Storage, name = 'tensor') {
    checkShape(shape);
    this.shape = Object.freeze([...shape]);
    this.dtype = dtype;
    this.storage = storage;
    this.name = name;
    trackTensor(this);
  }

  /** Allocates an uninitialised tensor (kernels that write every element fill it). */
  static empty(shape: Shape, dtype: DType = 'f32', name = 'tensor'): Tensor {
    checkShape(shape);
    const byteSize = sizeOf(shape) * 4;
    const entry = getEngine().allocate(byteSize, `${name} ${formatShape(shape)}`);
    return new Tensor(shape, dtype, new Storage(entry, byteSize), name);
  }

  get size(): number {
    return sizeOf(this.shape);
  }

  get rank(): number {
    return this.shape.length;
  }

  get byteSize(): number {
    return this.size * 4;
  }

  get isDisposed(): boolean {
    return this.disposed;
  }

  /** Returns the binding a kernel uses to read or write this tensor. */
  binding(): Binding {
    this.assertAlive();
    return { entry: this.storage.entry, byteSize: this.byteSize, name: `${this.name} ${formatShape(this.shape)}` };
  }

  /** Returns a new tensor that shares this one's storage, with another shape of the same size. */
  view(shape: Shape, name = this.name): Tensor {
    this.assertAlive();
    if (sizeOf(shape) !== this.size) {
      throw new Error(`cannot view ${this.name} of shape ${formatShape(this.shape)} as ${formatShape(shape)}: sizes differ`);
    }
    return new Tensor(shape, this.dtype, this.storage.retain(), name);
  }

  /** Copies the values to the host; the only point at which the host waits for the GPU. */
  async data(): Promise<Float32Array | Int32Array> {
    this.assertAlive();
    const bytes = await getEngine().read(this.storage.entry, this.byteSize);
    return this.dtype === 'i32' ? new Int32Array(bytes) : new Float32Array(bytes);
  }

  /** Copies the values to the host as a plain array. */
  async array(): Promise<number[]> {
    return Array.from(await this.data());
  }

  /** Reads a one-element tensor. */
  async item(): Promise<number> {
    if (this.size !== 1) throw new Error(`item() needs a tensor with one element; ${this.name} has shape ${formatShape(this.shape)}`);
    return (await this.data())[0];
  }

  /** Overwrites the values from the host. */
  write(values: ArrayLike<number>): void {
    this.assertAlive();
    if (values.length !== this.size) {
      throw new Error(`write to ${this.name} ${formatShape(this.shape)}: got ${values.length} values, expected ${this.size}`);
    }
    const typed = this.dtype === 'i32' ? Int32Array.from(values) : Float32Array.from(values);
    getEngine().write(this.storage.entry, typed);
  }

  /** Runs backpropagation from this scalar (see tape.ts). */
  backward(gradient?: Tensor): void {
    // Imported lazily to keep tensor.ts free of a cycle with tape.ts at module load.
    backwardImpl(this, gradient);
  }

  dispose(): void {
    if (this.disposed) return;
    this.disposed = true;
    this.storage.release();
  }

  assertAlive(): void {
    if (this.disposed) throw new Error(`${this.name} ${formatShape(this.shape)} was used after dispose()`);
  }

  toString(): string {
    return `Tensor(${this.name}, ${this.dtype}, ${formatShape(this.shape)})`;
  }
}

let backwardImpl: (t: Tensor, gradient?: Tensor) => void = () => {
  throw new Error('autograd tape not loaded');
};

/** Installed by tape.ts. */
export function setBackwardImpl(fn: (t: Tensor, gradient?: Tensor) => void): void {
  backwardImpl = fn;
}

/** Creates a tensor from host values. */
export function tensor(values: ArrayLike<number>, shape: Shape, options: { dtype?: DType; name?: string; requiresGrad?: boolean } = {}): Tensor {
  checkShape(shape);
  if (values.length !== sizeOf(shape)) {
    throw new Error(`tensor ${options.name ?? ''}: ${values.length} values do not fill shape ${formatShape(shape)} (${sizeOf(shape)} elements)`);
  }
  const t = Tensor.empty(shape, options.dtype ?? 'f32', options.name ?? 'tensor');
  if (values.length > 0) t.write(values);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}

/** Creates a tensor of zeros. */
export function zeros(shape: Shape, options: { dtype?: DType; name?: string; requiresGrad?: boolean } = {}): Tensor {
  const t = Tensor.empty(shape, options.dtype ?? 'f32', options.name ?? 'zeros');
  if (t.byteSize > 0) getEngine().clear(t.storage.entry, 0, Math.ceil(t.byteSize / 4) * 4);
  t.requiresGrad = options.requiresGrad ?? false;
  return t;
}
