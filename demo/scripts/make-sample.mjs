// Writes the demo's bundled sample: the first 10 test images of each Fashion-MNIST class (100
// in all, in test-set order) as gzipped IDX files, plus sample.json with their test-set indices.
// The output depends only on the dataset, so rerunning it reproduces the committed files:
//   node demo/scripts/make-sample.mjs [DATASET_DIR]   (default /usr/share/datasets/fashion-mnist)
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { gunzipSync, gzipSync } from 'node:zlib';

const PER_CLASS = 10;
const CLASSES = 10;
const IMAGE_MAGIC = 0x00000803; // unsigned bytes, 3 dimensions
const LABEL_MAGIC = 0x00000801; // unsigned bytes, 1 dimension

const datasetDir = process.argv[2] ?? '/usr/share/datasets/fashion-mnist';
const outDir = join(dirname(fileURLToPath(import.meta.url)), '..', 'public', 'sample');

function readIdx(name, magic) {
  for (const file of [join(datasetDir, name + '.gz'), join(datasetDir, name)]) {
    if (!existsSync(file)) continue;
    const raw = readFileSync(file);
    const bytes = file.endsWith('.gz') ? gunzipSync(raw) : raw;
    const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
    if (view.getUint32(0) !== magic) {
      throw new Error(`${file}: magic number 0x${view.getUint32(0).toString(16)} is not 0x${magic.toString(16)}; is this a Fashion-MNIST IDX file?`);
    }
    const rank = magic & 0xff;
    const dims = Array.from({ length: rank }, (_, i) => view.getUint32(4 + 4 * i));
    return { dims, data: bytes.subarray(4 + 4 * rank) };
  }
  throw new Error(`${name}(.gz) not found in ${datasetDir}; pass the Fashion-MNIST directory as the first argument or install Debian's dataset-fashion-mnist`);
}

function idxFile(magic, dims, data) {
  const header = new DataView(new ArrayBuffer(4 + 4 * dims.length));
  header.setUint32(0, magic);
  dims.forEach((d, i) => header.setUint32(4 + 4 * i, d));
  // gzipSync writes a zero modification time, so the bytes depend on the content only.
  return gzipSync(Buffer.concat([new Uint8Array(header.buffer), data]), { level: 9 });
}

const images = readIdx('t10k-images-idx3-ubyte', IMAGE_MAGIC);
const labels = readIdx('t10k-labels-idx1-ubyte', LABEL_MAGIC);
const [, rows, cols] = images.dims;
const pixels = rows * cols;

const takenPerClass = new Array(CLASSES).fill(0);
const indices = [];
for (let i = 0; i < labels.dims[0] && indices.length < PER_CLASS * CLASSES; i++) {
  const label = labels.data[i];
  if (takenPerClass[label] < PER_CLASS) {
    takenPerClass[label]++;
    indices.push(i);
  }
}

const sampleImages = new Uint8Array(indices.length * pixels);
const sampleLabels = new Uint8Array(indices.length);
indices.forEach((source, i) => {
  sampleImages.set(images.data.subarray(source * pixels, (source + 1) * pixels), i * pixels);
  sampleLabels[i] = labels.data[source];
});

mkdirSync(outDir, { recursive: true });
writeFileSync(join(outDir, 'images-idx3-ubyte.gz'), idxFile(IMAGE_MAGIC, [indices.length, rows, cols], sampleImages));
writeFileSync(join(outDir, 'labels-idx1-ubyte.gz'), idxFile(LABEL_MAGIC, [indices.length], sampleLabels));
const manifest = {
  description: `The first ${PER_CLASS} images of each class in the Fashion-MNIST test set, in test-set order`,
  generator: 'demo/scripts/make-sample.mjs',
  count: indices.length,
  testIndices: indices,
};
writeFileSync(join(outDir, 'sample.json'), JSON.stringify(manifest) + '\n');
console.log(`wrote ${indices.length} images (${rows}x${cols}) to ${outDir}`);
