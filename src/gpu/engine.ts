/**
 * The engine: one GPUDevice with its buffer pool, pipeline cache and command batching.
 *
 * Dispatches are recorded into one open command encoder and compute pass. The encoder is
 * submitted every `ENGINE_FLUSH_EVERY` dispatches and at every readback, which is the only
 * point where the host waits for the GPU. Bindings follow one convention in every kernel:
 * storage buffers at bindings 0..n-1 in the order given, then the uniform block at binding n.
 */
import { BufferPool, type PooledBuffer, type PoolStats } from './pool.ts';
import { PipelineCache, type KernelSpec } from './pipelines.ts';
import { DeviceLimitError, GPUExecutionError } from './errors.ts';
import { flags } from './flags.ts';
import { Profiler, type ProfileRow } from './profiler.ts';

/** The adapter the engine runs on, as every program logs it. */
export interface AdapterDescription {
  /** Readable name, e.g. `llvmpipe (Mesa 25.0.7)` or `NVIDIA H200`. */
  name: string;
  vendor: string;
  architecture: string;
  description: string;
  /** True for CPU implementations (lavapipe, SwiftShader, WARP). */
  isSoftware: boolean;
  /** `lavapipe`, `swiftshader`, `hardware` or `browser`. */
  kind: string;
  runtime: 'node' | 'browser';
}

/** A buffer bound to a dispatch: the pooled buffer, the bytes in use and a name for errors. */
export interface Binding {
  entry: PooledBuffer;
  /** Bytes the kernel may touch (the tensor's size, not the size class). */
  byteSize: number;
  name: string;
}

export interface Dispatch {
  kernel: KernelSpec;
  bindings: Binding[];
  uniforms?: ArrayBuffer;
  /** A linear workgroup count (folded into x and y when too large) or an explicit 3-D grid. */
  workgroups: number | [number, number, number];
}

const STORAGE_USAGE = GPUBufferUsageFlags().STORAGE | GPUBufferUsageFlags().COPY_SRC | GPUBufferUsageFlags().COPY_DST;

// GPUBufferUsage is a global in browsers and comes from `globals` in Node. It is read lazily,
// so importing this module does not require it to be installed yet.
function GPUBufferUsageFlags(): typeof GPUBufferUsage {
  return (globalThis as unknown as { GPUBufferUsage: typeof GPUBufferUsage }).GPUBufferUsage ?? {
    MAP_READ: 0x0001, MAP_WRITE: 0x0002, COPY_SRC: 0x0004, COPY_DST: 0x0008, INDEX: 0x0010,
    VERTEX: 0x0020, UNIFORM: 0x0040, STORAGE: 0x0080, INDIRECT: 0x0100, QUERY_RESOLVE: 0x0200,
  };
}

export class Engine {
  readonly pool: BufferPool;
  readonly pipelines: PipelineCache;
  readonly limits: GPUSupportedLimits;

  private encoder: GPUCommandEncoder | null = null;
  private pass: GPUComputePassEncoder | null = null;
  private encoderIndex = 0;
  private dispatchesInEncoder = 0;
  private readonly errors: string[] = [];
  /** Error scopes of ENGINE_SYNC_CHECK dispatches, awaited before errors are raised. */
  private pendingScopes: Promise<void>[] = [];
  private lastLabels: string[] = [];
  private disposed = false;
  /** Dispatches recorded since the engine was created. */
  dispatchCount = 0;
  /** GPU time per kernel, when `ENGINE_PROFILE=1` and the device has `timestamp-query`. */
  readonly profiler: Profiler | null;

  constructor(
    readonly device: GPUDevice,
    readonly adapter: AdapterDescription,
    private readonly onDispose: () => void = () => {},
  ) {
    this.limits = device.limits;
    this.pool = new BufferPool(device, () => this.encoderIndex);
    this.pipelines = new PipelineCache(device);
    this.profiler = flags.ENGINE_PROFILE && device.features.has('timestamp-query') ? new Profiler(device) : null;
    device.addEventListener('uncapturederror', (event) => {
      const error = (event as GPUUncapturedErrorEvent).error;
      this.errors.push(`${error.constructor.name}: ${error.message}`);
    });
  }

  // ---- buffers ---------------------------------------------------------------------------

  /** Takes a storage buffer of at least `byteSize` bytes from the pool. */
  allocate(byteSize: number, name: string): PooledBuffer {
    this.checkBufferSize(byteSize, name);
    return this.pool.acquire(Math.max(4, byteSize), STORAGE_USAGE, name);
  }

  release(entry: PooledBuffer): void {
    this.pool.release(entry);
  }

  /** Rejects a buffer over `maxBufferSize` with its name, its size and the limit. */
  checkBufferSize(byteSize: number, name: string): void {
    if (byteSize > this.limits.maxBufferSize) {
      throw new DeviceLimitError(
        `${name}: ${formatBytes(byteSize)} exceeds this device's maxBufferSize of ${formatBytes(this.limits.maxBufferSize)} ` +
          `(${this.adapter.name}); use a smaller batch or input size`,
      );
    }
  }

  /** Rejects a binding over `maxStorageBufferBindingSize` with its name, its size and the limit. */
  checkBindingSize(byteSize: number, name: string): void {
    if (byteSize > this.limits.maxStorageBufferBindingSize) {
      throw new DeviceLimitError(
        `${name}: ${formatBytes(byteSize)} exceeds this device's maxStorageBufferBindingSize of ` +
          `${formatBytes(this.limits.maxStorageBufferBindingSize)} (${this.adapter.name}); use a smaller batch or input size`,
      );
    }
  }

  /** Copies host data into a buffer at a byte offset. */
  write(entry: PooledBuffer, data: ArrayBufferView, byteOffset = 0): void {
    // A queue write runs before commands still waiting in the open encoder, so a buffer those
    // commands use must not be overwritten until they are submitted.
    if (entry.usedInEncoder === this.encoderIndex) this.flush();
    let bytes = new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
    // writeBuffer needs a multiple of 4 bytes, and Dawn's Node addon crashes on views of a
    // SharedArrayBuffer: both cases go through a plain, padded copy.
    if (bytes.byteLength % 4 !== 0 || !(bytes.buffer instanceof ArrayBuffer)) {
      const copy = new Uint8Array(Math.ceil(bytes.byteLength / 4) * 4);
      copy.set(bytes);
      bytes = copy;
    }
    this.device.queue.writeBuffer(entry.buffer, byteOffset, bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  /** Records a copy between two buffers. */
  copy(src: PooledBuffer, srcOffset: number, dst: PooledBuffer, dstOffset: number, byteSize: number): void {
    const encoder = this.openEncoder();
    this.endPass();
    encoder.copyBufferToBuffer(src.buffer, srcOffset, dst.buffer, dstOffset, byteSize);
    src.usedInEncoder = dst.usedInEncoder = this.encoderIndex;
  }

  /** Records a fill with zeros of `byteSize` bytes (a multiple of 4) from `byteOffset`. */
  clear(entry: PooledBuffer, byteOffset = 0, byteSize = entry.byteSize): void {
    const encoder = this.openEncoder();
    this.endPass();
    encoder.clearBuffer(entry.buffer, byteOffset, byteSize);
    entry.usedInEncoder = this.encoderIndex;
  }

  // ---- dispatch --------------------------------------------------------------------------

  dispatch(d: Dispatch): void {
    if (this.disposed) throw new Error('engine was disposed; create a new one');
    const label = d.kernel.family + '.' + (d.kernel.entry ?? 'main');
    for (const b of d.bindings) this.checkBindingSize(b.byteSize, b.name);
    const grid = this.grid(d.workgroups, label);
    const syncCheck = flags.ENGINE_SYNC_CHECK;
    if (syncCheck) this.device.pushErrorScope('validation');
    const pipeline = this.pipelines.get(d.kernel);

    const entries: GPUBindGroupEntry[] = d.bindings.map((b, i) => ({
      binding: i,
      // Storage bindings must be a multiple of 4 bytes long.
      resource: { buffer: b.entry.buffer, offset: 0, size: Math.max(4, Math.ceil(b.byteSize / 4) * 4) },
    }));
    let uniform: PooledBuffer | null = null;
    if (d.uniforms) {
      uniform = this.pool.acquire(d.uniforms.byteLength, GPUBufferUsageFlags().UNIFORM | GPUBufferUsageFlags().COPY_DST, 'uniforms');
      // The uniform buffer is fresh from the free list, so no pending command reads it.
      this.device.queue.writeBuffer(uniform.buffer, 0, d.uniforms);
      entries.push({ binding: d.bindings.length, resource: { buffer: uniform.buffer, offset: 0, size: d.uniforms.byteLength } });
    }
    const bindGroup = this.device.createBindGroup({ layout: pipeline.getBindGroupLayout(0), entries, label });

    this.openEncoder();
    if (this.profiler) {
      // Each dispatch gets its own pass, whose timestamps bracket it alone.
      if (this.profiler.full) this.flush();
      this.endPass();
      this.pass = this.openEncoder().beginComputePass({ timestampWrites: this.profiler.timestampWrites(d.kernel) });
    }
    const pass = this.openPass();
    pass.setPipeline(pipeline);
    pass.setBindGroup(0, bindGroup);
    pass.dispatchWorkgroups(grid[0], grid[1], grid[2]);

    for (const b of d.bindings) b.entry.usedInEncoder = this.encoderIndex;
    if (uniform) {
      uniform.usedInEncoder = this.encoderIndex;
      this.pool.release(uniform);
    }
    this.dispatchCount++;
    this.lastLabels.push(label);
    if (this.lastLabels.length > 8) this.lastLabels.shift();
    if (++this.dispatchesInEncoder >= flags.ENGINE_FLUSH_EVERY || syncCheck) this.flush();
    if (syncCheck) {
      // The scope covers pipeline, bind group, recording and submission of this dispatch alone.
      const index = this.dispatchCount;
      this.pendingScopes.push(
        this.device.popErrorScope().then((error) => {
          if (error) this.errors.push(`${label} (dispatch ${index}): ${error.message}`);
        }),
      );
    }
  }

  /** Folds a linear workgroup count into x and y, or checks an explicit grid against the limit. */
  grid(workgroups: number | [number, number, number], label: string): [number, number, number] {
    const max = this.limits.maxComputeWorkgroupsPerDimension;
    if (typeof workgroups === 'number') {
      if (workgroups <= max) return [Math.max(1, workgroups), 1, 1];
      const y = Math.ceil(workgroups / max);
      if (y > max) throw new DeviceLimitError(`${label}: ${workgroups} workgroups exceed ${max}x${max}; split the work`);
      // Kernels index with linear_workgroup() and return when past the end, so x * y may
      // overshoot the count.
      return [max, y, 1];
    }
    for (const n of workgroups) {
      if (n > max) {
        throw new DeviceLimitError(
          `${label}: grid ${workgroups.join('x')} exceeds maxComputeWorkgroupsPerDimension ${max}; use a smaller batch or input size`,
        );
      }
    }
    return workgroups.map((n) => Math.max(1, n)) as [number, number, number];
  }

  // ---- submission and readback -----------------------------------------------------------

  /** Submits the open encoder, if any. */
  flush(): void {
    if (!this.encoder) return;
    this.endPass();
    const startReadback = this.profiler?.resolve(this.encoder);
    this.device.queue.submit([this.encoder.finish()]);
    startReadback?.();
    this.encoder = null;
    this.dispatchesInEncoder = 0;
    this.encoderIndex++;
    this.pool.onSubmitted();
  }

  /** Copies `byteSize` bytes from a buffer to the host; waits for every recorded command. */
  async read(entry: PooledBuffer, byteSize: number, byteOffset = 0): Promise<ArrayBuffer> {
    const size = Math.max(4, Math.ceil(byteSize / 4) * 4);
    const staging = this.pool.acquire(size, GPUBufferUsageFlags().MAP_READ | GPUBufferUsageFlags().COPY_DST, 'readback');
    this.copy(entry, byteOffset, staging, 0, size);
    this.flush();
    try {
      await staging.buffer.mapAsync(GPUMapModeFlags().READ, 0, size);
      const bytes = staging.buffer.getMappedRange(0, size).slice(0, byteSize);
      staging.buffer.unmap();
      await this.checkErrors();
      return bytes;
    } catch (error) {
      await this.checkErrors();
      throw error;
    } finally {
      this.pool.release(staging);
    }
  }

  /** Waits until the GPU has finished all submitted work; raises any error it reported. */
  async sync(): Promise<void> {
    this.flush();
    await this.device.queue.onSubmittedWorkDone();
    await this.checkErrors();
  }

  /**
   * Raises compilation and validation errors reported since the last check. A failed shader
   * compilation comes first, because the validation errors that follow it only repeat it.
   */
  async checkErrors(): Promise<void> {
    // Always settled, not only when errors were reported: the device's uncaptured-error events
    // for an invalid pipeline may arrive after the readback that should raise its compile error.
    await this.pipelines.settle();
    const scopes = this.pendingScopes.splice(0);
    await Promise.all(scopes);
    const compile = this.pipelines.compileErrors.shift();
    if (compile) {
      // The invalid pipeline also fails validation where it was used (bind group, pass,
      // submit). Chromium delivers those errors as separate tasks that can come after this
      // readback, so wait for the queue and one more task before dropping them; otherwise they
      // would surface at the next readback as an unrelated GPUExecutionError.
      await this.device.queue.onSubmittedWorkDone();
      await new Promise((resolve) => setTimeout(resolve, 0));
      this.errors.length = 0;
      throw compile;
    }
    if (this.errors.length > 0) {
      const messages = this.errors.splice(0);
      throw new GPUExecutionError(
        `WebGPU reported ${messages.length} error(s); last dispatches: ${this.lastLabels.join(', ')}\n` + messages.join('\n'),
      );
    }
  }

  /**
   * Returns the GPU time per kernel since the engine started or `profile(true)` last reset it.
   * Raises an error unless the engine runs with `ENGINE_PROFILE=1` on a device with timestamps.
   */
  async profile(reset = false): Promise<ProfileRow[]> {
    if (!this.profiler) {
      throw new Error(
        `no GPU profile on ${this.adapter.name}: set ENGINE_PROFILE=1 before the engine starts, on an adapter with the timestamp-query feature`,
      );
    }
    this.flush();
    const rows = await this.profiler.report();
    if (reset) await this.profiler.reset();
    return rows;
  }

  stats(): PoolStats & { pipelines: number; dispatches: number } {
    return { ...this.pool.stats(), pipelines: this.pipelines.size, dispatches: this.dispatchCount };
  }

  /** Destroys the device, so that a Node process can exit on its own. */
  dispose(): void {
    if (this.disposed) return;
    this.flush();
    this.disposed = true;
    this.profiler?.destroy();
    this.device.destroy();
    this.onDispose();
  }

  private openEncoder(): GPUCommandEncoder {
    if (!this.encoder) this.encoder = this.device.createCommandEncoder();
    return this.encoder;
  }

  private openPass(): GPUComputePassEncoder {
    if (!this.pass) this.pass = this.openEncoder().beginComputePass();
    return this.pass;
  }

  private endPass(): void {
    if (this.pass) {
      this.pass.end();
      this.pass = null;
    }
  }
}

function GPUMapModeFlags(): typeof GPUMapMode {
  return (globalThis as unknown as { GPUMapMode: typeof GPUMapMode }).GPUMapMode ?? { READ: 1, WRITE: 2 };
}

export function formatBytes(bytes: number): string {
  if (bytes >= 2 ** 30) return `${(bytes / 2 ** 30).toFixed(2)} GiB (${bytes} bytes)`;
  if (bytes >= 2 ** 20) return `${(bytes / 2 ** 20).toFixed(1)} MiB (${bytes} bytes)`;
  return `${bytes} bytes`;
}

/** Returns every numeric limit the adapter reports, at its maximum, for `requestDevice`. */
export function maximumLimits(adapter: GPUAdapter): Record<string, number> {
  const names = [
    'maxStorageBufferBindingSize', 'maxBufferSize', 'maxComputeWorkgroupStorageSize',
    'maxComputeInvocationsPerWorkgroup', 'maxComputeWorkgroupSizeX', 'maxComputeWorkgroupSizeY',
    'maxComputeWorkgroupSizeZ', 'maxComputeWorkgroupsPerDimension', 'maxStorageBuffersPerShaderStage',
    'maxUniformBufferBindingSize', 'maxBindGroups', 'maxBindingsPerBindGroup',
    'maxUniformBuffersPerShaderStage',
  ];
  const limits: Record<string, number> = {};
  for (const name of names) {
    const value = (adapter.limits as unknown as Record<string, unknown>)[name];
    if (typeof value === 'number') limits[name] = value;
  }
  return limits;
}

/** Returns the device features the profiler needs, when `ENGINE_PROFILE=1` and the adapter has them. */
export function profilingFeatures(adapter: GPUAdapter): GPUFeatureName[] {
  return flags.ENGINE_PROFILE && adapter.features.has('timestamp-query') ? ['timestamp-query'] : [];
}

// ---- the current engine ---------------------------------------------------------------------

let current: Engine | null = null;

/** Returns the engine that ops dispatch to, set by `createEngine()` (Node) or `createBrowserEngine()`. */
export function getEngine(): Engine {
  if (!current) throw new Error('no WebGPU engine: call createEngine() (Node) or createBrowserEngine() first');
  return current;
}

export function setEngine(engine: Engine | null): void {
  current = engine;
}

export function hasEngine(): boolean {
  return current !== null;
}
