// Known values of the real Fashion-MNIST files, when they are installed (see
// src/data/sources-node.ts for where they are looked for); skipped with a message otherwise.
import { beforeAll, describe, expect, it } from 'vitest';
import {
  CLASS_NAMES, DataLoader, DeviceSplit, FASHION_MNIST_FILES, balancedSubset, classCounts, classSimilarity, type FashionMnist,
} from '../../src/data/index.ts';
import { INSTALL_COMMAND, findFashionMnistDir, readFashionMnistDir, sha256Hex } from '../../src/data/node.ts';

const found = findFashionMnistDir({});
if (!found.dir) {
  console.warn(`data-real: Fashion-MNIST is not installed, skipping (looked at: ${found.looked.join('; ')}). Install it with \`${INSTALL_COMMAND}\`.`);
}

/** Rebuilds a decompressed IDX file from a parsed split, to check it against the table. */
function idxFile(magic: number, dims: number[], values: Uint8Array): Uint8Array {
  const out = new Uint8Array(4 + 4 * dims.length + values.length);
  const view = new DataView(out.buffer);
  view.setUint32(0, magic);
  dims.forEach((d, i) => view.setUint32(4 + 4 * i, d));
  out.set(values, 4 + 4 * dims.length);
  return out;
}

describe.skipIf(!found.dir)('data-real', () => {
  let data: FashionMnist;
  beforeAll(async () => {
    data = await readFashionMnistDir(found.dir!);
  });

  it('decompressed files match the checksum table', () => {
    const rebuilt: Record<string, Uint8Array> = {
      'train-images-idx3-ubyte': idxFile(2051, [60_000, 28, 28], data.train.images),
      'train-labels-idx1-ubyte': idxFile(2049, [60_000], data.train.labels),
      't10k-images-idx3-ubyte': idxFile(2051, [10_000, 28, 28], data.test.images),
      't10k-labels-idx1-ubyte': idxFile(2049, [10_000], data.test.labels),
    };
    expect(rebuilt['train-images-idx3-ubyte'].length).toBe(47_040_016);
    for (const file of FASHION_MNIST_FILES) {
      expect(rebuilt[file.stem].length, file.stem).toBe(file.byteLength);
      expect(sha256Hex(rebuilt[file.stem]), file.stem).toBe(file.sha256);
    }
  });

  it('first ten labels', () => {
    expect(Array.from(data.train.labels.subarray(0, 10))).toEqual([9, 0, 0, 3, 0, 2, 7, 2, 5, 5]);
    expect(Array.from(data.test.labels.subarray(0, 10))).toEqual([9, 2, 1, 1, 6, 1, 4, 6, 5, 7]);
  });

  it('class counts', () => {
    expect(classCounts(data.train.labels)).toEqual(new Array(10).fill(6000));
    expect(classCounts(data.test.labels)).toEqual(new Array(10).fill(1000));
  });

  it('similarity top pair is Pullover and Coat', async () => {
    const { matrix, pairs } = await classSimilarity(data.train, 224);
    for (let i = 0; i < 10; i++) {
      expect(matrix[i][i]).toBeCloseTo(10, 9);
      for (let j = 0; j < 10; j++) expect(matrix[i][j]).toBe(matrix[j][i]);
    }
    expect(pairs[0].names).toEqual(['Pullover', 'Coat']);
    console.info('data-real: most similar class pairs: ' + pairs.map((p) => `${p.names.join('/')} ${p.similarity.toFixed(3)}`).join(', '));
  });

  it('loader batch from real images', async () => {
    const split = DeviceSplit.upload(data.test);
    const subset = balancedSubset(data.test.labels, 1, 3);
    const loader = new DataLoader(split, { batchSize: 4, indices: subset, seed: 5, transform: { size: 28, mean: 0, std: 1 } });
    const [first] = loader.batches(0);
    const values = await first.images.data();
    const labels = await first.labels.data();
    for (let b = 0; b < 4; b++) {
      const index = first.indices[b];
      expect(labels[b]).toBe(data.test.labels[index]);
      // At the source size with no augmentation, the batch is the image scaled to [0, 1].
      for (const p of [0, 300, 406, 783]) expect(values[b * 784 + p]).toBeCloseTo(data.test.images[index * 784 + p] / 255, 6);
    }
    expect(CLASS_NAMES[labels[0]]).toBeTypeOf('string');
    first.images.dispose();
    first.labels.dispose();
    split.dispose();
  });
});
