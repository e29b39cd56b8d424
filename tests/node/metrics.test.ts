// Metrics against values computed by hand, and soft voting on the case where averaging logits
// and averaging probabilities disagree.
import { describe, expect, it } from 'vitest';
import { argmaxRows, classificationReport, confusionMatrix, softVote, softmaxRows, topConfusions } from '../../src/experiments/metrics.ts';

describe('metrics', () => {
  // Labels 0,0,0,1,1,2 predicted 0,0,1,1,2,2:
  //   cm = [[2,1,0],[0,1,1],[0,0,1]]
  //   precision: 2/2, 1/2, 1/2   recall: 2/3, 1/2, 1/1   support: 3, 2, 1
  //   f1: 2*1*(2/3)/(5/3) = 0.8, 0.5, 2*0.5*1/1.5 = 2/3
  const labels = [0, 0, 0, 1, 1, 2];
  const predictions = [0, 0, 1, 1, 2, 2];
  const cm = confusionMatrix(labels, predictions, 3);
  const report = classificationReport(cm);

  it('confusion matrix rows are true classes', () => {
    expect(cm).toEqual([[2, 1, 0], [0, 1, 1], [0, 0, 1]]);
  });

  it('accuracy', () => {
    expect(report.accuracy).toBeCloseTo(4 / 6, 12);
    expect(report.total).toBe(6);
  });

  it('per-class scores', () => {
    const expected = [
      { precision: 1, recall: 2 / 3, f1: 0.8, support: 3 },
      { precision: 0.5, recall: 0.5, f1: 0.5, support: 2 },
      { precision: 0.5, recall: 1, f1: 2 / 3, support: 1 },
    ];
    report.perClass.forEach((s, c) => {
      expect(s.precision, `precision of class ${c}`).toBeCloseTo(expected[c].precision, 12);
      expect(s.recall, `recall of class ${c}`).toBeCloseTo(expected[c].recall, 12);
      expect(s.f1, `f1 of class ${c}`).toBeCloseTo(expected[c].f1, 12);
      expect(s.support, `support of class ${c}`).toBe(expected[c].support);
    });
  });

  it('macro averages', () => {
    expect(report.macro.precision).toBeCloseTo(2 / 3, 12);
    expect(report.macro.recall).toBeCloseTo((2 / 3 + 0.5 + 1) / 3, 12);
    expect(report.macro.f1).toBeCloseTo((0.8 + 0.5 + 2 / 3) / 3, 12);
  });

  it('weighted averages', () => {
    expect(report.weighted.precision).toBeCloseTo((3 * 1 + 2 * 0.5 + 1 * 0.5) / 6, 12);
    expect(report.weighted.recall).toBeCloseTo(4 / 6, 12);
    expect(report.weighted.f1).toBeCloseTo((3 * 0.8 + 2 * 0.5 + 1 * (2 / 3)) / 6, 12);
  });

  it('class never predicted scores zero', () => {
    // Class 2 is never predicted and class 1 never occurs: sklearn's zero_division gives 0.
    const r = classificationReport(confusionMatrix([0, 2, 2], [0, 0, 1], 3));
    expect(r.perClass[2]).toEqual({ precision: 0, recall: 0, f1: 0, support: 2 });
    expect(r.perClass[1]).toEqual({ precision: 0, recall: 0, f1: 0, support: 0 });
    expect(r.macro.precision).toBeCloseTo(0.5 / 3, 12);
    expect(Number.isNaN(r.weighted.f1)).toBe(false);
  });

  it('confusion matrix rejects out-of-range labels', () => {
    expect(() => confusionMatrix([0, 3], [0, 0], 3)).toThrow(/sample 1 has label 3/);
    expect(() => confusionMatrix([0], [0, 1], 3)).toThrow(/1 labels but 2 predictions/);
  });

  it('top confusions largest first', () => {
    const m = [[5, 3, 0], [4, 5, 3], [0, 1, 5]];
    expect(topConfusions(m, 2)).toEqual([
      { trueClass: 1, predictedClass: 0, count: 4 },
      { trueClass: 0, predictedClass: 1, count: 3 },
    ]);
  });
});

describe('soft voting', () => {
  it('averages probabilities not logits', () => {
    const a = softmaxRows([0, 0, 3], 3);
    const b = softmaxRows([3, 4, 0], 3);
    const vote = softVote([a, b]);
    expect(Array.from(argmaxRows(vote, 3))).toEqual([2]);
    // Averaging logits would give [1.5, 2, 1.5] and class 1.
    expect(Array.from(argmaxRows([1.5, 2, 1.5], 3))).toEqual([1]);
    const sum = vote.reduce((s, x) => s + x, 0);
    expect(sum).toBeCloseTo(1, 12);
  });

  it('softmax is stable for large logits', () => {
    const p = softmaxRows([1000, 1000, -1000], 3);
    expect(Array.from(p)).toEqual([0.5, 0.5, 0]);
  });

  it('rejects tables of different sizes', () => {
    expect(() => softVote([new Float64Array(3), new Float64Array(6)])).toThrow(/model 1 has 6/);
  });
});
