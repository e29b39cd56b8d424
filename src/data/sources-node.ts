/**
 * Node-only: finds the Fashion-MNIST files on this machine, or downloads them.
 *
 * Sources are tried in order and the first directory holding all four files wins:
 *   1. an explicit directory (the CLI's `--data DIR`); when given, it must hold the files,
 *   2. the `FASHION_MNIST_DIR` environment variable,
 *   3. `./data/fashion-mnist` under the working directory,
 *   4. Debian's `dataset-fashion-mnist` package at /usr/share/datasets/fashion-mnist,
 *   5. when the official mirror responds within a few seconds, a download into
 *      `./data/fashion-mnist` (see download.ts).
 * Each file may be gzipped (`NAME.gz`) or not (`NAME`).
 */
import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { join, resolve } from 'node:path';
import { promisify } from 'node:util';
import { gunzip as gunzipCallback } from 'node:zlib';
import { FASHION_MNIST_FILES, FASHION_MNIST_MIRROR, fileOf, parseSplit, type FashionMnist, type FashionMnistFile, type SplitName } from './fashion-mnist.ts';
import { downloadFashionMnist, isMirrorReachable, CONNECT_TIMEOUT_MS } from './download.ts';
import { isGzip } from './idx.ts';

const gunzipAsync = promisify(gunzipCallback);

/** Environment variable naming a directory with the four files. */
export const DATA_DIR_ENV = 'FASHION_MNIST_DIR';
/** Directory of Debian's `dataset-fashion-mnist` package. */
export const DEBIAN_DATA_DIR = '/usr/share/datasets/fashion-mnist';
/** Directory, relative to the working directory, that downloads go into. */
export const LOCAL_DATA_DIR = join('data', 'fashion-mnist');
/** The command that installs the data set on Debian and Ubuntu. */
export const INSTALL_COMMAND = 'sudo apt-get install dataset-fashion-mnist';

export interface SourceOptions {
  /** Explicit directory (`--data DIR`); when set, it must contain the four files. */
  dataDir?: string;
  /** Environment to read `FASHION_MNIST_DIR` from; `process.env` by default. */
  env?: Record<string, string | undefined>;
  /** Base for `./data/fashion-mnist`; the working directory by default. */
  cwd?: string;
  /** Debian's directory; overridable so tests can point it at an empty folder. */
  systemDir?: string;
  /** Whether to download when nothing is installed (true by default). */
  download?: boolean;
  /** Mirror folder URL; the official one by default. */
  mirror?: string;
  /** Expected files and checksums for a download; the real data set's by default. */
  files?: readonly FashionMnistFile[];
  connectTimeoutMs?: number;
  log?: (message: string) => void;
}

/** Raised when no source has the data; the message lists every place looked at. */
export class DataNotFoundError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'DataNotFoundError';
  }
}

/** Returns the path of a file in `dir`, uncompressed first, then gzipped; null if neither exists. */
function locate(dir: string, stem: string): string | null {
  for (const name of [stem, stem + '.gz']) {
    const path = join(dir, name);
    if (existsSync(path)) return path;
  }
  return null;
}

/** Returns the stems of the files missing from `dir`. */
export function missingFiles(dir: string, files: readonly FashionMnistFile[] = FASHION_MNIST_FILES): string[] {
  return files.filter((f) => locate(dir, f.stem) === null).map((f) => f.stem);
}

/** Reads a file and decompresses it when it is gzipped. */
async function readMaybeGzip(path: string): Promise<Uint8Array> {
  const raw = new Uint8Array(await readFile(path));
  if (!isGzip(raw)) return raw;
  try {
    const out = await gunzipAsync(raw);
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  } catch (error) {
    throw new Error(`${path}: gzip decompression failed (${(error as Error).message}); the file is truncated or corrupt, replace it`);
  }
}

/** Reads and checks the four files in `dir`. */
export async function readFashionMnistDir(dir: string): Promise<FashionMnist> {
  const missing = missingFiles(dir);
  if (missing.length > 0) throw new DataNotFoundError(`${dir}: missing ${missing.map((m) => m + '[.gz]').join(', ')}`);

  const split = async (name: SplitName) => {
    const imagesFile = locate(dir, fileOf(name, 'images').stem)!;
    const labelsFile = locate(dir, fileOf(name, 'labels').stem)!;
    const [images, labels] = await Promise.all([readMaybeGzip(imagesFile), readMaybeGzip(labelsFile)]);
    return parseSplit(name, { images, imagesFile, labels, labelsFile });
  };
  const [train, test] = await Promise.all([split('train'), split('test')]);
  return { train, test, source: dir };
}

/**
 * Returns the first directory that contains all four files, or the report of each place looked
 * at when none does.
 */
export function findFashionMnistDir(options: SourceOptions = {}): { dir: string | null; looked: string[] } {
  const env = options.env ?? process.env;
  const cwd = options.cwd ?? process.cwd();
  const looked: string[] = [];

  if (options.dataDir !== undefined) {
    const dir = resolve(cwd, options.dataDir);
    const missing = missingFiles(dir);
    if (missing.length > 0) {
      throw new DataNotFoundError(
        `--data ${options.dataDir} (${dir}) lacks ${missing.map((m) => m + '[.gz]').join(', ')}; ` +
          `put the four Fashion-MNIST files there, or omit --data to search the default places`,
      );
    }
    return { dir, looked };
  }

  const candidates: [string, string | undefined][] = [
    [`$${DATA_DIR_ENV}`, env[DATA_DIR_ENV] ? resolve(cwd, env[DATA_DIR_ENV]!) : undefined],
    [`./${LOCAL_DATA_DIR}`, resolve(cwd, LOCAL_DATA_DIR)],
    ['dataset-fashion-mnist', options.systemDir ?? DEBIAN_DATA_DIR],
  ];
  for (const [label, dir] of candidates) {
    if (dir === undefined) {
      looked.push(`${label}: not set`);
      continue;
    }
    const missing = missingFiles(dir);
    if (missing.length === 0) return { dir, looked };
    looked.push(existsSync(dir) ? `${label} (${dir}): missing ${missing.join(', ')}` : `${label} (${dir}): no such directory`);
  }
  return { dir: null, looked };
}

/**
 * Loads Fashion-MNIST from the first source that has it (see the module comment), downloading
 * it when nothing is installed and the mirror is reachable.
 */
export async function loadFashionMnist(options: SourceOptions = {}): Promise<FashionMnist> {
  const found = findFashionMnistDir(options);
  if (found.dir) {
    options.log?.(`Fashion-MNIST: reading ${found.dir}`);
    return readFashionMnistDir(found.dir);
  }

  const mirror = options.mirror ?? FASHION_MNIST_MIRROR;
  const target = resolve(options.cwd ?? process.cwd(), LOCAL_DATA_DIR);
  const timeout = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  if (options.download === false) {
    found.looked.push(`download from ${mirror}: disabled`);
  } else if (await isMirrorReachable(mirror, timeout)) {
    options.log?.(`Fashion-MNIST: not installed; downloading from ${mirror} into ${target}`);
    await downloadFashionMnist(target, { mirror, files: options.files, connectTimeoutMs: timeout, log: options.log });
    return readFashionMnistDir(target);
  } else {
    found.looked.push(`download from ${mirror}: no response within ${timeout} ms (offline?)`);
  }

  throw new DataNotFoundError(
    'Fashion-MNIST not found. Looked for ' +
      FASHION_MNIST_FILES.map((f) => f.stem + '[.gz]').join(', ') +
      ' in:\n  ' +
      found.looked.join('\n  ') +
      `\nInstall it with \`${INSTALL_COMMAND}\`, put the four files in ./${LOCAL_DATA_DIR}, or pass --data DIR.`,
  );
}
