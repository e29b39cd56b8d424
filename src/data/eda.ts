/**
 * The numbers of the study's data overview: class counts, example images per class,
 * class-mean images, and the class-similarity matrix with its most similar pairs. The matrix
 * is 10 x the cosine similarity between class-mean training images resized to 224x224 and
 * scaled to [-1, 1].
 */
import { tensor } from '../autograd/tensor.ts';
import { CLASS_NAMES, type FashionMnist, type HostSplit } from './fashion-mnist.ts';
import { CLASS_COUNT } from './idx.ts';
import { resizeBilinear } from './resize.ts';

/** Returns the number of samples of each class. */
export function classCounts(labels: Uint8Array): number[] {
  const counts = new Array<number>(CLASS_COUNT).fill(0);
  for (const label of labels) counts[label]++;
  return counts;
}

/** Returns the first `perClass` dataset indices of each class, one row per class. */
export function exampleIndices(labels: Uint8Array, perClass: number): number[][] {
  const rows: number[][] = Array.from({ length: CLASS_COUNT }, () => []);
  for (let i = 0; i < labels.length; i++) {
    const row = rows[labels[i]];
    if (row.length < perClass) row.push(i);
  }
  return rows;
}

/**
 * Lays out `perClass` examples of each class as one grayscale image: class c in row c,
 * examples left to right, `gap` black pixels between tiles. Returns its pixels row-major.
 */
export function exampleGrid(split: HostSplit, perClass: number, gap = 2): { width: number; height: number; pixels: Uint8Array } {
  const { rows: h, cols: w } = split;
  const width = perClass * w + (perClass - 1) * gap;
  const height = CLASS_COUNT * h + (CLASS_COUNT - 1) * gap;
  const pixels = new Uint8Array(width * height);
  exampleIndices(split.labels, perClass).forEach((indices, c) => {
    indices.forEach((index, k) => {
      for (let y = 0; y < h; y++) {
        const src = index * h * w + y * w;
        pixels.set(split.images.subarray(src, src + w), (c * (h + gap) + y) * width + k * (w + gap));
      }
    });
  });
  return { width, height, pixels };
}

/** Returns the mean image of each class, [10, rows * cols] in [0, 1], accumulated in float64. */
export function classMeanImages(split: HostSplit): Float64Array {
  const pixelsPerImage = split.rows * split.cols;
  const sums = new Float64Array(CLASS_COUNT * pixelsPerImage);
  const counts = classCounts(split.labels);
  for (let i = 0; i < split.count; i++) {
    const base = split.labels[i] * pixelsPerImage;
    const src = i * pixelsPerImage;
    for (let p = 0; p < pixelsPerImage; p++) sums[base + p] += split.images[src + p];
  }
  for (let c = 0; c < CLASS_COUNT; c++) {
    const scale = counts[c] > 0 ? 1 / (255 * counts[c]) : 0;
    for (let p = 0; p < pixelsPerImage; p++) sums[c * pixelsPerImage + p] *= scale;
  }
  return sums;
}

/** Returns 10 x the cosine similarity between rows of `vectors` [n, d], in float64. */
export function scaledCosineMatrix(vectors: ArrayLike<number>, n: number): number[][] {
  const d = vectors.length / n;
  const norms = Array.from({ length: n }, (_, i) => {
    let s = 0;
    for (let k = 0; k < d; k++) s += vectors[i * d + k] ** 2;
    return Math.sqrt(s);
  });
  const matrix = Array.from({ length: n }, () => new Array<number>(n).fill(0));
  for (let i = 0; i < n; i++) {
    for (let j = i; j < n; j++) {
      let dot = 0;
      for (let k = 0; k < d; k++) dot += vectors[i * d + k] * vectors[j * d + k];
      matrix[i][j] = matrix[j][i] = (10 * dot) / (norms[i] * norms[j]);
    }
  }
  return matrix;
}

export interface ClassPair {
  a: number;
  b: number;
  names: [string, string];
  similarity: number;
}

/** Returns the `count` most similar pairs of distinct classes, most similar first. */
export function topPairs(matrix: number[][], count = 5): ClassPair[] {
  const pairs: ClassPair[] = [];
  for (let a = 0; a < matrix.length; a++) {
    for (let b = a + 1; b < matrix.length; b++) {
      pairs.push({ a, b, names: [CLASS_NAMES[a], CLASS_NAMES[b]], similarity: matrix[a][b] });
    }
  }
  return pairs.sort((p, q) => q.similarity - p.similarity).slice(0, count);
}

export interface ClassSimilarity {
  /** 10 x 10, symmetric, 10 on the diagonal (up to rounding). */
  matrix: number[][];
  /** The five most similar pairs. */
  pairs: ClassPair[];
}

/**
 * Computes the class-similarity matrix of a split: class means at the source size, a
 * bilinear resize on the GPU to `size` (224 by default), scaling to [-1, 1], then 10 x the
 * cosine similarity. Because the resize is linear, averaging first and resizing the ten means
 * equals resizing every image and then averaging, and it resizes 10 images instead of 60,000.
 */
export async function classSimilarity(split: HostSplit, size = 224): Promise<ClassSimilarity> {
  const means = classMeanImages(split);
  const planes = tensor(means, [CLASS_COUNT, split.rows, split.cols], { name: 'class means' });
  const resized = resizeBilinear(planes, size);
  planes.dispose();
  const values = await resized.data();
  resized.dispose();

  const scaled = Float64Array.from(values, (v) => 2 * v - 1);
  const matrix = scaledCosineMatrix(scaled, CLASS_COUNT);
  return { matrix, pairs: topPairs(matrix, 5) };
}

/** Every number of the data overview, ready for a report. */
export interface DataOverview {
  classNames: string[];
  /** Samples per class in each split. */
  counts: { train: number[]; test: number[] };
  /** Training-set indices of the first examples of each class, one row per class. */
  examples: number[][];
  similarity: ClassSimilarity;
}

/** Computes the data overview: class counts, example indices and the class-similarity matrix. */
export async function dataOverview(data: FashionMnist, options: { examplesPerClass?: number; size?: number } = {}): Promise<DataOverview> {
  return {
    classNames: [...CLASS_NAMES],
    counts: { train: classCounts(data.train.labels), test: classCounts(data.test.labels) },
    examples: exampleIndices(data.train.labels, options.examplesPerClass ?? 10),
    similarity: await classSimilarity(data.train, options.size ?? 224),
  };
}
