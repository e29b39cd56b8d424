/**
 * The shape of `results.json` and of each model's `summary.json` in a run folder. Fields are
 * documented in the README's "The study" section.
 */
import type { EpochRecord } from './checkpoint.ts';
import type { Latency } from './evaluate.ts';
import type { ClassScores, Matrix, Averages } from './metrics.ts';

export interface ShapeRow {
  stage: string;
  shape: number[];
}

export interface ModelSummary {
  name: string;
  title: string;
  parameters: number;
  /** Channels of the final feature map (DenseNet) or the token width (ViT). */
  featureSize: number;
  shapes: ShapeRow[];
  architecture: Record<string, unknown>;
}

export interface EvaluationResult {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  weighted: Averages;
  perClass: ClassScores[];
  confusionMatrix: Matrix;
  noisy: { accuracy: number; precision: number; recall: number; f1: number; confusionMatrix: Matrix };
}

export interface GradCamFigure {
  file: string;
  kind: 'confusion' | 'correct';
  trueClass: number;
  predictedClass: number;
  index: number;
}

/** The record a model's stage writes to `<run>/<model>/summary.json`. */
export interface ModelStage {
  model: ModelSummary;
  evaluation: EvaluationResult;
  latency: Latency;
  history: EpochRecord[];
  trainSeconds: number;
  epochs: number;
  steps: number;
  /** Training images per epoch. */
  trainImages: number;
  gradcam: GradCamFigure[];
  preset: string;
  adapter: string;
  seed: number;
}

export interface ResultEntry {
  accuracy: number;
  precision: number;
  recall: number;
  f1: number;
  parameters: number;
  noisyAccuracy: number;
  noisyDrop: number;
  confusionMatrix: Matrix;
}

export interface Results {
  preset: string;
  adapter: { name: string; kind: string; isSoftware: boolean };
  wallTimeSeconds: number;
  seed: number;
  createdAt: string;
  noiseStd: number;
  testImages: number;
  models: Record<string, ResultEntry>;
  ensemble: ResultEntry | null;
  classSimilarity: { matrix: number[][]; topPairs: { a: number; b: number; names: [string, string]; similarity: number }[] };
}
