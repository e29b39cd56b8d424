/**
 * Training checkpoints: one safetensors file holding the model's state dict under `model.`,
 * the optimizer's moments under `optimizer.state.`, and JSON metadata (the run's config, the
 * epoch and update counts, the random-number state and the per-epoch history). Files are
 * written atomically: a temporary file in the same folder, fsync, then rename, so an
 * interrupted write leaves the previous checkpoint intact.
 */
import { closeSync, fsyncSync, openSync, readFileSync, renameSync, rmSync, writeSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { syncBatchCounts } from '../nn/layers/batchnorm.ts';
import { encodeSafetensors, decodeSafetensors } from '../nn/safetensors.ts';
import type { Module } from '../nn/module.ts';
import type { Optimizer } from '../nn/optim.ts';

export const CHECKPOINT_FORMAT = 'fashion-study-checkpoint/1';

/** The random-number state of a run. Every stream is derived from the seed and the counters. */
export interface RngState {
  seed: number;
  /** Epochs completed: the data order and augmentation of epoch e are drawn from (seed, e). */
  epoch: number;
  /** Updates made: dropout masks of update t are drawn from (seed, t). */
  step: number;
}

export interface EpochRecord {
  epoch: number;
  trainLoss: number;
  trainAccuracy: number;
  evalAccuracy: number;
  evalLoss: number;
  seconds: number;
  imagesPerSecond: number;
  lr: number;
}

export interface CheckpointMeta {
  format: string;
  model: string;
  config: unknown;
  epoch: number;
  step: number;
  rng: RngState;
  history: EpochRecord[];
}

/** Raised for a checkpoint that cannot be read; the message names the file. */
export class CheckpointError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'CheckpointError';
  }
}

/** Serialises the model, the optimizer state and `meta` into safetensors bytes. */
export async function encodeCheckpoint(model: Module, optimizer: Optimizer, meta: CheckpointMeta): Promise<Uint8Array> {
  const tensors = new Map<string, { dtype: 'f32'; shape: number[]; values: Float32Array }>();
  for (const [name, t] of model.stateDict()) {
    tensors.set(`model.${name}`, { dtype: 'f32', shape: [...t.shape], values: (await t.data()) as Float32Array });
  }
  for (const entry of optimizer.stateEntries()) {
    tensors.set(entry.name, { dtype: 'f32', shape: [...entry.tensor.shape], values: (await entry.tensor.data()) as Float32Array });
  }
  return encodeSafetensors(tensors, { checkpoint: JSON.stringify(meta) });
}

/** Writes `bytes` to `path` through a temporary file in the same folder, fsync and rename. */
export function writeFileAtomic(path: string, bytes: Uint8Array | string): void {
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.tmp`);
  const data = typeof bytes === 'string' ? Buffer.from(bytes) : bytes;
  const fd = openSync(temporary, 'w');
  try {
    let written = 0;
    while (written < data.byteLength) written += writeSync(fd, data, written, data.byteLength - written);
    fsyncSync(fd);
  } catch (error) {
    closeSync(fd);
    rmSync(temporary, { force: true });
    throw error;
  }
  closeSync(fd);
  renameSync(temporary, path);
  // The rename itself is durable only once the folder's entry is on disk.
  try {
    const dirFd = openSync(dirname(path), 'r');
    fsyncSync(dirFd);
    closeSync(dirFd);
  } catch {
    // Some file systems do not allow opening a folder for fsync; the rename is still atomic there.
  }
}

/** Writes the checkpoint atomically. */
export async function saveCheckpoint(path: string, model: Module, optimizer: Optimizer, meta: CheckpointMeta): Promise<void> {
  writeFileAtomic(path, await encodeCheckpoint(model, optimizer, meta));
}

/** Reads only the metadata of a checkpoint (to decide whether a run can resume). */
export function readCheckpointMeta(path: string): CheckpointMeta {
  return decode(path).meta;
}

function decode(path: string): { meta: CheckpointMeta; tensors: Map<string, { shape: readonly number[]; values: ArrayLike<number> }> } {
  let bytes: Uint8Array;
  try {
    bytes = readFileSync(path);
  } catch (error) {
    throw new CheckpointError(`cannot read checkpoint ${path}: ${(error as Error).message}`);
  }
  let decoded: ReturnType<typeof decodeSafetensors>;
  try {
    decoded = decodeSafetensors(bytes, path);
  } catch (error) {
    // decodeSafetensors starts its messages with the source name, which is already in this one.
    const reason = (error as Error).message.replace(`${path}: `, '');
    throw new CheckpointError(`checkpoint ${path} is corrupt: ${reason}. Delete it, or rerun with --force to start over.`);
  }
  const raw = decoded.metadata?.checkpoint;
  let meta: CheckpointMeta;
  try {
    meta = JSON.parse(raw ?? '') as CheckpointMeta;
  } catch {
    throw new CheckpointError(`checkpoint ${path} is corrupt: its metadata has no valid "checkpoint" JSON entry`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) {
    throw new CheckpointError(`checkpoint ${path} has format ${JSON.stringify(meta.format)}; expected ${CHECKPOINT_FORMAT}`);
  }
  const tensors = new Map<string, { shape: readonly number[]; values: ArrayLike<number> }>();
  for (const [name, t] of decoded.tensors) tensors.set(name, { shape: t.shape, values: t.values });
  return { meta, tensors };
}

/** Loads a checkpoint into the model and the optimizer and returns its metadata. */
export function loadCheckpoint(path: string, model: Module, optimizer: Optimizer | null): CheckpointMeta {
  const { meta, tensors } = decode(path);
  const modelEntries = new Map<string, { shape: readonly number[]; values: ArrayLike<number> }>();
  const optimizerEntries = new Map<string, { shape: readonly number[]; values: ArrayLike<number> }>();
  for (const [name, t] of tensors) {
    if (name.startsWith('model.')) modelEntries.set(name.slice('model.'.length), t);
    else if (name.startsWith('optimizer.')) optimizerEntries.set(name, t);
  }
  try {
    model.loadStateDict(modelEntries);
    syncBatchCounts(model, modelEntries);
    optimizer?.loadState(meta.step, optimizerEntries);
  } catch (error) {
    throw new CheckpointError(`checkpoint ${path} does not fit this model: ${(error as Error).message}`);
  }
  return meta;
}
