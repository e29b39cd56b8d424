/**
 * IDX reader: the file format of MNIST and Fashion-MNIST.
 *
 * An IDX file is a big-endian header followed by raw values: a 32-bit magic number whose
 * third byte is the value type (0x08 = unsigned byte) and whose fourth byte is the number of
 * dimensions, then one 32-bit size per dimension, then the values in row-major order. Label
 * files have magic 2049 (0x00000801, one dimension) and image files magic 2051 (0x00000803,
 * three dimensions: count, rows, columns). Files may be gzipped; `gunzip` here uses the
 * `DecompressionStream` that browsers and Node 18+ both provide, so this module is
 * browser-safe.
 */

/** Magic number of an IDX label file: unsigned bytes, one dimension. */
export const LABELS_MAGIC = 2049;
/** Magic number of an IDX image file: unsigned bytes, three dimensions. */
export const IMAGES_MAGIC = 2051;

/** Image rows and columns of (Fashion-)MNIST. */
export const IMAGE_SIZE = 28;
/** Number of classes, so labels are 0..CLASS_COUNT-1. */
export const CLASS_COUNT = 10;

/** Raised on any malformed IDX file; the message names the file and what was wrong. */
export class IdxFormatError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'IdxFormatError';
  }
}

/** Decoded images: `count` images of `rows` x `cols` unsigned bytes, row-major. */
export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** [count, rows, cols] pixel values 0..255. */
  pixels: Uint8Array;
}

/** True when `bytes` starts with the gzip magic number 1f 8b. */
export function isGzip(bytes: Uint8Array): boolean {
  return bytes.length >= 2 && bytes[0] === 0x1f && bytes[1] === 0x8b;
}

/** Decompresses gzip data with the platform's `DecompressionStream`. */
export async function gunzip(bytes: Uint8Array, fileName: string): Promise<Uint8Array> {
  try {
    const stream = new Blob([bytes as Uint8Array<ArrayBuffer>]).stream().pipeThrough(new DecompressionStream('gzip'));
    return new Uint8Array(await new Response(stream).arrayBuffer());
  } catch (error) {
    throw new IdxFormatError(`${fileName}: gzip decompression failed (${(error as Error).message}); the file is truncated or corrupt, download it again`);
  }
}

/** Returns the decompressed bytes of a gzipped file, or the bytes themselves when not gzipped. */
export async function decompressIfGzip(bytes: Uint8Array, fileName: string): Promise<Uint8Array> {
  return isGzip(bytes) ? gunzip(bytes, fileName) : bytes;
}

/** Reads and checks the header; returns the dimension sizes and the offset of the values. */
function readHeader(bytes: Uint8Array, fileName: string, expectedMagic: number): { dims: number[]; offset: number } {
  const kind = expectedMagic === LABELS_MAGIC ? 'label' : 'image';
  const rank = expectedMagic & 0xff;
  const headerBytes = 4 + 4 * rank;
  if (bytes.length < headerBytes) {
    throw new IdxFormatError(`${fileName}: truncated IDX ${kind} file: ${bytes.length} bytes, shorter than its ${headerBytes}-byte header`);
  }
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  const magic = view.getUint32(0, false);
  if (magic !== expectedMagic) {
    let other = '';
    if (magic === LABELS_MAGIC) other = ' (a label file)';
    if (magic === IMAGES_MAGIC) other = ' (an image file)';
    throw new IdxFormatError(
      `${fileName}: wrong magic number ${magic}${other}; an IDX ${kind} file starts with ${expectedMagic}. ` +
        'Check that the file is the one named (images and labels swapped?) and not an HTML error page',
    );
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return { dims, offset: headerBytes };
}

function checkLength(bytes: Uint8Array, fileName: string, offset: number, valueCount: number, what: string): void {
  const expected = offset + valueCount;
  if (bytes.length < expected) {
    throw new IdxFormatError(
      `${fileName}: truncated: the header declares ${what} (${expected} bytes in all) but the file has ${bytes.length} bytes; download it again`,
    );
  }
  if (bytes.length > expected) {
    throw new IdxFormatError(`${fileName}: ${bytes.length - expected} bytes of trailing data after ${what} (${expected} bytes expected)`);
  }
}

/** Parses an uncompressed IDX image file of 28x28 images. */
export function parseIdxImages(bytes: Uint8Array, fileName: string): IdxImages {
  const { dims, offset } = readHeader(bytes, fileName, IMAGES_MAGIC);
  const [count, rows, cols] = dims;
  if (rows !== IMAGE_SIZE || cols !== IMAGE_SIZE) {
    throw new IdxFormatError(`${fileName}: images are ${rows}x${cols}; Fashion-MNIST images are ${IMAGE_SIZE}x${IMAGE_SIZE}`);
  }
  checkLength(bytes, fileName, offset, count * rows * cols, `${count} images of ${rows}x${cols}`);
  return { count, rows, cols, pixels: bytes.subarray(offset) };
}

/** Parses an uncompressed IDX label file; every label must be a class index 0..9. */
export function parseIdxLabels(bytes: Uint8Array, fileName: string): Uint8Array {
  const { dims, offset } = readHeader(bytes, fileName, LABELS_MAGIC);
  const [count] = dims;
  checkLength(bytes, fileName, offset, count, `${count} labels`);
  const labels = bytes.subarray(offset);
  for (let i = 0; i < labels.length; i++) {
    if (labels[i] >= CLASS_COUNT) {
      throw new IdxFormatError(`${fileName}: label ${labels[i]} at index ${i} is outside 0-${CLASS_COUNT - 1}`);
    }
  }
  return labels;
}

/** Rejects an image file and a label file whose counts differ, naming both files. */
export function checkCounts(images: IdxImages, imagesFile: string, labels: Uint8Array, labelsFile: string): void {
  if (images.count !== labels.length) {
    throw new IdxFormatError(
      `${imagesFile} has ${images.count} images but ${labelsFile} has ${labels.length} labels; the two files must come from the same split`,
    );
  }
}
