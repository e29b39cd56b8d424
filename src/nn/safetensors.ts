/**
 * Checkpoints in the safetensors format (https://huggingface.co/docs/safetensors), the format
 * PyTorch weights are commonly converted to. A file is an 8-byte little-endian header length
 * N, N bytes of JSON mapping each tensor name to { dtype, shape, data_offsets: [begin, end] }
 * (byte offsets into the data that follows, row-major, little-endian) plus an optional
 * "__metadata__" object of strings, then the data. Browser-safe: this module reads and writes
 * bytes; files are written by the callers (src/experiments).
 */
import type { Shape } from '../autograd/tensor.ts';
import { syncBatchCounts } from './layers/batchnorm.ts';
import type { Module } from './module.ts';

/** Element types this module reads; it writes F32, F64, I32 and I64. */
const DTYPE_BYTES: Record<string, number> = { F64: 8, F32: 4, F16: 2, BF16: 2, I64: 8, I32: 4, I16: 2, I8: 1, U8: 1, BOOL: 1 };
const INTEGER_DTYPES = new Set(['I64', 'I32', 'I16', 'I8', 'U8', 'BOOL']);
/** Largest header this reader accepts, as the reference implementation limits it (100 MB). */
const MAX_HEADER_BYTES = 100_000_000;

export interface SafetensorsEntry {
  /** A safetensors dtype (`F32`, `I64`, ...) or an engine dtype (`f32` is written as F32, `i32` as I32). */
  dtype: string;
  shape: Shape;
  values: ArrayLike<number>;
}

/** A decoded tensor: floating types come back as Float32Array, integer types as Int32Array. */
export interface DecodedTensor {
  dtype: string;
  shape: number[];
  values: Float32Array | Int32Array;
}

export class SafetensorsError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'SafetensorsError';
  }
}

function fileDtype(dtype: string): string {
  const upper = dtype.toUpperCase();
  if (!['F32', 'F64', 'I32', 'I64'].includes(upper)) {
    throw new SafetensorsError(`cannot write dtype ${dtype}; use F32, F64, I32 or I64`);
  }
  return upper;
}

function elementCount(shape: readonly number[]): number {
  return shape.reduce((n, d) => n * d, 1);
}

/** Encodes tensors (in the map's order) and optional string metadata as a safetensors file. */
export function encodeSafetensors(tensors: Map<string, SafetensorsEntry>, metadata?: Record<string, string>): Uint8Array {
  const header: Record<string, unknown> = {};
  if (metadata) header.__metadata__ = metadata;
  let offset = 0;
  const layout: { dtype: string; begin: number; entry: SafetensorsEntry }[] = [];
  for (const [name, entry] of tensors) {
    if (name === '__metadata__') throw new SafetensorsError('a tensor cannot be named __metadata__');
    const dtype = fileDtype(entry.dtype);
    const count = elementCount(entry.shape);
    if (entry.values.length !== count) {
      throw new SafetensorsError(`${name}: ${entry.values.length} values do not fill shape [${entry.shape.join(', ')}] (${count} elements)`);
    }
    const bytes = count * DTYPE_BYTES[dtype];
    header[name] = { dtype, shape: [...entry.shape], data_offsets: [offset, offset + bytes] };
    layout.push({ dtype, begin: offset, entry });
    offset += bytes;
  }

  // The header is padded with spaces to a multiple of 8 bytes, so the data is 8-byte aligned.
  let json = new TextEncoder().encode(JSON.stringify(header));
  const padded = Math.ceil(json.length / 8) * 8;
  if (padded !== json.length) json = new TextEncoder().encode(JSON.stringify(header) + ' '.repeat(padded - json.length));

  const out = new Uint8Array(8 + json.length + offset);
  const view = new DataView(out.buffer);
  view.setBigUint64(0, BigInt(json.length), true);
  out.set(json, 8);
  const base = 8 + json.length;
  for (const { dtype, begin, entry } of layout) {
    const values = entry.values;
    for (let i = 0; i < values.length; i++) {
      const at = base + begin + i * DTYPE_BYTES[dtype];
      if (dtype === 'F32') view.setFloat32(at, values[i], true);
      else if (dtype === 'F64') view.setFloat64(at, values[i], true);
      else if (dtype === 'I32') view.setInt32(at, values[i], true);
      else view.setBigInt64(at, BigInt(Math.trunc(values[i])), true);
    }
  }
  return out;
}

function halfToFloat(bits: number): number {
  const sign = bits & 0x8000 ? -1 : 1;
  const exponent = (bits >> 10) & 0x1f;
  const fraction = bits & 0x3ff;
  if (exponent === 0) return sign * 2 ** -14 * (fraction / 1024);
  if (exponent === 0x1f) return fraction ? NaN : sign * Infinity;
  return sign * 2 ** (exponent - 15) * (1 + fraction / 1024);
}

/** Decodes a safetensors file; `source` names it in error messages. */
export function decodeSafetensors(bytes: Uint8Array, source = 'safetensors file'): { tensors: Map<string, DecodedTensor>; metadata: Record<string, string> } {
  if (bytes.length < 8) throw new SafetensorsError(`${source}: ${bytes.length} bytes is too short for a safetensors file (needs an 8-byte header length)`);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const headerLength = Number(view.getBigUint64(0, true));
  if (headerLength > MAX_HEADER_BYTES || 8 + headerLength > bytes.length) {
    throw new SafetensorsError(`${source}: header length ${headerLength} does not fit in the file's ${bytes.length} bytes; the file is truncated or not safetensors`);
  }
  let header: Record<string, unknown>;
  try {
    header = JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + headerLength)));
  } catch (error) {
    throw new SafetensorsError(`${source}: the header is not valid JSON (${(error as Error).message})`);
  }
  if (header === null || typeof header !== 'object' || Array.isArray(header)) throw new SafetensorsError(`${source}: the header is not a JSON object`);

  const metadata: Record<string, string> = {};
  const rawMetadata = header.__metadata__;
  if (rawMetadata !== undefined) {
    if (rawMetadata === null || typeof rawMetadata !== 'object') throw new SafetensorsError(`${source}: __metadata__ is not an object`);
    for (const [key, value] of Object.entries(rawMetadata)) {
      if (typeof value !== 'string') throw new SafetensorsError(`${source}: metadata ${key} is not a string`);
      metadata[key] = value;
    }
  }

  const base = 8 + headerLength;
  const dataLength = bytes.length - base;
  const tensors = new Map<string, DecodedTensor>();
  const ranges: [number, number, string][] = [];
  for (const [name, info] of Object.entries(header)) {
    if (name === '__metadata__') continue;
    const { dtype, shape, data_offsets: offsets } = (info ?? {}) as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof dtype !== 'string' || !(dtype in DTYPE_BYTES)) throw new SafetensorsError(`${source}: ${name} has unsupported dtype ${String(dtype)}`);
    if (!Array.isArray(shape) || !shape.every((d) => Number.isInteger(d) && d >= 0)) throw new SafetensorsError(`${source}: ${name} has an invalid shape ${JSON.stringify(shape)}`);
    if (!Array.isArray(offsets) || offsets.length !== 2 || !offsets.every((o) => Number.isInteger(o) && o >= 0)) {
      throw new SafetensorsError(`${source}: ${name} has invalid data_offsets ${JSON.stringify(offsets)}`);
    }
    const [begin, end] = offsets as [number, number];
    const count = elementCount(shape);
    const size = DTYPE_BYTES[dtype];
    if (end < begin || end - begin !== count * size || end > dataLength) {
      throw new SafetensorsError(`${source}: ${name} ${dtype} [${shape.join(', ')}] needs ${count * size} bytes, but data_offsets are [${begin}, ${end}] in ${dataLength} bytes of data`);
    }
    ranges.push([begin, end, name]);

    const at = base + begin;
    let values: Float32Array | Int32Array;
    if (INTEGER_DTYPES.has(dtype)) {
      values = new Int32Array(count);
      for (let i = 0; i < count; i++) {
        const p = at + i * size;
        let v: number;
        if (dtype === 'I64') {
          const big = view.getBigInt64(p, true);
          if (big > 2147483647n || big < -2147483648n) throw new SafetensorsError(`${source}: ${name} element ${i} (${big}) does not fit in int32`);
          v = Number(big);
        } else if (dtype === 'I32') v = view.getInt32(p, true);
        else if (dtype === 'I16') v = view.getInt16(p, true);
        else if (dtype === 'I8') v = view.getInt8(p);
        else v = view.getUint8(p);
        values[i] = v;
      }
    } else {
      values = new Float32Array(count);
      for (let i = 0; i < count; i++) {
        const p = at + i * size;
        if (dtype === 'F32') values[i] = view.getFloat32(p, true);
        else if (dtype === 'F64') values[i] = view.getFloat64(p, true);
        else if (dtype === 'F16') values[i] = halfToFloat(view.getUint16(p, true));
        else values[i] = new Float32Array(new Uint32Array([view.getUint16(p, true) << 16]).buffer)[0];
      }
    }
    tensors.set(name, { dtype, shape: [...shape], values });
  }

  // As the reference implementation requires: the tensors tile the data without gaps or overlaps.
  ranges.sort((a, b) => a[0] - b[0] || a[1] - b[1]);
  let expected = 0;
  for (const [begin, end, name] of ranges) {
    if (begin !== expected) throw new SafetensorsError(`${source}: ${name} starts at byte ${begin}, expected ${expected}: tensors overlap or leave a gap`);
    expected = end;
  }
  if (expected !== dataLength) throw new SafetensorsError(`${source}: tensors cover ${expected} of ${dataLength} data bytes`);
  return { tensors, metadata };
}

/** Reads a model's parameters and buffers (running statistics) and encodes them by name. */
export async function saveModel(model: Module, metadata?: Record<string, string>): Promise<Uint8Array> {
  const entries = new Map<string, SafetensorsEntry>();
  for (const [name, t] of model.stateDict()) {
    entries.set(name, { dtype: t.dtype === 'i32' ? 'I64' : 'F32', shape: t.shape, values: await t.data() });
  }
  return encodeSafetensors(entries, metadata);
}

export interface LoadOptions {
  /** Entries to leave out, in the file and the model: names or name prefixes ending in `.`, or a predicate. */
  skip?: readonly string[] | ((name: string) => boolean);
  /** Names the file in error messages. */
  source?: string;
}

/** Renames torchvision's legacy DenseNet keys (`denselayer1.norm.1.weight` -> `denselayer1.norm1.weight`). */
function modernName(name: string): string {
  return name.replace(/(denselayer\d+\.(?:norm|relu|conv))\.([12])\.(weight|bias|running_mean|running_var|num_batches_tracked)$/, '$1$2.$3');
}

/**
 * Loads parameters and buffers by name into `model`. Every name must match in both directions
 * and every shape must agree, except for skipped entries; the error lists each missing, extra
 * or mis-shaped tensor by name. To load torchvision's ImageNet DenseNet121 into a 10-class
 * model, skip the head: `{ skip: ['classifier.'] }`.
 */
export function loadModel(model: Module, bytes: Uint8Array, options: LoadOptions = {}): void {
  const source = options.source ?? 'checkpoint';
  const { tensors } = decodeSafetensors(bytes, source);
  const skipList = options.skip;
  const skip = typeof skipList === 'function'
    ? skipList
    : (name: string) => (skipList ?? []).some((s) => (s.endsWith('.') ? name.startsWith(s) : name === s));

  const entries = new Map<string, { shape: Shape; values: ArrayLike<number> }>();
  for (const [name, t] of tensors) entries.set(modernName(name), t);
  try {
    model.loadStateDict(entries, { skip });
  } catch (error) {
    throw new SafetensorsError(`${source}: ${(error as Error).message}`);
  }
  syncBatchCounts(model, entries, skip);
}
