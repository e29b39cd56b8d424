/**
 * Classification metrics on the host, computed as scikit-learn computes them: a confusion
 * matrix with true classes in rows and predicted classes in columns; per-class precision,
 * recall and F1; their macro average (unweighted mean over classes) and weighted average
 * (weighted by support, the number of true samples of each class). A ratio whose denominator
 * is zero is 0, as with sklearn's default `zero_division` (which also warns).
 *
 * Soft voting averages the models' softmax probabilities, never their logits: for logits
 * [0, 0, 3] and [3, 4, 0] the mean probabilities pick class 2 while the mean logits pick 1.
 */

export type Matrix = number[][];

export interface ClassScores {
  precision: number;
  recall: number;
  f1: number;
  support: number;
}

export interface Averages {
  precision: number;
  recall: number;
  f1: number;
}

export interface ClassificationReport {
  accuracy: number;
  perClass: ClassScores[];
  macro: Averages;
  weighted: Averages;
  /** Samples counted. */
  total: number;
}

/** Counts `cm[true][predicted]` over paired labels and predictions. */
export function confusionMatrix(labels: ArrayLike<number>, predictions: ArrayLike<number>, numClasses: number): Matrix {
  if (labels.length !== predictions.length) {
    throw new Error(`confusionMatrix: ${labels.length} labels but ${predictions.length} predictions`);
  }
  const cm: Matrix = Array.from({ length: numClasses }, () => new Array<number>(numClasses).fill(0));
  for (let i = 0; i < labels.length; i++) {
    const t = labels[i];
    const p = predictions[i];
    if (!(t >= 0 && t < numClasses && p >= 0 && p < numClasses) || !Number.isInteger(t) || !Number.isInteger(p)) {
      throw new Error(`confusionMatrix: sample ${i} has label ${t} and prediction ${p}; both must be integers in [0, ${numClasses})`);
    }
    cm[t][p]++;
  }
  return cm;
}

function ratio(numerator: number, denominator: number): number {
  return denominator === 0 ? 0 : numerator / denominator;
}

/** Accuracy, per-class scores and their macro and weighted averages from a confusion matrix. */
export function classificationReport(cm: Matrix): ClassificationReport {
  const n = cm.length;
  for (const row of cm) if (row.length !== n) throw new Error(`classificationReport: confusion matrix must be square; got a row of ${row.length} in a ${n}-row matrix`);

  let total = 0;
  let correct = 0;
  const perClass: ClassScores[] = [];
  for (let c = 0; c < n; c++) {
    const tp = cm[c][c];
    let support = 0;
    let predicted = 0;
    for (let k = 0; k < n; k++) {
      support += cm[c][k];
      predicted += cm[k][c];
    }
    const precision = ratio(tp, predicted);
    const recall = ratio(tp, support);
    // sklearn computes F1 as 2 tp / (2 tp + fp + fn), which equals the harmonic mean and is 0 when both are 0.
    const f1 = ratio(2 * tp, predicted + support);
    perClass.push({ precision, recall, f1, support });
    total += support;
    correct += tp;
  }

  const average = (weight: (s: ClassScores) => number): Averages => {
    let sum = 0;
    const acc = { precision: 0, recall: 0, f1: 0 };
    for (const s of perClass) {
      const w = weight(s);
      sum += w;
      acc.precision += w * s.precision;
      acc.recall += w * s.recall;
      acc.f1 += w * s.f1;
    }
    return { precision: ratio(acc.precision, sum), recall: ratio(acc.recall, sum), f1: ratio(acc.f1, sum) };
  };

  return {
    accuracy: ratio(correct, total),
    perClass,
    macro: average(() => 1),
    weighted: average((s) => s.support),
    total,
  };
}

/** Row-wise softmax in float64 of `logits` laid out as [rows, classes]. */
export function softmaxRows(logits: ArrayLike<number>, classes: number): Float64Array {
  if (logits.length % classes !== 0) throw new Error(`softmaxRows: ${logits.length} values are not rows of ${classes} classes`);
  const out = new Float64Array(logits.length);
  for (let r = 0; r < logits.length; r += classes) {
    let max = -Infinity;
    for (let c = 0; c < classes; c++) max = Math.max(max, logits[r + c]);
    let sum = 0;
    for (let c = 0; c < classes; c++) {
      out[r + c] = Math.exp(logits[r + c] - max);
      sum += out[r + c];
    }
    for (let c = 0; c < classes; c++) out[r + c] /= sum;
  }
  return out;
}

/** Soft voting: the element-wise mean of the models' probability tables (each [rows, classes]). */
export function softVote(probabilities: ArrayLike<number>[]): Float64Array {
  if (probabilities.length === 0) throw new Error('softVote: needs at least one model');
  const n = probabilities[0].length;
  for (const [i, p] of probabilities.entries()) {
    if (p.length !== n) throw new Error(`softVote: model ${i} has ${p.length} probabilities, model 0 has ${n}`);
  }
  const out = new Float64Array(n);
  for (const p of probabilities) for (let i = 0; i < n; i++) out[i] += p[i];
  for (let i = 0; i < n; i++) out[i] /= probabilities.length;
  return out;
}

/** Returns the index of the largest value in each row of a [rows, classes] table (first on ties). */
export function argmaxRows(values: ArrayLike<number>, classes: number): Int32Array {
  const rows = values.length / classes;
  const out = new Int32Array(rows);
  for (let r = 0; r < rows; r++) {
    let best = 0;
    for (let c = 1; c < classes; c++) if (values[r * classes + c] > values[r * classes + best]) best = c;
    out[r] = best;
  }
  return out;
}

export interface Confusion {
  trueClass: number;
  predictedClass: number;
  count: number;
}

/** Returns the `k` largest off-diagonal cells, largest first (ties by true class, then predicted class). */
export function topConfusions(cm: Matrix, k: number): Confusion[] {
  const cells: Confusion[] = [];
  cm.forEach((row, t) => row.forEach((count, p) => {
    if (t !== p && count > 0) cells.push({ trueClass: t, predictedClass: p, count });
  }));
  cells.sort((a, b) => b.count - a.count || a.trueClass - b.trueClass || a.predictedClass - b.predictedClass);
  return cells.slice(0, k);
}
