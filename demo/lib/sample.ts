/**
 * The bundled sample: 100 Fashion-MNIST test images with labels, stored as gzipped IDX files
 * under `demo/public/sample/` (written by `demo/scripts/make-sample.mjs`). Browser-safe, so
 * the Node test decodes the same bytes the page does.
 */
import { checkCounts, decompressIfGzip, parseIdxImages, parseIdxLabels, IMAGE_SIZE } from '../../src/data/idx.ts';

export { CLASS_NAMES } from '../../src/data/fashion-mnist.ts';
export { IMAGE_SIZE };
export const IMAGE_PIXELS = IMAGE_SIZE * IMAGE_SIZE;

export const SAMPLE_FILES = { images: 'images-idx3-ubyte.gz', labels: 'labels-idx1-ubyte.gz', manifest: 'sample.json' } as const;

export interface Sample {
  /** [count, 28, 28] pixel values 0..255, a light object on a black background. */
  images: Uint8Array;
  /** [count] class indices 0..9. */
  labels: Uint8Array;
  /** Index of each image in the Fashion-MNIST test set. */
  testIndices: number[];
  count: number;
}

/** Decodes the sample from the bytes of its three files (gzipped or, when a server decoded them, plain). */
export async function decodeSample(imagesFile: Uint8Array, labelsFile: Uint8Array, manifest: { testIndices: number[] }): Promise<Sample> {
  const images = parseIdxImages(await decompressIfGzip(imagesFile, SAMPLE_FILES.images), SAMPLE_FILES.images);
  const labels = parseIdxLabels(await decompressIfGzip(labelsFile, SAMPLE_FILES.labels), SAMPLE_FILES.labels);
  checkCounts(images, SAMPLE_FILES.images, labels, SAMPLE_FILES.labels);
  if (manifest.testIndices.length !== images.count) {
    throw new Error(`${SAMPLE_FILES.manifest} lists ${manifest.testIndices.length} test indices for ${images.count} images; regenerate the sample with demo/scripts/make-sample.mjs`);
  }
  return { images: images.pixels, labels, testIndices: manifest.testIndices, count: images.count };
}

/** Fetches and decodes the sample from the folder URL `baseUrl` (ending in a slash). */
export async function fetchSample(baseUrl: string | URL): Promise<Sample> {
  const get = async (name: string) => {
    const url = new URL(name, baseUrl);
    const response = await fetch(url);
    if (!response.ok) throw new Error(`failed to fetch the sample file ${url}: HTTP ${response.status}`);
    return response;
  };
  const [images, labels, manifest] = await Promise.all([get(SAMPLE_FILES.images), get(SAMPLE_FILES.labels), get(SAMPLE_FILES.manifest)]);
  return decodeSample(new Uint8Array(await images.arrayBuffer()), new Uint8Array(await labels.arrayBuffer()), await manifest.json());
}

/** Returns image `index` of the sample, [28, 28] bytes. */
export function sampleImage(sample: Sample, index: number): Uint8Array {
  if (!(Number.isInteger(index) && index >= 0 && index < sample.count)) {
    throw new Error(`sample image ${index} is out of range 0..${sample.count - 1}`);
  }
  return sample.images.subarray(index * IMAGE_PIXELS, (index + 1) * IMAGE_PIXELS);
}
