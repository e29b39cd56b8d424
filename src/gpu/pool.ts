/**
 * Size-bucketed GPU buffer pool.
 *
 * Sizes are rounded up to a size class (four classes per power of two above 4 KiB, so at most
 * 25% of a buffer is slack), and each (usage, class) pair keeps a free list. A buffer released
 * while the open command encoder still uses it waits in `pending` until that encoder is
 * submitted: after the submission, queue order guarantees that a later `writeBuffer` into the
 * reused buffer lands after the commands that read the old contents.
 */

import { flags } from './flags.ts';

const MIN_CLASS_BYTES = 256;

/** Rounds a byte size up to its size class. */
export function sizeClass(byteSize: number): number {
  if (byteSize <= 4096) return Math.max(MIN_CLASS_BYTES, Math.ceil(byteSize / MIN_CLASS_BYTES) * MIN_CLASS_BYTES);
  const power = 2 ** Math.floor(Math.log2(byteSize));
  const step = power / 4;
  return Math.ceil(byteSize / step) * step;
}

/** Bookkeeping the executor attaches to each pooled buffer. */
export interface PooledBuffer {
  buffer: GPUBuffer;
  /** Bytes of the size class (the GPU allocation). */
  byteSize: number;
  usage: number;
  /** Index of the command encoder that last used this buffer. */
  usedInEncoder: number;
}

export interface PoolStats {
  /** Bytes of buffers handed out and not yet released. */
  liveBytes: number;
  /** Bytes of buffers waiting in free lists or for a submission. */
  pooledBytes: number;
  /** Highest `liveBytes` seen since the last `resetPeak()`. */
  peakLiveBytes: number;
  /** Bytes of every GPU buffer the pool has created and not destroyed (live plus pooled). */
  allocatedBytes: number;
  liveBuffers: number;
  pooledBuffers: number;
}

export class BufferPool {
  private readonly free = new Map<string, PooledBuffer[]>();
  private pending: PooledBuffer[] = [];
  private liveBytes = 0;
  private liveBuffers = 0;
  private pooledBytes = 0;
  private pooledBuffers = 0;
  private peakLiveBytes = 0;

  constructor(
    private readonly device: GPUDevice,
    private readonly currentEncoder: () => number,
  ) {}

  acquire(byteSize: number, usage: number, label?: string): PooledBuffer {
    const size = sizeClass(byteSize);
    const list = this.free.get(`${usage}:${size}`);
    let entry = list?.pop();
    if (entry) {
      this.pooledBytes -= size;
      this.pooledBuffers--;
    } else {
      const buffer = this.device.createBuffer({ size, usage, label });
      entry = { buffer, byteSize: size, usage, usedInEncoder: -1 };
      if (flags.ENGINE_VERBOSE) {
        console.log(`[engine] new buffer ${label ?? ''}: ${size} bytes; pool now holds ${this.liveBytes + this.pooledBytes + size} bytes`);
      }
    }
    this.liveBytes += size;
    this.liveBuffers++;
    this.peakLiveBytes = Math.max(this.peakLiveBytes, this.liveBytes);
    return entry;
  }

  release(entry: PooledBuffer): void {
    this.liveBytes -= entry.byteSize;
    this.liveBuffers--;
    this.pooledBytes += entry.byteSize;
    this.pooledBuffers++;
    if (entry.usedInEncoder === this.currentEncoder()) this.pending.push(entry);
    else this.pushFree(entry);
  }

  /** Called after the open encoder was submitted: its pending buffers become reusable. */
  onSubmitted(): void {
    for (const entry of this.pending) this.pushFree(entry);
    this.pending = [];
  }

  /** Destroys every pooled (not live) buffer, for example between benchmark runs. */
  trim(): void {
    for (const list of this.free.values()) {
      for (const entry of list) {
        entry.buffer.destroy();
        this.pooledBytes -= entry.byteSize;
        this.pooledBuffers--;
      }
    }
    this.free.clear();
  }

  resetPeak(): void {
    this.peakLiveBytes = this.liveBytes;
  }

  stats(): PoolStats {
    return {
      liveBytes: this.liveBytes,
      pooledBytes: this.pooledBytes,
      peakLiveBytes: this.peakLiveBytes,
      allocatedBytes: this.liveBytes + this.pooledBytes,
      liveBuffers: this.liveBuffers,
      pooledBuffers: this.pooledBuffers,
    };
  }

  private pushFree(entry: PooledBuffer): void {
    const key = `${entry.usage}:${entry.byteSize}`;
    const list = this.free.get(key);
    if (list) list.push(entry);
    else this.free.set(key, [entry]);
  }
}
