/**
 * Messages from the browser run of the kernel suites (entry.ts) to the program that drives the
 * page. The page sends each one to `window.engineTestReport(event)` when the driver defined it
 * (tests/node/browser.test.ts does, through Playwright), in this order: one `plan`, then a
 * `start` and an `end` per case, then `done`. A `fatal` event replaces all of them when the
 * engine cannot be created.
 */

/** An error thrown in the page; `stack` lists the frames in the bundle (entry.js). */
export interface PageError {
  name: string;
  message: string;
  stack: string;
}

export interface CaseResult {
  suite: string;
  name: string;
  ok: boolean;
  /** What a failed case threw. */
  error?: PageError;
  milliseconds: number;
}

export type RunEvent =
  | { type: 'plan'; adapter: string; suites: { name: string; cases: string[] }[] }
  | { type: 'start'; suite: string; name: string }
  | { type: 'end'; result: CaseResult }
  | { type: 'done'; results: CaseResult[] }
  | { type: 'fatal'; error: PageError };

/** Seconds a case may take in the browser when it sets no `timeout` (the Node runner's default). */
export const DEFAULT_CASE_TIMEOUT_SECONDS = 60;

/**
 * Factor on each case's timeout in the browser: headroom for Chromium's SwiftShader adapter,
 * which can be slower than the adapter of the Node run.
 */
export const BROWSER_TIMEOUT_SCALE = 2;

/** Returns the seconds a case with this `timeout` may take in the browser. */
export function caseTimeoutSeconds(timeout: number | undefined): number {
  return (timeout ?? DEFAULT_CASE_TIMEOUT_SECONDS) * BROWSER_TIMEOUT_SCALE;
}

/**
 * Returns the seconds the page waits, after a case timed out, for the GPU work that the case
 * left queued: the case's own timeout, and at least a minute. When the queue does not drain in time, the
 * remaining cases fail without running, because each would wait behind that work and time
 * out in turn.
 */
export function drainTimeoutSeconds(caseSeconds: number): number {
  return Math.max(60, caseSeconds);
}

/**
 * Returns the suites whose names are listed in `filter` (comma-separated), or all of them when
 * the filter is empty; raises an error that lists the suites for an unknown name.
 */
export function selectSuites<T extends { name: string }>(all: T[], filter: string | null | undefined): T[] {
  const names = (filter ?? '').split(',').map((name) => name.trim()).filter(Boolean);
  if (names.length === 0) return all;
  for (const name of names) {
    if (!all.some((s) => s.name === name)) {
      throw new Error(`unknown suite "${name}" in the suite filter; choose from ${all.map((s) => s.name).join(', ')}`);
    }
  }
  return all.filter((s) => names.includes(s.name));
}
