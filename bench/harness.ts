/**
 * Benchmark harness shared by every group: measurement records, timing with warm-up and
 * readback-synchronised repetitions, and the TensorFlow.js peer.
 *
 * A group is a named list of measurements; `bench/registry.ts` lists the groups and
 * `bench/main.ts` runs them. Timings include the submission and one small readback per batch
 * of repetitions, as a training step would see them.
 */
import type { Engine } from '../src/index.ts';

/** One measurement, as written to the `--json` file. */
export interface BenchRecord {
  kernel: string;
  /** Human-readable problem, e.g. `M=1024 N=1024 K=1024`. */
  shape: string;
  adapter: string;
  /** `GFLOP/s` or `GB/s`. */
  metric: string;
  value: number;
  /** The peer engine measured beside it, or null when it could not run. */
  peer: string | null;
  peerValue: number | null;
  /** value / peerValue (above 1: this engine is faster). */
  ratio: number | null;
  /** Mean wall-clock seconds per repetition of this engine and of the peer. */
  seconds: number;
  peerSeconds: number | null;
  /**
   * Mean CPU seconds this process used per repetition of this engine's run. On a software
   * adapter the driver's threads run in this process, so value * seconds / cpuSeconds is the
   * throughput per CPU-second, which depends far less on other processes sharing the cores.
   */
  cpuSeconds?: number;
}

export interface BenchContext {
  engine: Engine;
  /** Runs the largest shapes on software adapters too. */
  full: boolean;
  /** The TensorFlow.js WebGPU peer on the same adapter, loaded on first use; null if unavailable. */
  peer: () => Promise<import('./tfjs.ts').TfjsPeer | null>;
  /** Whether a measurement with this label passes `--filter`. */
  selected: (label: string) => boolean;
  record: (r: BenchRecord) => void;
}

export interface BenchGroup {
  name: string;
  description: string;
  run: (ctx: BenchContext) => Promise<void>;
}

export interface TimingOptions {
  /** Untimed runs first (pipeline compilation, pool warm-up). */
  warmup?: number;
  /** Target seconds of timed work; the repetition count is derived from one timed run. */
  targetSeconds?: number;
  maxReps?: number;
}

export interface Timing {
  /** Mean wall-clock seconds per call. */
  seconds: number;
  /** Mean CPU seconds of this process per call (user and system, every thread). */
  cpuSeconds: number;
}

/**
 * Returns the mean seconds per call of `step`, which records work; `sync` must wait for all of
 * it (a small readback). See `timeStepsWithCpu`.
 */
export async function timeSteps(step: () => void, sync: () => Promise<void>, options: TimingOptions = {}): Promise<number> {
  return (await timeStepsWithCpu(step, sync, options)).seconds;
}

/**
 * Times `step`, which records work; `sync` must wait for all of it (a small readback). Runs
 * `warmup` untimed calls, one timed call to size the batch, then a timed batch.
 */
export async function timeStepsWithCpu(step: () => void, sync: () => Promise<void>, options: TimingOptions = {}): Promise<Timing> {
  const warmup = options.warmup ?? 1;
  const target = options.targetSeconds ?? 1;
  const maxReps = options.maxReps ?? 20;
  for (let i = 0; i < warmup; i++) step();
  await sync();

  let start = performance.now();
  let cpuStart = process.cpuUsage();
  step();
  await sync();
  const single = (performance.now() - start) / 1000;
  const reps = Math.max(1, Math.min(maxReps, Math.round(target / Math.max(single, 1e-6))));
  if (reps === 1) return { seconds: single, cpuSeconds: cpuSecondsSince(cpuStart) };

  start = performance.now();
  cpuStart = process.cpuUsage();
  for (let i = 0; i < reps; i++) step();
  await sync();
  return { seconds: (performance.now() - start) / 1000 / reps, cpuSeconds: cpuSecondsSince(cpuStart) / reps };
}

function cpuSecondsSince(start: NodeJS.CpuUsage): number {
  const used = process.cpuUsage(start);
  return (used.user + used.system) / 1e6;
}

/** Returns `n` seeded values in [-0.5, 0.5) from a linear congruential generator (benchmark inputs). */
export function fillValues(n: number, seed: number): Float32Array {
  const out = new Float32Array(n);
  let state = seed >>> 0;
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = state / 2 ** 32 - 0.5;
  }
  return out;
}
