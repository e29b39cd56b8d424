/**
 * The study's stages in a run folder:
 *
 *   <run>/config.json                 preset, models, seed and command line of the run
 *   <run>/<model>/checkpoint.safetensors   written atomically after every epoch
 *   <run>/<model>/summary.json        metrics, latency, history and model summary
 *   <run>/<model>/predictions.json    test logits, clean and noisy, with labels and indices
 *   <run>/figures/*.png               example images and Grad-CAM figures
 *   <run>/results.json, report.html   written once every requested model is done
 *
 * `runModelStage` trains and evaluates one model, so the two models can run on different
 * machines. `runReportStage` combines model folders into the ensemble, results.json and the
 * report.
 */
import { existsSync, mkdirSync, readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { getEngine } from '../gpu/engine.ts';
import { noGrad } from '../autograd/tape.ts';
import { DataLoader, balancedSubset } from '../data/loader.ts';
import { DeviceSplit, type TransformOptions } from '../data/transforms.ts';
import { CLASS_NAMES, type FashionMnist, type HostSplit } from '../data/fashion-mnist.ts';
import { classCounts, classSimilarity, exampleGrid } from '../data/eda.ts';
import { gradCam, overlayHeatmap, resizeBilinear } from '../nn/gradcam.ts';
import { writeFileAtomic } from './checkpoint.ts';
import { measureLatency, predict, type Predictions } from './evaluate.ts';
import { enlarge, encodePng, pngDataUrl } from './figures.ts';
import { argmaxRows, classificationReport, confusionMatrix, softVote, softmaxRows, topConfusions } from './metrics.ts';
import { buildModel, denseNetHead, summarizeModel, type FeatureClassifier } from './models.ts';
import { normalizationOf, normalizedRange, type ModelName, type Preset } from './presets.ts';
import { buildReport } from './report.ts';
import type { EvaluationResult, GradCamFigure, ModelStage, ResultEntry, Results } from './results.ts';
import { train } from './train.ts';
import { hashKey } from '../data/transforms.ts';

export interface StageContext {
  preset: Preset;
  out: string;
  seed: number;
  resume: boolean;
  data: FashionMnist;
  log: (line: string) => void;
  interactive?: boolean;
  /** Stop training after this many epochs (tests of interruption). */
  stopAfterEpoch?: number;
}

export function transformOf(preset: Preset, augment: boolean): TransformOptions {
  const { mean, std } = normalizationOf(preset);
  return { size: preset.imageSize, channels: preset.channels, mean, std, augment: augment ? preset.augment : undefined };
}

/** Test-set indices of a preset: all 10,000 images, or a balanced seeded subset. */
export function testIndices(preset: Preset, test: HostSplit, seed: number): Int32Array {
  return preset.testPerClass ? balancedSubset(test.labels, preset.testPerClass, hashKey(seed, 2)) : Int32Array.from({ length: test.count }, (_, i) => i);
}

function evaluation(labels: Int32Array, clean: Predictions, noisy: Predictions): EvaluationResult {
  const cm = confusionMatrix(labels, argmaxRows(clean.logits, clean.classes), clean.classes);
  const noisyCm = confusionMatrix(labels, argmaxRows(noisy.logits, noisy.classes), noisy.classes);
  return evaluationFromMatrices(cm, noisyCm);
}

function evaluationFromMatrices(cm: number[][], noisyCm: number[][]): EvaluationResult {
  const report = classificationReport(cm);
  const noisyReport = classificationReport(noisyCm);
  return {
    accuracy: report.accuracy,
    precision: report.macro.precision,
    recall: report.macro.recall,
    f1: report.macro.f1,
    weighted: report.weighted,
    perClass: report.perClass,
    confusionMatrix: cm,
    noisy: { accuracy: noisyReport.accuracy, precision: noisyReport.macro.precision, recall: noisyReport.macro.recall, f1: noisyReport.macro.f1, confusionMatrix: noisyCm },
  };
}

/** Trains (or resumes) one model, evaluates it on clean and noisy test images and writes its folder. */
export async function runModelStage(ctx: StageContext, name: ModelName): Promise<ModelStage> {
  const { preset, seed, log, data } = ctx;
  const folder = join(ctx.out, name);
  mkdirSync(folder, { recursive: true });
  mkdirSync(join(ctx.out, 'figures'), { recursive: true });
  const settings = preset[name].train;

  // ---- data --------------------------------------------------------------------------------
  const trainSplit = DeviceSplit.upload(data.train);
  const testSplit = DeviceSplit.upload(data.test);
  const perClass = settings.trainPerClass === undefined ? preset.trainPerClass : settings.trainPerClass;
  const trainIdx = perClass ? balancedSubset(data.train.labels, perClass, hashKey(seed, 1)) : undefined;
  const testIdx = testIndices(preset, data.test, seed);
  const epochEvalIdx = preset.epochEvalPerClass ? balancedSubset(data.test.labels, preset.epochEvalPerClass, hashKey(seed, 3)) : testIdx;
  const trainLoader = new DataLoader(trainSplit, { batchSize: settings.batchSize, shuffle: true, seed, indices: trainIdx, transform: transformOf(preset, true) });
  const evalTransform = transformOf(preset, false);
  const epochEvalLoader = new DataLoader(testSplit, { batchSize: preset.evalBatchSize, shuffle: false, indices: epochEvalIdx, transform: evalTransform });
  const testLoader = new DataLoader(testSplit, { batchSize: preset.evalBatchSize, shuffle: false, indices: testIdx, transform: evalTransform });

  try {
    // ---- training ----------------------------------------------------------------------------
    const model = buildModel(name, preset, hashKey(seed, name === 'densenet' ? 11 : 12));
    const summary = summarizeModel(name, model, preset, settings.batchSize);
    log(`${name}: ${summary.title}, ${summary.parameters.toLocaleString('en')} parameters; ${trainLoader.length} training images, ${settings.epochs} epochs of ${trainLoader.batchesPerEpoch} updates`);
    const trained = await train({
      name, model, settings, trainLoader, evalLoader: epochEvalLoader, seed,
      checkpointPath: join(folder, 'checkpoint.safetensors'), resume: ctx.resume,
      config: { preset, model: name, seed }, log, stopAfterEpoch: ctx.stopAfterEpoch, interactive: ctx.interactive,
    });
    trained.optimizer.dispose();
    if (trained.epochs < settings.epochs) {
      throw new Error(`${name}: stopped after epoch ${trained.epochs} of ${settings.epochs}; continue with --resume`);
    }

    // ---- evaluation --------------------------------------------------------------------------
    log(`${name}: evaluating on ${testLoader.length} test images, clean and with noise (std ${preset.noiseStd})`);
    const [low, high] = normalizedRange(preset);
    const clean = await predict(model, testLoader);
    const noisy = await predict(model, testLoader, { std: preset.noiseStd, seed: hashKey(seed, 4), low, high });
    const result = evaluation(clean.labels, clean, noisy);
    const latency = await measureLatency(model, testLoader);
    log(`${name}: accuracy ${(100 * result.accuracy).toFixed(2)}%, macro F1 ${result.f1.toFixed(4)}, noisy accuracy ${(100 * result.noisy.accuracy).toFixed(2)}%; ${latency.msPerImage.toFixed(3)} ms per image in batches of ${latency.batchSize}`);

    // ---- Grad-CAM ----------------------------------------------------------------------------
    const figures = name === 'densenet' ? await gradCamFigures(ctx, model as FeatureClassifier, testLoader, clean, result) : [];

    const stage: ModelStage = {
      model: summary, evaluation: result, latency, history: trained.history, trainSeconds: trained.history.reduce((s, h) => s + h.seconds, 0),
      epochs: trained.epochs, steps: trained.steps, trainImages: trainLoader.length, gradcam: figures, preset: preset.name, adapter: getEngine().adapter.name, seed,
    };
    writeFileAtomic(join(folder, 'predictions.json'), JSON.stringify({
      classes: clean.classes, indices: Array.from(clean.indices), labels: Array.from(clean.labels),
      clean: Array.from(clean.logits), noisy: Array.from(noisy.logits),
    }));
    writeFileAtomic(join(folder, 'summary.json'), JSON.stringify(stage, null, 1));
    model.dispose();
    return stage;
  } finally {
    trainSplit.dispose();
    testSplit.dispose();
  }
}

/** Grad-CAM figures for the most frequent confusions and one correct prediction per class. */
async function gradCamFigures(ctx: StageContext, model: FeatureClassifier, loader: DataLoader, clean: Predictions, result: EvaluationResult): Promise<GradCamFigure[]> {
  const { preset } = ctx;
  const predicted = argmaxRows(clean.logits, clean.classes);
  const picks: { index: number; kind: 'confusion' | 'correct'; trueClass: number; predictedClass: number }[] = [];
  for (const c of topConfusions(result.confusionMatrix, preset.gradcam.confusions)) {
    let found = 0;
    for (let i = 0; i < clean.labels.length && found < preset.gradcam.perConfusion; i++) {
      if (clean.labels[i] === c.trueClass && predicted[i] === c.predictedClass) {
        picks.push({ index: clean.indices[i], kind: 'confusion', trueClass: c.trueClass, predictedClass: c.predictedClass });
        found++;
      }
    }
  }
  for (let k = 0; k < clean.classes; k++) {
    let found = 0;
    for (let i = 0; i < clean.labels.length && found < preset.gradcam.correctPerClass; i++) {
      if (clean.labels[i] === k && predicted[i] === k) {
        picks.push({ index: clean.indices[i], kind: 'correct', trueClass: k, predictedClass: k });
        found++;
      }
    }
  }
  if (picks.length === 0) return [];

  model.eval();
  const batch = loader.batch(Int32Array.from(picks.map((p) => p.index)));
  const display = Math.max(112, preset.imageSize);
  const { features, logits } = noGrad(() => model.forwardWithFeatures(batch.images));
  logits.dispose();
  const cams = await gradCam({ features, head: denseNetHead(model), classes: picks.map((p) => p.predictedClass), size: [display, display] });
  features.dispose();
  batch.images.dispose();
  batch.labels.dispose();
  // The head's parameters received gradients from Grad-CAM's backward pass.
  model.zeroGrad();

  const test = ctx.data.test;
  const figures: GradCamFigure[] = [];
  picks.forEach((p, i) => {
    const plane = test.rows * test.cols;
    const pixels = Float64Array.from(test.images.subarray(p.index * plane, (p.index + 1) * plane), (v) => v / 255);
    const image = resizeBilinear(pixels, test.rows, test.cols, display, display);
    const overlay = overlayHeatmap(image, cams.maps[i]);
    // Input on the left, overlay on the right, a 4-pixel white gap between them.
    const width = 2 * display + 4;
    const rgba = new Uint8Array(width * display * 4).fill(255);
    for (let y = 0; y < display; y++) {
      for (let x = 0; x < display; x++) {
        const grey = Math.round(255 * Math.min(1, Math.max(0, image[y * display + x])));
        const left = (y * width + x) * 4;
        rgba.set([grey, grey, grey, 255], left);
        rgba.set(overlay.subarray((y * display + x) * 4, (y * display + x) * 4 + 4), left + (display + 4) * 4);
      }
    }
    const file = `figures/gradcam-${p.kind}-${i}-${p.index}.png`;
    writeFileAtomic(join(ctx.out, file), encodePng(width, display, rgba, 4));
    figures.push({ file, kind: p.kind, trueClass: p.trueClass, predictedClass: p.predictedClass, index: p.index });
  });
  return figures;
}

interface ModelFolder {
  stage: ModelStage;
  predictions: { classes: number; indices: number[]; labels: number[]; clean: number[]; noisy: number[] };
  run: string;
}

/** Reads a model's folder written by `runModelStage`; the error names the missing file. */
export function readModelFolder(run: string, name: ModelName): ModelFolder | null {
  const folder = join(run, name);
  const summaryPath = join(folder, 'summary.json');
  if (!existsSync(summaryPath)) return null;
  const predictionsPath = join(folder, 'predictions.json');
  if (!existsSync(predictionsPath)) throw new Error(`${predictionsPath} is missing, so ${folder} is incomplete; rerun that model with --resume`);
  try {
    return { stage: JSON.parse(readFileSync(summaryPath, 'utf8')), predictions: JSON.parse(readFileSync(predictionsPath, 'utf8')), run };
  } catch (error) {
    throw new Error(`cannot read ${folder}: ${(error as Error).message}`);
  }
}

function entry(e: EvaluationResult, parameters: number): ResultEntry {
  return {
    accuracy: e.accuracy, precision: e.precision, recall: e.recall, f1: e.f1, parameters,
    noisyAccuracy: e.noisy.accuracy, noisyDrop: e.accuracy - e.noisy.accuracy, confusionMatrix: e.confusionMatrix,
  };
}

export interface ReportContext {
  preset: Preset;
  out: string;
  seed: number;
  data: FashionMnist;
  folders: ModelFolder[];
  startedAt: number;
  log: (line: string) => void;
}

/** Builds the ensemble, results.json and report.html from the model folders. */
export async function runReportStage(ctx: ReportContext): Promise<Results> {
  const { preset, data, folders, log } = ctx;
  mkdirSync(join(ctx.out, 'figures'), { recursive: true });

  // ---- ensemble ------------------------------------------------------------------------------
  let ensemble: EvaluationResult | null = null;
  if (folders.length >= 2) {
    const [a, b] = folders;
    const same = a.predictions.indices.length === b.predictions.indices.length && a.predictions.indices.every((v, i) => v === b.predictions.indices[i]);
    if (!same) throw new Error(`${a.run} and ${b.run} were evaluated on different test images; run both with the same --preset and --seed`);
    const classes = a.predictions.classes;
    const labels = Int32Array.from(a.predictions.labels);
    const vote = (kind: 'clean' | 'noisy') => argmaxRows(softVote(folders.map((f) => softmaxRows(f.predictions[kind], classes))), classes);
    ensemble = evaluationFromMatrices(confusionMatrix(labels, vote('clean'), classes), confusionMatrix(labels, vote('noisy'), classes));
    log(`ensemble: accuracy ${(100 * ensemble.accuracy).toFixed(2)}%, macro F1 ${ensemble.f1.toFixed(4)}, noisy accuracy ${(100 * ensemble.noisy.accuracy).toFixed(2)}%`);
  }

  // ---- data overview -------------------------------------------------------------------------
  const similarity = await classSimilarity(data.train, 224);
  const grid = exampleGrid(data.train, 8);
  const gridPng = encodePng(grid.width * 2, grid.height * 2, enlarge(grid.pixels, grid.width, grid.height, 1, 2), 1);
  writeFileAtomic(join(ctx.out, 'figures', 'examples.png'), gridPng);

  // ---- results.json ----------------------------------------------------------------------------
  const engine = getEngine();
  const stages: Record<string, ModelStage> = {};
  for (const f of folders) stages[f.stage.model.name] = f.stage;
  const results: Results = {
    preset: preset.name,
    adapter: { name: engine.adapter.name, kind: engine.adapter.kind, isSoftware: engine.adapter.isSoftware },
    wallTimeSeconds: (performance.now() - ctx.startedAt) / 1000,
    seed: ctx.seed,
    createdAt: new Date().toISOString(),
    noiseStd: preset.noiseStd,
    testImages: folders[0]?.predictions.labels.length ?? 0,
    models: Object.fromEntries(folders.map((f) => [f.stage.model.name, entry(f.stage.evaluation, f.stage.model.parameters)])),
    ensemble: ensemble ? entry(ensemble, folders.reduce((n, f) => n + f.stage.model.parameters, 0)) : null,
    classSimilarity: { matrix: similarity.matrix, topPairs: similarity.pairs },
  };
  // Model stages from other machines name their own adapter; the report lists each.
  const adapters = [...new Set(folders.map((f) => f.stage.adapter))];
  if (adapters.some((a) => a !== engine.adapter.name)) results.adapter.name = `${engine.adapter.name} (models trained on: ${adapters.join(', ')})`;

  // ---- report ----------------------------------------------------------------------------------
  const gradcam = folders.flatMap((f) => f.stage.gradcam.map((g) => {
    const title = g.kind === 'confusion'
      ? `${CLASS_NAMES[g.trueClass]} predicted as ${CLASS_NAMES[g.predictedClass]} (test image ${g.index})`
      : `${CLASS_NAMES[g.trueClass]}, correct (test image ${g.index})`;
    const png = readFileSync(join(f.run, g.file));
    // A report built with --from keeps a copy of every figure in its own run folder.
    if (resolve(f.run) !== resolve(ctx.out)) writeFileAtomic(join(ctx.out, g.file), png);
    return { title, dataUrl: pngDataUrl(png) };
  }));
  const html = await buildReport({
    runName: ctx.out,
    preset,
    results,
    stages,
    ensemble,
    classNames: CLASS_NAMES,
    dataset: {
      trainCounts: classCounts(data.train.labels),
      testCounts: classCounts(data.test.labels),
      trainUsed: Object.fromEntries(folders.map((f) => [f.stage.model.name, f.stage.trainImages])),
      imageSize: preset.imageSize,
    },
    exampleGrid: pngDataUrl(gridPng),
    gradcam,
  });
  writeFileAtomic(join(ctx.out, 'results.json'), JSON.stringify(results, null, 1));
  writeFileAtomic(join(ctx.out, 'report.html'), html);
  return results;
}

/** Formats the summary table printed at the end of a run. */
export function summaryTable(results: Results): string {
  const rows: [string, ResultEntry][] = Object.entries(results.models);
  if (results.ensemble) rows.push(['ensemble', results.ensemble]);
  const header = ['model', 'accuracy', 'precision', 'recall', 'F1', 'noisy acc', 'drop', 'parameters'];
  const body = rows.map(([name, e]) => [
    name, (100 * e.accuracy).toFixed(2) + '%', e.precision.toFixed(4), e.recall.toFixed(4), e.f1.toFixed(4),
    (100 * e.noisyAccuracy).toFixed(2) + '%', (100 * e.noisyDrop).toFixed(2), e.parameters.toLocaleString('en'),
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((r) => r[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 0 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ');
  return [line(header), widths.map((w) => '-'.repeat(w)).join('  '), ...body.map(line)].join('\n');
}

