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
  /** Mean seconds per repetition of this engine and of the peer. */
  seconds: number;
  peerSeconds: number | null;
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

/**
 * Mean seconds per call of `step`, which records work; `sync` must wait for all of it (a small
 * readback). Runs `warmup` untimed calls, one timed call to size the batch, then a timed batch.
 */
export async function timeSteps(step: () => void, sync: () => Promise<void>, options: TimingOptions = {}): Promise<number> {
  const warmup = options.warmup ?? 1;
  const target = options.targetSeconds ?? 1;
  const maxReps = options.maxReps ?? 20;
  for (let i = 0; i < warmup; i++) step();
  await sync();

  let start = performance.now();
  step();
  await sync();
  const single = (performance.now() - start) / 1000;
  const reps = Math.max(1, Math.min(maxReps, Math.round(target / Math.max(single, 1e-6))));
  if (reps === 1) return single;

  start = performance.now();
  for (let i = 0; i < reps; i++) step();
  await sync();
  return (performance.now() - start) / 1000 / reps;
}
