/**
 * Reads a study checkpoint (`runs/<name>/<model>/checkpoint.safetensors`). The file contains
 * the model's state dict under `model.`, optimizer state under `optimizer.` (ignored here) and
 * a `checkpoint` metadata entry. That entry's JSON names the model and contains the run's
 * config with its preset, from which the model and its input transform are rebuilt as the
 * study builds them.
 */
import type { Tensor } from '../../src/autograd/tensor.ts';
import type { TransformOptions } from '../../src/data/transforms.ts';
import type { Classifier } from '../../src/experiments/evaluate.ts';
import { buildModel, denseNetHead, type FeatureClassifier } from '../../src/experiments/models.ts';
import { normalizationOf, type Preset } from '../../src/experiments/presets.ts';
import { decodeSafetensors } from '../../src/nn/safetensors.ts';

export { buildModel };
export type ModelKind = 'densenet' | 'vit';

/** Format tag of the study's checkpoints (src/experiments/checkpoint.ts, which needs node:fs). */
export const CHECKPOINT_FORMAT = 'fashion-study-checkpoint/1';

export interface CheckpointInfo {
  kind: ModelKind;
  /** Readable name with the preset and epoch, e.g. `DenseNet121 (preset default, epoch 3)`. */
  title: string;
  /** The study's input transform for this model: size, channels and normalisation. */
  input: TransformOptions & { size: number; channels: 1 | 3 };
  parameterCount: number;
  /** Logits [B, 10] for images [B, C, S, S]. */
  forward(images: Tensor): Tensor;
  /** DenseNet only: the final batchnorm's output [B, C, h, w] and the logits. */
  forwardWithFeatures?(images: Tensor): { features: Tensor; logits: Tensor };
  /** DenseNet only: the classifier head applied to those features, for Grad-CAM. */
  head?(features: Tensor): Tensor;
  dispose(): void;
}

/** Finds the preset in a checkpoint's `config`: the study's run config `{ preset, model, seed }` or a bare preset. */
export function presetOf(config: unknown, source: string): Preset {
  const candidates = [(config as { preset?: unknown } | null)?.preset, config];
  for (const candidate of candidates) {
    const c = candidate as Partial<Preset> | null | undefined;
    if (c && typeof c === 'object' && typeof c.imageSize === 'number' && typeof c.channels === 'number' && c.densenet && c.vit) return c as Preset;
  }
  throw new Error(`${source}: the checkpoint metadata has no preset (imageSize, channels, normalization, densenet, vit); was it written by the study?`);
}

/** Returns the study's input transform for a preset. */
export function inputOf(preset: Preset): CheckpointInfo['input'] {
  return { size: preset.imageSize, channels: preset.channels, ...normalizationOf(preset) };
}

/** Decodes a checkpoint and loads its weights into a model in eval mode. */
export function readCheckpoint(bytes: Uint8Array, source: string, expectedKind?: ModelKind): CheckpointInfo {
  const { tensors, metadata } = decodeSafetensors(bytes, source);
  let meta: { format?: string; model?: string; config?: unknown; epoch?: number };
  try {
    meta = JSON.parse(metadata?.checkpoint ?? '');
  } catch {
    throw new Error(`${source}: no "checkpoint" JSON in the safetensors metadata; the demo reads checkpoints written by the study (npm run exp:ensemble)`);
  }
  if (meta.format !== CHECKPOINT_FORMAT) throw new Error(`${source}: checkpoint format ${JSON.stringify(meta.format)}, expected ${CHECKPOINT_FORMAT}`);
  const kind = meta.model;
  if (kind !== 'densenet' && kind !== 'vit') throw new Error(`${source}: checkpoint model ${JSON.stringify(kind)} is neither densenet nor vit`);
  if (expectedKind && kind !== expectedKind) throw new Error(`${source}: contains a ${kind} checkpoint, expected ${expectedKind}; check which file is which`);
  const preset = presetOf(meta.config, source);

  // The seed only sets initial values, which the checkpoint overwrites.
  const model = buildModel(kind, preset, 0);
  const weights = new Map<string, { shape: readonly number[]; values: ArrayLike<number> }>();
  for (const [name, t] of tensors) if (name.startsWith('model.')) weights.set(name.slice('model.'.length), t);
  try {
    model.loadStateDict(weights);
  } catch (error) {
    disposeModel(model);
    throw new Error(`${source} does not fit the ${kind} its preset describes: ${(error as Error).message}`);
  }
  model.eval();

  const epoch = meta.epoch === undefined ? '' : `, epoch ${meta.epoch}`;
  const info: CheckpointInfo = {
    kind,
    title: `${kind === 'densenet' ? 'DenseNet121' : 'ViT'} (preset ${preset.name ?? 'unnamed'}${epoch})`,
    input: inputOf(preset),
    parameterCount: model.parameterCount(),
    forward: (images) => model.forward(images),
    dispose: () => disposeModel(model),
  };
  if (kind === 'densenet') {
    const densenet = model as unknown as FeatureClassifier;
    info.forwardWithFeatures = (images) => densenet.forwardWithFeatures(images);
    info.head = denseNetHead(densenet);
  }
  return info;
}

/** Frees a model's parameters and buffers. */
export function disposeModel(model: Classifier): void {
  for (const [, t] of model.stateDict()) t.dispose();
}
