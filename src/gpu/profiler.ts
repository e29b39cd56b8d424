/**
 * GPU time per kernel from timestamp queries, for finding where a model's step goes.
 *
 * With `ENGINE_PROFILE=1` on a device that has the `timestamp-query` feature, each dispatch
 * runs in its own compute pass whose beginning and end write a timestamp. At every submit the
 * pairs are resolved into a buffer, copied to a staging buffer and read back asynchronously,
 * then summed per kernel (family, entry point and defines). Separate passes and the extra
 * copies slow the run down, so profile a few steps, not a whole training run.
 */
import { kernelKey, type KernelSpec } from './pipelines.ts';

/** Total GPU time of one kernel. */
export interface ProfileRow {
  /** The kernel's cache key: `family.entry(defines)`. */
  kernel: string;
  dispatches: number;
  milliseconds: number;
}

/** Timestamp pairs per query set; a submit happens before it fills. */
export const PROFILE_CAPACITY = 1024;

const QUERY_RESOLVE = 0x0200;
const COPY_SRC = 0x0004;
const COPY_DST = 0x0008;
const MAP_READ = 0x0001;

export class Profiler {
  private readonly querySet: GPUQuerySet;
  /** Kernel keys of the passes recorded into the open encoder, in query order. */
  private kernels: string[] = [];
  private readonly pending: Promise<void>[] = [];
  private readonly rows = new Map<string, ProfileRow>();
  /** Dispatches whose timestamps could not be read back, and the last reason. */
  lostDispatches = 0;
  lastError: string | null = null;

  constructor(private readonly device: GPUDevice) {
    this.querySet = device.createQuerySet({ type: 'timestamp', count: 2 * PROFILE_CAPACITY });
  }

  /** True when the open encoder has no room for another pass. */
  get full(): boolean {
    return this.kernels.length >= PROFILE_CAPACITY;
  }

  /** Returns the timestamp writes for the pass of the next dispatch of `kernel`. */
  timestampWrites(kernel: KernelSpec): GPUComputePassTimestampWrites {
    const index = this.kernels.length;
    this.kernels.push(kernelKey(kernel));
    return { querySet: this.querySet, beginningOfPassWriteIndex: 2 * index, endOfPassWriteIndex: 2 * index + 1 };
  }

  /**
   * Records the resolve and copy of this encoder's timestamps; call before `finish()`.
   * Returns a function to call after the submit, which starts the readback.
   */
  resolve(encoder: GPUCommandEncoder): () => void {
    const kernels = this.kernels;
    this.kernels = [];
    if (kernels.length === 0) return () => {};

    const byteSize = kernels.length * 2 * 8;
    const resolved = this.device.createBuffer({ size: byteSize, usage: QUERY_RESOLVE | COPY_SRC });
    const staging = this.device.createBuffer({ size: byteSize, usage: MAP_READ | COPY_DST });
    encoder.resolveQuerySet(this.querySet, 0, kernels.length * 2, resolved, 0);
    encoder.copyBufferToBuffer(resolved, 0, staging, 0, byteSize);

    return () => {
      const read = staging
        .mapAsync(MAP_READ)
        .then(() => {
          const stamps = new BigUint64Array(staging.getMappedRange().slice(0));
          staging.unmap();
          for (let i = 0; i < kernels.length; i++) {
            // Timestamps are in nanoseconds. An implementation may report an end before its
            // beginning when the counter resets, so negative spans count as zero.
            const nanoseconds = Number(stamps[2 * i + 1] - stamps[2 * i]);
            this.add(kernels[i], Math.max(0, nanoseconds) / 1e6);
          }
        })
        .catch((error: Error) => {
          // Destroying the device aborts pending maps. Those dispatches are left out of the
          // profile and counted in lostDispatches, so no rejection goes unhandled.
          this.lostDispatches += kernels.length;
          this.lastError = error.message;
        })
        .finally(() => {
          staging.destroy();
          resolved.destroy();
        });
      this.pending.push(read);
    };
  }

  /** Waits for every readback and returns the kernels by total time, largest first. */
  async report(): Promise<ProfileRow[]> {
    await Promise.all(this.pending.splice(0));
    return [...this.rows.values()].sort((a, b) => b.milliseconds - a.milliseconds);
  }

  /** Forgets the times summed so far, for example after warm-up steps. */
  async reset(): Promise<void> {
    await Promise.all(this.pending.splice(0));
    this.rows.clear();
    this.lostDispatches = 0;
    this.lastError = null;
  }

  /** Releases the query set; readbacks still pending end in `lostDispatches`. */
  destroy(): void {
    this.querySet.destroy();
  }

  private add(kernel: string, milliseconds: number): void {
    const row = this.rows.get(kernel) ?? { kernel, dispatches: 0, milliseconds: 0 };
    row.dispatches++;
    row.milliseconds += milliseconds;
    this.rows.set(kernel, row);
  }
}

/** Formats profile rows as a text table with each kernel's share of the total. */
export function formatProfile(rows: ProfileRow[], limit = 25): string {
  const total = rows.reduce((sum, row) => sum + row.milliseconds, 0);
  const lines = [`GPU time by kernel (${total.toFixed(1)} ms in all):`, '      ms   share  dispatches  kernel'];
  for (const row of rows.slice(0, limit)) {
    const share = total > 0 ? (100 * row.milliseconds) / total : 0;
    lines.push(
      `${row.milliseconds.toFixed(1).padStart(8)}  ${share.toFixed(1).padStart(5)}%  ${String(row.dispatches).padStart(10)}  ${row.kernel}`,
    );
  }
  if (rows.length > limit) lines.push(`  ... ${rows.length - limit} more kernels`);
  return lines.join('\n');
}
