/**
 * Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017): 60,000 training and 10,000 test images of
 * 28x28 grayscale clothing, ten classes. This module contains the file table and assembles the
 * two splits from the four IDX files' bytes, wherever those bytes came from (a directory in
 * Node: sources-node.ts; a URL in the browser: `fetchFashionMnist`).
 */
import { checkCounts, decompressIfGzip, parseIdxImages, parseIdxLabels, IMAGE_SIZE } from './idx.ts';

/** Class names in label order. */
export const CLASS_NAMES = [
  'T-shirt/top', 'Trouser', 'Pullover', 'Dress', 'Coat', 'Sandal', 'Shirt', 'Sneaker', 'Bag', 'Ankle boot',
] as const;

export type SplitName = 'train' | 'test';

/** One of the four files: its stem (the name without `.gz`) and its decompressed content. */
export interface FashionMnistFile {
  split: SplitName;
  kind: 'images' | 'labels';
  /** File name without the `.gz` suffix, as on the official mirror. */
  stem: string;
  /** Bytes of the decompressed file. */
  byteLength: number;
  /**
   * SHA-256 of the decompressed file, hex. Checksums cover the decompressed content because
   * gzip files from different packagers differ (Debian's dataset-fashion-mnist files hash
   * differently from the mirror's while decompressing to the same bytes).
   */
  sha256: string;
}

// Hashes computed from Debian's dataset-fashion-mnist (/usr/share/datasets/fashion-mnist).
export const FASHION_MNIST_FILES: readonly FashionMnistFile[] = [
  { split: 'train', kind: 'images', stem: 'train-images-idx3-ubyte', byteLength: 47_040_016, sha256: 'c59f468a2f672dc815687fe0f83887768d799fd8a3f3276145d20f83aa44d888' },
  { split: 'train', kind: 'labels', stem: 'train-labels-idx1-ubyte', byteLength: 60_008, sha256: 'bad3541b69d912435c50bb6ba87bec294ff4f6a2e1246121d8633921760443d9' },
  { split: 'test', kind: 'images', stem: 't10k-images-idx3-ubyte', byteLength: 7_840_016, sha256: '5b4141f0afbad91edebe8549f8fcffe087ea10ca49f1dbef5c9a5cd8815ce37b' },
  { split: 'test', kind: 'labels', stem: 't10k-labels-idx1-ubyte', byteLength: 10_008, sha256: '0402a96d92fd2663957122ceb108a494c5af83dab82d92729df917d7dec38c34' },
];

/** Official mirror of the gzipped files (Zalando Research's S3 bucket). */
export const FASHION_MNIST_MIRROR = 'http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/';

/** One split on the host: labels and row-major 28x28 pixels. */
export interface HostSplit {
  name: SplitName;
  count: number;
  rows: number;
  cols: number;
  /** [count, rows, cols] pixel values 0..255. */
  images: Uint8Array;
  /** [count] class indices 0..9. */
  labels: Uint8Array;
}

export interface FashionMnist {
  train: HostSplit;
  test: HostSplit;
  /** Source of the files, for logs: a directory or a URL. */
  source: string;
}

/** Decompressed bytes of a split's two files, with the names used in error messages. */
export interface SplitBytes {
  images: Uint8Array;
  imagesFile: string;
  labels: Uint8Array;
  labelsFile: string;
}

/** Parses and cross-checks one split from the decompressed bytes of its two files. */
export function parseSplit(name: SplitName, bytes: SplitBytes): HostSplit {
  const images = parseIdxImages(bytes.images, bytes.imagesFile);
  const labels = parseIdxLabels(bytes.labels, bytes.labelsFile);
  checkCounts(images, bytes.imagesFile, labels, bytes.labelsFile);
  return { name, count: images.count, rows: IMAGE_SIZE, cols: IMAGE_SIZE, images: images.pixels, labels };
}

/** Returns the file table entry of a split's images or labels. */
export function fileOf(split: SplitName, kind: 'images' | 'labels'): FashionMnistFile {
  return FASHION_MNIST_FILES.find((f) => f.split === split && f.kind === kind)!;
}

/**
 * Fetches the four files from `baseUrl` (a folder URL holding either the `.gz` files or the
 * decompressed ones) and parses them: the browser's way to load the data set.
 */
export async function fetchFashionMnist(baseUrl: string, options: { gzip?: boolean; fetch?: typeof fetch } = {}): Promise<FashionMnist> {
  const get = options.fetch ?? fetch;
  const base = baseUrl.endsWith('/') ? baseUrl : baseUrl + '/';
  const suffix = options.gzip === false ? '' : '.gz';

  const load = async (file: FashionMnistFile): Promise<{ bytes: Uint8Array; url: string }> => {
    const url = new URL(file.stem + suffix, base).href;
    const response = await get(url);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}; check the data URL`);
    const raw = new Uint8Array(await response.arrayBuffer());
    return { bytes: await decompressIfGzip(raw, url), url };
  };

  const split = async (name: SplitName): Promise<HostSplit> => {
    const [images, labels] = await Promise.all([load(fileOf(name, 'images')), load(fileOf(name, 'labels'))]);
    return parseSplit(name, { images: images.bytes, imagesFile: images.url, labels: labels.bytes, labelsFile: labels.url });
  };

  const [train, test] = await Promise.all([split('train'), split('test')]);
  return { train, test, source: base };
}
