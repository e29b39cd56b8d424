/**
 * Checkpoints and inference for the demo: builds DenseNet121 and the ViT from a study run's
 * safetensors files, runs one image through the study's input transform and each model, and
 * computes the soft-voting ensemble and DenseNet121's Grad-CAM, as the study does.
 * Browser-safe, so the Node test runs this same code for its reference probabilities.
 */
import { noGrad } from '../../src/autograd/tape.ts';
import { tidy } from '../../src/autograd/scope.ts';
import type { Tensor } from '../../src/autograd/tensor.ts';
import { DeviceSplit, sampleParams, transformImages, type TransformOptions } from '../../src/data/transforms.ts';
import { softmaxRows, softVote } from '../../src/experiments/metrics.ts';
import { gradCam } from '../../src/nn/gradcam.ts';
import { readCheckpoint, type CheckpointInfo, type ModelKind } from './checkpoint.ts';
import { IMAGE_SIZE } from './sample.ts';

export type { ModelKind } from './checkpoint.ts';

export interface LoadedModel extends CheckpointInfo {
  /** The file or URL the weights came from. */
  source: string;
}

export interface LoadedRun {
  name: string;
  densenet?: LoadedModel;
  vit?: LoadedModel;
  dispose(): void;
}

export interface Probabilities {
  densenet?: Float64Array;
  vit?: Float64Array;
  /** Mean of the two models' probabilities (soft voting); present when both are loaded. */
  ensemble?: Float64Array;
}

/** Path of each model's checkpoint inside a study run folder, as src/experiments/study.ts writes it. */
export const CHECKPOINT_PATHS: Record<ModelKind, string> = { densenet: 'densenet/checkpoint.safetensors', vit: 'vit/checkpoint.safetensors' };

function makeRun(name: string, models: LoadedModel[]): LoadedRun {
  const run: LoadedRun = {
    name,
    dispose() {
      for (const m of models) m.dispose();
    },
  };
  for (const m of models) {
    if (run[m.kind]) throw new Error(`${m.source} and ${run[m.kind]!.source} are both ${m.kind} checkpoints; load one of each model`);
    run[m.kind] = m;
  }
  return run;
}

/**
 * Loads the checkpoints of a run folder URL. The run's `config.json` lists its models; without
 * it both are tried, and a model whose checkpoint is missing is left out.
 */
export async function loadRunFromUrl(folderUrl: string): Promise<LoadedRun> {
  let kinds: ModelKind[] = ['densenet', 'vit'];
  const config = await fetch(new URL('config.json', folderUrl));
  if (config.ok) {
    const listed = ((await config.json()) as { models?: unknown }).models;
    if (Array.isArray(listed)) kinds = kinds.filter((kind) => listed.includes(kind));
  }
  const models: LoadedModel[] = [];
  const missing: string[] = [];
  try {
    for (const kind of kinds) {
      const url = new URL(CHECKPOINT_PATHS[kind], folderUrl).href;
      const response = await fetch(url);
      if (response.status === 404) {
        missing.push(url);
        continue;
      }
      if (!response.ok) throw new Error(`failed to fetch ${url}: HTTP ${response.status}`);
      const bytes = new Uint8Array(await response.arrayBuffer());
      models.push({ ...readCheckpoint(bytes, url, kind), source: url });
    }
    if (models.length === 0) throw new Error(`no checkpoint in ${folderUrl}: ${missing.join(' and ') || 'config.json lists no model'} not found`);
    return makeRun(folderUrl, models);
  } catch (error) {
    for (const m of models) m.dispose();
    throw error;
  }
}

/** Loads picked `.safetensors` files; each file's metadata names the model it contains. */
export async function loadRunFromFiles(files: File[]): Promise<LoadedRun> {
  const checkpoints = files.filter((f) => f.name.endsWith('.safetensors'));
  if (checkpoints.length === 0) throw new Error(`none of ${files.map((f) => f.name).join(', ')} is a .safetensors checkpoint`);
  const models: LoadedModel[] = [];
  try {
    for (const file of checkpoints) {
      // A file from a picked folder has its path, e.g. `tiny/vit/checkpoint.safetensors`.
      const name = file.webkitRelativePath || file.name;
      const bytes = new Uint8Array(await file.arrayBuffer());
      models.push({ ...readCheckpoint(bytes, name), source: name });
    }
    return makeRun(checkpoints.map((f) => f.webkitRelativePath || f.name).join(', '), models);
  } catch (error) {
    for (const m of models) m.dispose();
    throw error;
  }
}

/**
 * Adds the models of `loaded` to `previous`, replacing (and freeing) a model of the same kind,
 * so that checkpoints picked one file at a time build up a run.
 */
export function mergeRuns(previous: LoadedRun | null, loaded: LoadedRun): LoadedRun {
  if (!previous) return loaded;
  const models: LoadedModel[] = [];
  for (const kind of ['densenet', 'vit'] as const) {
    const replaced = loaded[kind] !== undefined;
    if (replaced) previous[kind]?.dispose();
    const model = replaced ? loaded[kind] : previous[kind];
    if (model) models.push(model);
  }
  return makeRun(loaded.name, models);
}

/** Describes each loaded model in one line: its name, parameter count, input and source. */
export function describeRun(run: LoadedRun): string[] {
  return [run.densenet, run.vit].filter((m): m is LoadedModel => m !== undefined).map((m) => {
    const { size, channels } = m.input;
    return `${m.title}: ${m.parameterCount.toLocaleString('en-US')} parameters, input ${channels}x${size}x${size}, from ${m.source}`;
  });
}

/** Runs the study's transform on one [28, 28] byte image: images [1, C, S, S]. */
export function transformOne(bytes: Uint8Array, input: TransformOptions): Tensor {
  if (bytes.length !== IMAGE_SIZE * IMAGE_SIZE) throw new Error(`transformOne: ${bytes.length} bytes, expected a 28x28 image (${IMAGE_SIZE * IMAGE_SIZE})`);
  const split = DeviceSplit.upload({ name: 'test', count: 1, rows: IMAGE_SIZE, cols: IMAGE_SIZE, images: bytes, labels: new Uint8Array(1) });
  try {
    return transformImages(split, sampleParams(Int32Array.of(0), undefined, 0, 0), input);
  } finally {
    split.dispose();
  }
}

async function probabilitiesOf(model: LoadedModel, bytes: Uint8Array): Promise<Float64Array> {
  const logits = noGrad(() => tidy(() => model.forward(transformOne(bytes, model.input))));
  try {
    const values = await logits.data();
    return softmaxRows(values, values.length);
  } finally {
    logits.dispose();
  }
}

/** Computes the class probabilities of one [28, 28] byte image from each loaded model and their ensemble. */
export async function classify(run: LoadedRun, bytes: Uint8Array): Promise<Probabilities> {
  const result: Probabilities = {};
  if (run.densenet) result.densenet = await probabilitiesOf(run.densenet, bytes);
  if (run.vit) result.vit = await probabilitiesOf(run.vit, bytes);
  if (result.densenet && result.vit) result.ensemble = softVote([result.densenet, result.vit]);
  return result;
}

/**
 * Computes DenseNet121's Grad-CAM for one image: the map [size, size] in [0, 1] at the model's
 * input size, for `classIndex` or the predicted class.
 */
export async function explain(run: LoadedRun, bytes: Uint8Array, classIndex?: number): Promise<{ map: Float64Array; size: number; classIndex: number }> {
  const densenet = run.densenet;
  if (!densenet?.forwardWithFeatures) throw new Error('Grad-CAM needs a DenseNet121 checkpoint');
  const size = densenet.input.size;
  const features = noGrad(() => tidy(() => densenet.forwardWithFeatures!(transformOne(bytes, densenet.input)).features));
  try {
    const cam = await gradCam({ features, head: densenet.head!, size: [size, size], classes: classIndex === undefined ? undefined : [classIndex] });
    return { map: cam.maps[0], size, classIndex: cam.classes[0] };
  } finally {
    features.dispose();
  }
}
