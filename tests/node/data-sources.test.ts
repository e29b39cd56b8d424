// Fashion-MNIST sources in Node: the search order, the message when nothing is found, and the
// download against an HTTP server on 127.0.0.1 that serves generated files.
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { mkdtemp, mkdir, readdir, rm, writeFile } from 'node:fs/promises';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { FASHION_MNIST_FILES, fetchFashionMnist, type FashionMnistFile } from '../../src/data/index.ts';
import { DataNotFoundError, downloadFashionMnist, findFashionMnistDir, loadFashionMnist, sha256Hex } from '../../src/data/node.ts';
import { syntheticImages, syntheticLabels } from '../suites/data-idx.ts';

/** Generated content of the four files: 12 training and 5 test images. */
const CONTENT: Record<string, Uint8Array> = {
  'train-images-idx3-ubyte': syntheticImages(12),
  'train-labels-idx1-ubyte': syntheticLabels([9, 0, 0, 3, 0, 2, 7, 2, 5, 5, 1, 4]),
  't10k-images-idx3-ubyte': syntheticImages(5),
  't10k-labels-idx1-ubyte': syntheticLabels([9, 2, 1, 1, 6]),
};

/** The file table for the generated content, as the real table is for the real files. */
const GENERATED_FILES: FashionMnistFile[] = FASHION_MNIST_FILES.map((f) => ({
  ...f,
  byteLength: CONTENT[f.stem].length,
  sha256: sha256Hex(CONTENT[f.stem]),
}));

let root: string;
let server: Server;
let mirror: string;
const served = new Map<string, Uint8Array>();
let requests = 0;

/** Writes the generated files into `dir`, gzipped or not. */
async function writeFiles(dir: string, gzipped: boolean): Promise<void> {
  await mkdir(dir, { recursive: true });
  for (const [stem, bytes] of Object.entries(CONTENT)) {
    await writeFile(join(dir, gzipped ? stem + '.gz' : stem), gzipped ? gzipSync(bytes) : bytes);
  }
}

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), 'fmnist-'));
  for (const [stem, bytes] of Object.entries(CONTENT)) served.set('/' + stem + '.gz', gzipSync(bytes));
  server = createServer((request, response) => {
    requests++;
    const body = served.get(request.url ?? '');
    if (request.method === 'HEAD' || request.url === '/') {
      response.writeHead(200).end();
    } else if (body) {
      response.writeHead(200, { 'content-type': 'application/octet-stream' }).end(body);
    } else {
      response.writeHead(404).end('not found');
    }
  });
  await new Promise<void>((done) => server.listen(0, '127.0.0.1', done));
  mirror = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
});

afterAll(async () => {
  await new Promise((done) => server.close(done));
  await rm(root, { recursive: true, force: true });
});

/** Options that keep the search inside a fresh folder of `root`, never the real machine's. */
async function isolated(name: string) {
  const cwd = join(root, name);
  const empty = join(cwd, 'empty-system-dir');
  await mkdir(empty, { recursive: true });
  return { cwd, env: {}, systemDir: empty };
}

describe('data sources', () => {
  it('reads gzipped and raw directories alike', async () => {
    const base = await isolated('formats');
    await writeFiles(join(base.cwd, 'gz'), true);
    await writeFiles(join(base.cwd, 'raw'), false);
    const gz = await loadFashionMnist({ ...base, dataDir: 'gz', download: false });
    const raw = await loadFashionMnist({ ...base, dataDir: 'raw', download: false });
    expect(gz.train.count).toBe(12);
    expect(gz.test.count).toBe(5);
    expect(Array.from(gz.train.labels)).toEqual(Array.from(raw.train.labels));
    expect(Buffer.compare(Buffer.from(gz.train.images), Buffer.from(raw.train.images))).toBe(0);
  });

  it('follows the search order', async () => {
    const base = await isolated('order');
    await writeFiles(join(base.cwd, 'explicit'), true);
    await writeFiles(join(base.cwd, 'from-env'), true);
    await writeFiles(join(base.cwd, 'data', 'fashion-mnist'), false);
    await writeFiles(join(base.cwd, 'system'), true);
    const env = { FASHION_MNIST_DIR: 'from-env' };
    const systemDir = join(base.cwd, 'system');

    expect(findFashionMnistDir({ ...base, env, systemDir, dataDir: 'explicit' }).dir).toBe(join(base.cwd, 'explicit'));
    expect(findFashionMnistDir({ ...base, env, systemDir }).dir).toBe(join(base.cwd, 'from-env'));
    expect(findFashionMnistDir({ ...base, systemDir }).dir).toBe(join(base.cwd, 'data', 'fashion-mnist'));
    await rm(join(base.cwd, 'data'), { recursive: true });
    expect(findFashionMnistDir({ ...base, systemDir }).dir).toBe(systemDir);
    // An environment variable naming an incomplete folder is reported and skipped.
    const skipped = findFashionMnistDir({ ...base, env: { FASHION_MNIST_DIR: 'nowhere' }, systemDir });
    expect(skipped.dir).toBe(systemDir);
    expect(skipped.looked[0]).toMatch(/\$FASHION_MNIST_DIR .*nowhere.*no such directory/);
  });

  it('rejects an incomplete --data directory', async () => {
    const base = await isolated('incomplete');
    await writeFiles(join(base.cwd, 'partial'), true);
    await rm(join(base.cwd, 'partial', 't10k-labels-idx1-ubyte.gz'));
    expect(() => findFashionMnistDir({ ...base, dataDir: 'partial' })).toThrow(/--data partial .* lacks t10k-labels-idx1-ubyte\[\.gz\]/);
  });

  it('names a malformed file', async () => {
    const base = await isolated('malformed');
    const dir = join(base.cwd, 'bad');
    await writeFiles(dir, false);
    await writeFile(join(dir, 't10k-labels-idx1-ubyte'), syntheticLabels([1, 2, 3]));
    await expect(loadFashionMnist({ ...base, dataDir: 'bad', download: false })).rejects.toThrow(
      /t10k-images-idx3-ubyte has 5 images but .*t10k-labels-idx1-ubyte has 3 labels/,
    );
  });

  it('lists every place when nothing is found', async () => {
    const base = await isolated('nothing');
    // Port 9 on 127.0.0.1 refuses connections, which is the "offline" case, reported at once.
    const error = await loadFashionMnist({ ...base, mirror: 'http://127.0.0.1:9/', connectTimeoutMs: 1000 }).catch((e) => e);
    expect(error).toBeInstanceOf(DataNotFoundError);
    const message = (error as Error).message;
    expect(message).toMatch(/Looked for train-images-idx3-ubyte\[\.gz\], .* in:/);
    expect(message).toMatch(/\$FASHION_MNIST_DIR: not set/);
    expect(message).toMatch(/\.\/data\/fashion-mnist .*: no such directory/);
    expect(message).toMatch(/dataset-fashion-mnist .*empty-system-dir.*: missing train-images-idx3-ubyte/);
    expect(message).toMatch(/download from http:\/\/127\.0\.0\.1:9\/: no response within 1000 ms/);
    expect(message).toMatch(/sudo apt-get install dataset-fashion-mnist/);
  });

  it('downloads, checks and writes atomically', async () => {
    const base = await isolated('download');
    const before = requests;
    const data = await loadFashionMnist({ ...base, mirror, files: GENERATED_FILES });
    expect(requests - before).toBe(5); // one reachability check, then four files
    expect(data.source).toBe(join(base.cwd, 'data', 'fashion-mnist'));
    expect(Array.from(data.train.labels.subarray(0, 4))).toEqual([9, 0, 0, 3]);
    const names = (await readdir(join(base.cwd, 'data', 'fashion-mnist'))).sort();
    expect(names).toEqual(FASHION_MNIST_FILES.map((f) => f.stem + '.gz').sort());

    // The second load reads the downloaded files and requests nothing.
    const again = requests;
    await loadFashionMnist({ ...base, mirror, files: GENERATED_FILES });
    expect(requests).toBe(again);
  });

  it('rejects a checksum mismatch and writes nothing', async () => {
    const dir = join(root, 'mismatch');
    const wrong = GENERATED_FILES.map((f) => (f.kind === 'labels' && f.split === 'train' ? { ...f, sha256: '0'.repeat(64) } : f));
    await expect(downloadFashionMnist(dir, { mirror, files: wrong })).rejects.toThrow(
      /train-labels-idx1-ubyte\.gz: checksum mismatch: decompressed to 20 bytes with SHA-256 [0-9a-f]{64}, expected 20 bytes with SHA-256 0{64}/,
    );
    const names = await readdir(dir);
    expect(names).toEqual(['train-images-idx3-ubyte.gz']);
  });

  it('fetches from a URL as the browser does', async () => {
    const data = await fetchFashionMnist(mirror);
    expect(data.train.count).toBe(12);
    expect(Array.from(data.test.labels)).toEqual([9, 2, 1, 1, 6]);
    expect(Buffer.compare(Buffer.from(data.train.images), Buffer.from(CONTENT['train-images-idx3-ubyte'].subarray(16)))).toBe(0);
    await expect(fetchFashionMnist(mirror + 'missing/')).rejects.toThrow(/missing\/train-images-idx3-ubyte\.gz: HTTP 404/);
  });

  it('rejects a missing file on the mirror', async () => {
    const dir = join(root, 'missing');
    const files = [{ ...GENERATED_FILES[0], stem: 'no-such-file' }];
    await expect(downloadFashionMnist(dir, { mirror, files })).rejects.toThrow(/no-such-file\.gz: HTTP 404/);
    expect(await readdir(dir)).toEqual([]);
  });
});
