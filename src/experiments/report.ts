/**
 * The study's HTML report: one self-contained file (inline SVG charts, PNG images as data
 * URLs, inline CSS, no scripts and no network) with the sections of the original dashboard.
 */
import { classDistributionSpec, matrixSpec, renderChart, robustnessSpec, trainingCurvesSpec } from './figures.ts';
import { topConfusions } from './metrics.ts';
import type { Preset } from './presets.ts';
import type { EvaluationResult, ModelStage, Results } from './results.ts';

export interface ReportInput {
  runName: string;
  preset: Preset;
  results: Results;
  stages: Record<string, ModelStage>;
  ensemble: EvaluationResult | null;
  classNames: readonly string[];
  dataset: { trainCounts: number[]; testCounts: number[]; trainUsed: Record<string, number>; imageSize: number };
  exampleGrid: string;
  gradcam: { title: string; dataUrl: string }[];
}

/** The study's published figures, for comparison in the results table. */
export const PUBLISHED: Record<string, { accuracy: number; precision: number; recall: number; f1: number; noisy: number }> = {
  densenet: { accuracy: 0.9411, precision: 0.9411, recall: 0.9411, f1: 0.941, noisy: 0.842 },
  vit: { accuracy: 0.9064, precision: 0.9069, recall: 0.9064, f1: 0.9054, noisy: 0.9003 },
  ensemble: { accuracy: 0.9454, precision: 0.9456, recall: 0.9454, f1: 0.9454, noisy: 0.887 },
};

const TITLES: Record<string, string> = { densenet: 'DenseNet121', vit: 'ViT', ensemble: 'Ensemble (soft voting)' };

function escape(text: string): string {
  return text.replace(/[&<>"]/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;' })[c]!);
}

const pct = (x: number) => (Number.isFinite(x) ? (100 * x).toFixed(2) + '%' : '-');
const num = (x: number, digits = 4) => (Number.isFinite(x) ? x.toFixed(digits) : '-');

function table(header: string[], rows: (string | number)[][], className = ''): string {
  const head = header.map((h) => `<th>${escape(h)}</th>`).join('');
  const body = rows.map((r) => `<tr>${r.map((c) => `<td>${typeof c === 'number' ? c : c}</td>`).join('')}</tr>`).join('\n');
  return `<table class="${className}"><thead><tr>${head}</tr></thead><tbody>${body}</tbody></table>`;
}

function section(id: string, title: string, body: string): string {
  return `<section id="${id}"><h2>${escape(title)}</h2>\n${body}\n</section>`;
}

/** Builds the report's HTML. */
export async function buildReport(input: ReportInput): Promise<string> {
  const { results, stages, classNames, preset } = input;
  const models = Object.keys(stages);
  const evaluations: [string, EvaluationResult][] = models.map((m) => [m, stages[m].evaluation]);
  if (input.ensemble) evaluations.push(['ensemble', input.ensemble]);
  const sections: string[] = [];

  // ---- dataset ---------------------------------------------------------------------------
  const trainTotal = input.dataset.trainCounts.reduce((a, b) => a + b, 0);
  const testTotal = input.dataset.testCounts.reduce((a, b) => a + b, 0);
  sections.push(section('dataset', 'Dataset overview', [
    `<p>Fashion-MNIST: ${trainTotal.toLocaleString('en')} training and ${testTotal.toLocaleString('en')} test images, 28x28 grayscale, ${classNames.length} balanced classes. ` +
      `Training images per model: ${Object.entries(input.dataset.trainUsed).map(([m, n]) => `${escape(TITLES[m] ?? m)} ${n.toLocaleString('en')}`).join(', ')}; evaluation on ${results.testImages.toLocaleString('en')} test images.</p>`,
    `<div class="figure">${await renderChart(classDistributionSpec(classNames, input.dataset.trainCounts, input.dataset.testCounts))}</div>`,
    `<h3>Example images</h3><p>The first training images of each class, one class per row (${classNames.join(', ')}).</p>`,
    `<img class="pixel" alt="example images per class" src="${input.exampleGrid}">`,
  ].join('\n')));

  // ---- class similarity ------------------------------------------------------------------
  const similarity = results.classSimilarity;
  sections.push(section('similarity', 'Class similarity', [
    '<p>10 x the cosine similarity between the mean training images of each pair of classes (resized to 224x224, scaled to [-1, 1]).</p>',
    `<div class="figure">${await renderChart(matrixSpec('Class-similarity matrix', classNames, similarity.matrix, { xTitle: '', yTitle: '', format: '.1f', scheme: 'blues' }))}</div>`,
    '<h3>Five most similar pairs</h3>',
    table(['rank', 'pair', 'similarity'], similarity.topPairs.map((p, i) => [i + 1, `${escape(p.names[0])} / ${escape(p.names[1])}`, num(p.similarity, 3)])),
  ].join('\n')));

  // ---- preprocessing ---------------------------------------------------------------------
  const norm = preset.normalization === 'imagenet' ? 'ImageNet mean (0.485, 0.456, 0.406) and std (0.229, 0.224, 0.225)' : 'mean 0.5, std 0.5 (pixels in [-1, 1])';
  sections.push(section('preprocessing', 'Preprocessing', table(['step', 'setting'], [
    ['scale', 'pixels / 255 to [0, 1]'],
    ['resize', `${28}x${28} to ${preset.imageSize}x${preset.imageSize}, bilinear, on the GPU`],
    ['channels', preset.channels === 3 ? 'grayscale replicated into 3 channels' : '1 (grayscale)'],
    ['normalisation', norm],
    ['augmentation', preset.augment.padding || preset.augment.flip ? `random crop (padding ${preset.augment.padding})${preset.augment.flip ? ', horizontal flip' : ''}` : 'none'],
    ['training subset', Object.entries(input.dataset.trainUsed).map(([m, n]) => `${escape(TITLES[m] ?? m)}: ${n === 60000 ? 'all 60,000 images' : `${n / 10} images per class (seeded, balanced)`}`).join('; ')],
    ['noise test', `Gaussian noise with std ${preset.noiseStd} added to the normalised test images (seeded), clamped to the clean range`],
  ])));

  // ---- models ----------------------------------------------------------------------------
  const modelParts: string[] = [];
  for (const m of models) {
    const s = stages[m];
    modelParts.push(`<h3>${escape(s.model.title)}</h3>`);
    modelParts.push(`<p>${s.model.parameters.toLocaleString('en')} parameters; feature size ${s.model.featureSize}; trained ${s.epochs} epochs (${s.steps} updates) in ${s.trainSeconds.toFixed(0)} s.</p>`);
    modelParts.push(table(['setting', 'value'], Object.entries(s.model.architecture).map(([k, v]) => [escape(k), escape(JSON.stringify(v))])));
    modelParts.push(table(['stage', 'tensor shape'], s.model.shapes.map((r) => [escape(r.stage), `[${r.shape.join(', ')}]`])));
    modelParts.push(table(['', 'ms per batch', 'batch size', 'ms per image (batched)', 'ms for one image'], [[
      'inference latency', num(s.latency.msPerBatch, 1), s.latency.batchSize, num(s.latency.msPerImage, 3), num(s.latency.msSingleImage, 1),
    ]]));
  }
  const curves = models.flatMap((m) => stages[m].history.flatMap((h) => [
    { model: m, epoch: h.epoch, metric: 'loss', kind: 'train', value: h.trainLoss },
    { model: m, epoch: h.epoch, metric: 'loss', kind: 'eval', value: h.evalLoss },
    { model: m, epoch: h.epoch, metric: 'accuracy', kind: 'train', value: h.trainAccuracy },
    { model: m, epoch: h.epoch, metric: 'accuracy', kind: 'eval', value: h.evalAccuracy },
  ]));
  if (curves.length > 0) modelParts.push(`<div class="figure">${await renderChart(trainingCurvesSpec(curves))}</div>`);
  sections.push(section('models', 'Models', modelParts.join('\n')));

  // ---- results ---------------------------------------------------------------------------
  const resultRows = evaluations.map(([m, e]) => {
    const published = PUBLISHED[m];
    return [
      escape(TITLES[m] ?? m), pct(e.accuracy), num(e.precision), num(e.recall), num(e.f1), pct(e.noisy.accuracy),
      published ? `${num(published.accuracy)} / ${num(published.f1)} / ${num(published.noisy, 3)}` : '-',
    ];
  });
  sections.push(section('results', 'Results', [
    `<p>On ${results.testImages.toLocaleString('en')} test images. Precision, recall and F1 are macro averages (as scikit-learn computes them).</p>`,
    table(['model', 'accuracy', 'precision', 'recall', 'F1', `noisy accuracy (std ${preset.noiseStd})`, 'published: accuracy / F1 / noisy (224x224)'], resultRows, 'results'),
  ].join('\n')));

  // ---- confusion matrices ------------------------------------------------------------------
  const matrices: string[] = [];
  for (const [m, e] of evaluations) {
    matrices.push(`<div class="figure">${await renderChart(matrixSpec(`${TITLES[m] ?? m}`, classNames, e.confusionMatrix, { xTitle: 'predicted', yTitle: 'true', format: 'd', scheme: 'blues' }))}</div>`);
  }
  sections.push(section('confusion', 'Confusion matrices', `<div class="row">${matrices.join('\n')}</div>`));

  // ---- per-class reports -------------------------------------------------------------------
  const reports: string[] = [];
  for (const [m, e] of evaluations) {
    const rows = e.perClass.map((s, c) => [escape(classNames[c]), num(s.precision), num(s.recall), num(s.f1), s.support]);
    rows.push(['<b>macro avg</b>', num(e.precision), num(e.recall), num(e.f1), results.testImages]);
    rows.push(['<b>weighted avg</b>', num(e.weighted.precision), num(e.weighted.recall), num(e.weighted.f1), results.testImages]);
    reports.push(`<div><h3>${escape(TITLES[m] ?? m)}</h3>${table(['class', 'precision', 'recall', 'F1', 'support'], rows)}</div>`);
  }
  sections.push(section('per-class', 'Per-class reports', `<div class="row">${reports.join('\n')}</div>`));

  // ---- most frequent wrong predictions -------------------------------------------------------
  const wrong: string[] = [];
  for (const [m, e] of evaluations) {
    const rows = topConfusions(e.confusionMatrix, 5).map((c) => [escape(classNames[c.trueClass]), escape(classNames[c.predictedClass]), c.count]);
    wrong.push(`<div><h3>${escape(TITLES[m] ?? m)}</h3>${table(['true class', 'predicted as', 'images'], rows)}</div>`);
  }
  sections.push(section('errors', 'Most frequent wrong predictions', `<div class="row">${wrong.join('\n')}</div>`));

  // ---- Grad-CAM ----------------------------------------------------------------------------
  const cams = input.gradcam.map((g) => `<figure><img class="pixel" alt="${escape(g.title)}" src="${g.dataUrl}"><figcaption>${escape(g.title)}</figcaption></figure>`);
  sections.push(section('gradcam', 'Grad-CAM', [
    '<p>DenseNet121: gradients of the predicted class score with respect to the final batchnorm output, channel weights by global average pooling, ReLU of the weighted sum, upsampled to the image. Left: input; right: heat map overlay (red is high).</p>',
    cams.length > 0 ? `<div class="cams">${cams.join('\n')}</div>` : '<p>No DenseNet in this run, so no Grad-CAM figures.</p>',
  ].join('\n')));

  // ---- noise robustness ----------------------------------------------------------------------
  const robustRows = evaluations.map(([m, e]) => [escape(TITLES[m] ?? m), pct(e.accuracy), pct(e.noisy.accuracy), pct(e.accuracy - e.noisy.accuracy)]);
  sections.push(section('noise', 'Noise robustness', [
    table(['model', 'clean accuracy', `noisy accuracy (std ${preset.noiseStd})`, 'drop'], robustRows),
    `<div class="figure">${await renderChart(robustnessSpec(evaluations.map(([m, e]) => ({ model: TITLES[m] ?? m, clean: e.accuracy, noisy: e.noisy.accuracy }))))}</div>`,
  ].join('\n')));

  const adapter = results.adapter;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Fashion-MNIST study: ${escape(input.runName)}</title>
<style>
body { font-family: system-ui, sans-serif; margin: 2rem auto; max-width: 1200px; color: #222; padding: 0 1rem; }
h1 { font-size: 1.6rem; } h2 { border-bottom: 1px solid #ccc; padding-bottom: 0.2rem; margin-top: 2.2rem; }
table { border-collapse: collapse; margin: 0.6rem 0; font-size: 0.9rem; }
th, td { border: 1px solid #ddd; padding: 0.25rem 0.6rem; text-align: right; }
th { background: #f3f3f3; } td:first-child, th:first-child { text-align: left; }
.row { display: flex; flex-wrap: wrap; gap: 1.5rem; align-items: flex-start; }
.figure svg { max-width: 100%; height: auto; }
img.pixel { image-rendering: pixelated; max-width: 100%; }
.cams { display: flex; flex-wrap: wrap; gap: 1rem; } figure { margin: 0; } figcaption { font-size: 0.8rem; max-width: 240px; }
.meta { color: #555; font-size: 0.9rem; }
</style>
</head>
<body>
<h1>Fashion-MNIST: DenseNet121 vs ViT vs soft-voting ensemble</h1>
<p class="meta">Run <b>${escape(input.runName)}</b>, preset <b>${escape(results.preset)}</b> (${escape(preset.description)})<br>
Adapter: <b>${escape(adapter.name)}</b> (${escape(adapter.kind)}${adapter.isSoftware ? ', software' : ''}); wall time ${results.wallTimeSeconds.toFixed(0)} s; seed ${results.seed}; ${escape(results.createdAt)}</p>
${sections.join('\n')}
</body>
</html>
`;
}
