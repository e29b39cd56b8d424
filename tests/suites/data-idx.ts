// IDX reader: well-formed files (raw and gzipped) and every malformed case it must reject
// with the file's name and the fault.
import { decompressIfGzip, parseIdxImages, parseIdxLabels, parseSplit, IMAGES_MAGIC, LABELS_MAGIC } from '../../src/data/index.ts';
import { assert, assertEqual, assertThrows } from '../harness/assert.ts';
import { suite, type Case } from '../harness/suite.ts';

/** Builds an IDX file: big-endian magic, sizes, then the values. */
export function idxBytes(magic: number, dims: number[], values: ArrayLike<number>): Uint8Array {
  const header = 4 + 4 * dims.length;
  const bytes = new Uint8Array(header + values.length);
  const view = new DataView(bytes.buffer);
  view.setUint32(0, magic, false);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d, false));
  bytes.set(values, header);
  return bytes;
}

/** `count` 28x28 images whose pixel p of image i is (i * 31 + p) mod 256. */
export function syntheticImages(count: number, rows = 28, cols = 28): Uint8Array {
  const values = new Uint8Array(count * rows * cols);
  for (let i = 0; i < values.length; i++) values[i] = (Math.floor(i / (rows * cols)) * 31 + i) % 256;
  return idxBytes(IMAGES_MAGIC, [count, rows, cols], values);
}

export function syntheticLabels(labels: number[]): Uint8Array {
  return idxBytes(LABELS_MAGIC, [labels.length], labels);
}

async function gzip(bytes: Uint8Array): Promise<Uint8Array> {
  const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new CompressionStream('gzip'));
  return new Uint8Array(await new Response(stream).arrayBuffer());
}

const cases: Case[] = [
  {
    name: 'images parse raw',
    run: () => {
      const parsed = parseIdxImages(syntheticImages(3), 'images');
      assertEqual([parsed.count, parsed.rows, parsed.cols, parsed.pixels.length], [3, 28, 28, 3 * 784], 'header');
      assertEqual(parsed.pixels[784 + 5], (31 + 784 + 5) % 256, 'pixel 5 of image 1');
    },
  },
  {
    name: 'gzipped equals raw',
    run: async () => {
      const raw = syntheticImages(4);
      const unpacked = await decompressIfGzip(await gzip(raw), 'images.gz');
      assertEqual(Array.from(unpacked), Array.from(raw), 'decompressed bytes');
      assert((await decompressIfGzip(raw, 'images')) === raw, 'raw bytes pass through unchanged');
    },
  },
  {
    name: 'labels parse',
    run: () => assertEqual(Array.from(parseIdxLabels(syntheticLabels([9, 0, 3]), 'labels')), [9, 0, 3], 'labels'),
  },
  {
    name: 'truncated header rejected',
    run: async () => {
      await assertThrows(() => parseIdxImages(syntheticImages(1).subarray(0, 10), 'short-images'), /short-images: truncated .*10 bytes.*16-byte header/, 'images');
      await assertThrows(() => parseIdxLabels(new Uint8Array(3), 'short-labels'), /short-labels: truncated/, 'labels');
    },
  },
  {
    name: 'truncated values rejected',
    run: async () => {
      const bytes = syntheticImages(2);
      await assertThrows(() => parseIdxImages(bytes.subarray(0, bytes.length - 1), 'cut-images'), /cut-images: truncated: .*2 images of 28x28 \(1584 bytes in all\).*1583 bytes/, 'images');
      await assertThrows(() => parseIdxLabels(syntheticLabels([1, 2, 3]).subarray(0, 9), 'cut-labels'), /cut-labels: truncated: .*3 labels/, 'labels');
    },
  },
  {
    name: 'trailing bytes rejected',
    run: async () => {
      const bytes = new Uint8Array(syntheticLabels([1, 2]).length + 3);
      bytes.set(syntheticLabels([1, 2]));
      await assertThrows(() => parseIdxLabels(bytes, 'long-labels'), /long-labels: 3 bytes of trailing data/, 'labels');
    },
  },
  {
    name: 'truncated gzip rejected',
    run: async () => {
      const gz = await gzip(syntheticImages(2));
      await assertThrows(() => decompressIfGzip(gz.subarray(0, gz.length - 20), 'cut.gz'), /cut.gz: gzip decompression failed/, 'gzip');
    },
  },
  {
    name: 'wrong magic rejected',
    run: async () => {
      await assertThrows(() => parseIdxImages(syntheticLabels([1, 2, 3, 4, 5, 6, 7, 8, 9, 0, 1, 2]), 'swapped'), /swapped: wrong magic number 2049 \(a label file\); an IDX image file starts with 2051/, 'labels as images');
      await assertThrows(() => parseIdxLabels(syntheticImages(1), 'swapped2'), /swapped2: wrong magic number 2051 \(an image file\).*2049/, 'images as labels');
      const html = new TextEncoder().encode('<html><body>404 Not Found</body></html>');
      await assertThrows(() => parseIdxLabels(html, 'page'), /page: wrong magic number \d+; an IDX label file/, 'HTML page');
    },
  },
  {
    name: 'label outside 0-9 rejected',
    run: async () => {
      await assertThrows(() => parseIdxLabels(syntheticLabels([0, 9, 10, 2]), 'bad-labels'), /bad-labels: label 10 at index 2 is outside 0-9/, 'label 10');
      await assertThrows(() => parseIdxLabels(syntheticLabels([255]), 'bad-labels'), /label 255 at index 0/, 'label 255');
    },
  },
  {
    name: 'wrong image size rejected',
    run: async () => {
      await assertThrows(() => parseIdxImages(syntheticImages(1, 32, 32), 'cifar'), /cifar: images are 32x32; Fashion-MNIST images are 28x28/, '32x32');
      await assertThrows(() => parseIdxImages(syntheticImages(1, 28, 27), 'narrow'), /narrow: images are 28x27/, '28x27');
    },
  },
  {
    name: 'mismatched counts rejected',
    run: async () => {
      await assertThrows(
        () => parseSplit('train', { images: syntheticImages(3), imagesFile: 'imgs', labels: syntheticLabels([1, 2]), labelsFile: 'lbls' }),
        /imgs has 3 images but lbls has 2 labels/,
        'counts',
      );
      const split = parseSplit('test', { images: syntheticImages(2), imagesFile: 'imgs', labels: syntheticLabels([1, 2]), labelsFile: 'lbls' });
      assertEqual([split.count, split.images.length, Array.from(split.labels)], [2, 2 * 784, [1, 2]], 'matching split');
    },
  },
];

export default suite('data-idx', cases);
