/**
 * Debug switches, all in one place. In Node each is read from the environment variable of the
 * same name; in a browser, from `globalThis.ENGINE_FLAGS` or `setFlags()`.
 *
 * - `ENGINE_PRINT_WGSL`: print the WGSL of every pipeline whose cache key contains this
 *   substring when it is compiled (`*` prints all).
 * - `ENGINE_FLUSH_EVERY`: dispatches recorded per command encoder before it is submitted.
 * - `ENGINE_SYNC_CHECK`: when `1`, submit every dispatch on its own inside a validation error
 *   scope, so that the next readback's error names the dispatch that caused it (slow; for
 *   finding the op that failed).
 * - `ENGINE_VERBOSE`: when `1`, log pipeline compilations and buffer pool growth.
 * - `ENGINE_PROFILE`: when `1`, time every dispatch with timestamp queries (see profiler.ts);
 *   read when the engine is created.
 */
export interface Flags {
  ENGINE_PRINT_WGSL: string;
  ENGINE_FLUSH_EVERY: number;
  ENGINE_SYNC_CHECK: boolean;
  ENGINE_VERBOSE: boolean;
  ENGINE_PROFILE: boolean;
}

const defaults: Flags = {
  ENGINE_PRINT_WGSL: '',
  // Large enough that submit overhead is amortised, small enough that the GPU starts early.
  ENGINE_FLUSH_EVERY: 64,
  ENGINE_SYNC_CHECK: false,
  ENGINE_VERBOSE: false,
  ENGINE_PROFILE: false,
};

function readSource(name: string): string | undefined {
  const browserFlags = (globalThis as { ENGINE_FLAGS?: Record<string, unknown> }).ENGINE_FLAGS;
  if (browserFlags && name in browserFlags) return String(browserFlags[name]);
  const env = (globalThis as { process?: { env?: Record<string, string | undefined> } }).process?.env;
  return env?.[name];
}

function parse(): Flags {
  const flags = { ...defaults };
  const wgsl = readSource('ENGINE_PRINT_WGSL');
  if (wgsl !== undefined) flags.ENGINE_PRINT_WGSL = wgsl;
  const flushEvery = readSource('ENGINE_FLUSH_EVERY');
  if (flushEvery !== undefined) {
    const value = Number(flushEvery);
    if (!Number.isInteger(value) || value < 1) {
      throw new Error(`invalid ENGINE_FLUSH_EVERY=${flushEvery}: expected a positive integer`);
    }
    flags.ENGINE_FLUSH_EVERY = value;
  }
  flags.ENGINE_SYNC_CHECK = readSource('ENGINE_SYNC_CHECK') === '1';
  flags.ENGINE_VERBOSE = readSource('ENGINE_VERBOSE') === '1';
  flags.ENGINE_PROFILE = readSource('ENGINE_PROFILE') === '1';
  return flags;
}

export const flags: Flags = parse();

/** Overrides flags at run time, for example from a test fixture; returns the previous values. */
export function setFlags(changes: Partial<Flags>): Partial<Flags> {
  const previous: Partial<Flags> = {};
  for (const key of Object.keys(changes) as (keyof Flags)[]) {
    (previous as Record<string, unknown>)[key] = flags[key];
    (flags as unknown as Record<string, unknown>)[key] = changes[key];
  }
  return previous;
}
