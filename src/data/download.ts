/**
 * Node-only: downloads the four gzipped Fashion-MNIST files from a mirror and checks the
 * SHA-256 of each decompressed file against the table in fashion-mnist.ts. Each file is
 * written atomically (a temporary file in the same directory, then a rename), so an
 * interrupted download never leaves a partial file that a later run would read.
 */
import { createHash } from 'node:crypto';
import { mkdir, rename, rm, writeFile } from 'node:fs/promises';
import { join } from 'node:path';
import { gunzipSync } from 'node:zlib';
import { FASHION_MNIST_FILES, FASHION_MNIST_MIRROR, type FashionMnistFile } from './fashion-mnist.ts';

/** Milliseconds to wait for a mirror's response headers before calling the machine offline. */
export const CONNECT_TIMEOUT_MS = 4000;
/** Milliseconds a whole file may take once its response has started. */
export const TRANSFER_TIMEOUT_MS = 10 * 60_000;

export interface DownloadOptions {
  /** Folder URL holding the `.gz` files; the official mirror by default. */
  mirror?: string;
  /** Expected files and checksums; the real data set's by default (tests pass their own). */
  files?: readonly FashionMnistFile[];
  connectTimeoutMs?: number;
  log?: (message: string) => void;
}

/** Raised when the mirror cannot be reached at all (no network, refused, timed out). */
export class MirrorUnreachableError extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'MirrorUnreachableError';
  }
}

/**
 * Requests `url` and waits at most `connectTimeoutMs` for the response headers; a failure to
 * get them is a `MirrorUnreachableError`. The body then has `TRANSFER_TIMEOUT_MS` to arrive.
 */
async function fetchWithTimeouts(url: string, connectTimeoutMs: number, method = 'GET'): Promise<{ response: Response; body: Uint8Array }> {
  const controller = new AbortController();
  const connectTimer = setTimeout(() => controller.abort(new Error(`no response within ${connectTimeoutMs} ms`)), connectTimeoutMs);
  let response: Response;
  try {
    response = await fetch(url, { method, signal: controller.signal, redirect: 'follow' });
  } catch (error) {
    const cause = (error as Error & { cause?: Error }).cause;
    throw new MirrorUnreachableError(`${url}: ${cause?.message ?? (error as Error).message}`);
  } finally {
    clearTimeout(connectTimer);
  }

  const transferTimer = setTimeout(() => controller.abort(new Error(`transfer took over ${TRANSFER_TIMEOUT_MS} ms`)), TRANSFER_TIMEOUT_MS);
  try {
    return { response, body: new Uint8Array(await response.arrayBuffer()) };
  } finally {
    clearTimeout(transferTimer);
  }
}

/** Returns true when the mirror responds to an HTTP request within `timeoutMs` (any status counts). */
export async function isMirrorReachable(mirror = FASHION_MNIST_MIRROR, timeoutMs = CONNECT_TIMEOUT_MS): Promise<boolean> {
  try {
    await fetchWithTimeouts(mirror, timeoutMs, 'HEAD');
    return true;
  } catch (error) {
    if (error instanceof MirrorUnreachableError) return false;
    throw error;
  }
}

export function sha256Hex(bytes: Uint8Array): string {
  return createHash('sha256').update(bytes).digest('hex');
}

/**
 * Downloads every file into `dir` (created if missing) and returns the paths written. Each
 * file is checked before it is written; a checksum mismatch raises and writes nothing for
 * that file.
 */
export async function downloadFashionMnist(dir: string, options: DownloadOptions = {}): Promise<string[]> {
  const mirror = options.mirror ?? FASHION_MNIST_MIRROR;
  const base = mirror.endsWith('/') ? mirror : mirror + '/';
  const files = options.files ?? FASHION_MNIST_FILES;
  const connectTimeoutMs = options.connectTimeoutMs ?? CONNECT_TIMEOUT_MS;
  await mkdir(dir, { recursive: true });

  const written: string[] = [];
  for (const file of files) {
    const url = new URL(file.stem + '.gz', base).href;
    options.log?.(`downloading ${url}`);

    // Fetch and check the decompressed content.
    const { response, body: gz } = await fetchWithTimeouts(url, connectTimeoutMs);
    if (!response.ok) throw new Error(`${url}: HTTP ${response.status} ${response.statusText}; the mirror may have moved, pass --data DIR instead`);
    let content: Uint8Array;
    try {
      content = gunzipSync(gz);
    } catch (error) {
      throw new Error(`${url}: not valid gzip data (${(error as Error).message}); the download is truncated or the mirror served something else`);
    }
    const hash = sha256Hex(content);
    if (content.length !== file.byteLength || hash !== file.sha256) {
      throw new Error(
        `${url}: checksum mismatch: decompressed to ${content.length} bytes with SHA-256 ${hash}, expected ` +
          `${file.byteLength} bytes with SHA-256 ${file.sha256}; the download is corrupt or the mirror serves other files`,
      );
    }

    // Write atomically: a rename within one directory replaces the target in one step.
    const target = join(dir, file.stem + '.gz');
    const temporary = `${target}.${process.pid}.partial`;
    try {
      await writeFile(temporary, gz);
      await rename(temporary, target);
    } catch (error) {
      await rm(temporary, { force: true });
      throw error;
    }
    written.push(target);
  }
  return written;
}
