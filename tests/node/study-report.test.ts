// The report writer on synthetic results: every section is present, the page needs no
// network, opens in headless Chromium without console errors, and its charts are drawn.
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { buildReport } from '../../src/experiments/report.ts';
import { encodePng, pngDataUrl } from '../../src/experiments/figures.ts';
import { classificationReport } from '../../src/experiments/metrics.ts';
import { getPreset } from '../../src/experiments/presets.ts';
import type { EvaluationResult, ModelStage, Results } from '../../src/experiments/results.ts';
import { viewReport } from './report-browser.ts';

const CLASSES = ['T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot'];
export const SECTIONS = ['dataset', 'similarity', 'preprocessing', 'models', 'results', 'confusion', 'per-class', 'errors', 'gradcam', 'noise'];

function fakeMatrix(correct: number, seed: number): number[][] {
  return CLASSES.map((_, i) => CLASSES.map((__, j) => (i === j ? correct : ((i * 7 + j * 3 + seed) % 5) * 2)));
}

function fakeEvaluation(seed: number): EvaluationResult {
  const cm = fakeMatrix(90, seed);
  const noisy = fakeMatrix(80, seed + 1);
  const r = classificationReport(cm);
  const n = classificationReport(noisy);
  return {
    accuracy: r.accuracy, precision: r.macro.precision, recall: r.macro.recall, f1: r.macro.f1, weighted: r.weighted, perClass: r.perClass, confusionMatrix: cm,
    noisy: { accuracy: n.accuracy, precision: n.macro.precision, recall: n.macro.recall, f1: n.macro.f1, confusionMatrix: noisy },
  };
}

function fakeStage(name: 'densenet' | 'vit', seed: number): ModelStage {
  return {
    model: { name, title: name, parameters: 1000 + seed, featureSize: 64, shapes: [{ stage: 'input', shape: [64, 1, 28, 28] }], architecture: { width: 64 } },
    evaluation: fakeEvaluation(seed),
    latency: { batchSize: 100, msPerBatch: 50, msPerImage: 0.5, msSingleImage: 5, adapter: 'test' },
    history: [1, 2].map((epoch) => ({ epoch, trainLoss: 1 / epoch, trainAccuracy: 0.5 + 0.1 * epoch, evalAccuracy: 0.6, evalLoss: 0.9, seconds: 1, imagesPerSecond: 100, lr: 1e-3 })),
    trainSeconds: 2, epochs: 2, steps: 10, trainImages: 400, gradcam: [], preset: 'tiny', adapter: 'test', seed: 0,
  };
}

const folder = mkdtempSync(join(tmpdir(), 'study-report-'));
afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('study report', () => {
  it('opens without errors and draws charts', async () => {
    const similarity = CLASSES.map((_, i) => CLASSES.map((__, j) => (i === j ? 10 : 5 + ((i + j) % 4))));
    const results: Results = {
      preset: 'tiny', adapter: { name: 'test adapter', kind: 'lavapipe', isSoftware: true }, wallTimeSeconds: 12, seed: 0,
      createdAt: '2026-01-01T00:00:00Z', noiseStd: 0.1, testImages: 1000, models: {}, ensemble: null,
      classSimilarity: { matrix: similarity, topPairs: [{ a: 0, b: 6, names: ['T-shirt/top', 'Shirt'], similarity: 9.5 }] },
    };
    const grey = new Uint8Array(28 * 28).map((_, i) => i % 256);
    const html = await buildReport({
      runName: 'synthetic', preset: getPreset('tiny'), results,
      stages: { densenet: fakeStage('densenet', 1), vit: fakeStage('vit', 2) }, ensemble: fakeEvaluation(3), classNames: CLASSES,
      dataset: { trainCounts: new Array(10).fill(6000), testCounts: new Array(10).fill(1000), trainUsed: { densenet: 400, vit: 400 }, imageSize: 28 },
      exampleGrid: pngDataUrl(encodePng(28, 28, grey, 1)),
      gradcam: [{ title: 'Shirt predicted as T-shirt/top', dataUrl: pngDataUrl(encodePng(28, 28, grey, 1)) }],
    });
    expect(html).not.toMatch(/<script|https?:\/\/(?!www\.w3\.org)/);
    const path = join(folder, 'report.html');
    writeFileSync(path, html);

    const view = await viewReport(path, ['dataset', 'confusion', 'noise']);
    expect(view.consoleErrors).toEqual([]);
    expect(view.requests).toEqual([]);
    expect(view.sections).toEqual(SECTIONS);
    // Class distribution, similarity, training curves, three confusion matrices, robustness.
    expect(view.svgCount).toBeGreaterThanOrEqual(7);
    expect(view.imageCount).toBe(2);
    for (const id of ['dataset', 'confusion', 'noise']) expect(view.colourBySection[id], `colour in section ${id}`).toBeGreaterThan(0.01);
  }, 120_000);
});
