/**
 * Fashion-MNIST data, browser-safe: the IDX reader, the file table, GPU transforms, the
 * loader, Gaussian noise and the data-overview numbers. Node sources (directories, the
 * download) are in node.ts.
 */
export {
  IdxFormatError, parseIdxImages, parseIdxLabels, checkCounts, isGzip, gunzip, decompressIfGzip,
  LABELS_MAGIC, IMAGES_MAGIC, IMAGE_SIZE, CLASS_COUNT, type IdxImages,
} from './idx.ts';
export {
  CLASS_NAMES, FASHION_MNIST_FILES, FASHION_MNIST_MIRROR, fetchFashionMnist, parseSplit, fileOf,
  type FashionMnist, type FashionMnistFile, type HostSplit, type SplitName, type SplitBytes,
} from './fashion-mnist.ts';
export { resizeBilinear } from './resize.ts';
export {
  DeviceSplit, transformImages, sampleParams, IMAGENET_NORMALIZATION, SYMMETRIC_NORMALIZATION,
  type Batch, type TransformOptions, type AugmentOptions,
} from './transforms.ts';
export { DataLoader, balancedSubset, shuffleInPlace, type LoaderOptions } from './loader.ts';
export { addGaussianNoise, type NoiseOptions } from './noise.ts';
export {
  classCounts, exampleIndices, exampleGrid, classMeanImages, classSimilarity, scaledCosineMatrix, topPairs, dataOverview,
  type ClassPair, type ClassSimilarity, type DataOverview,
} from './eda.ts';
