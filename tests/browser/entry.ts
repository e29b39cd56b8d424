/**
 * Browser entry of the kernel suites: creates the engine on the page's WebGPU adapter, runs
 * every case of every suite in tests/suites/index.ts (or of those named by the `suites` query
 * parameter) one after another, and exposes the results as `window.engineTestResults`, in the
 * page's table and as events (protocol.ts).
 */
import { createBrowserEngine, getEngine, hasEngine } from '../../src/index.ts';
import { suites as allSuites } from '../suites/index.ts';
import type { Case } from '../harness/suite.ts';
import { caseTimeoutSeconds, drainTimeoutSeconds, selectSuites, type CaseResult, type PageError, type RunEvent } from './protocol.ts';

declare global {
  interface Window {
    engineTestReport?: (event: RunEvent) => Promise<void> | void;
    engineTestResults?: CaseResult[];
  }
}

async function report(event: RunEvent): Promise<void> {
  await window.engineTestReport?.(event);
}

function toPageError(error: unknown): PageError {
  if (!(error instanceof Error)) return { name: 'Error', message: String(error), stack: '' };
  return { name: error.name, message: error.message, stack: error.stack ?? '' };
}

class CaseTimeoutError extends Error {
  override name = 'CaseTimeoutError';
}

/** Runs one case; a case that exceeds its timeout fails, though its promise keeps running. */
async function runCase(suiteName: string, c: Case): Promise<CaseResult> {
  const seconds = caseTimeoutSeconds(c.timeout);
  const started = performance.now();
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new CaseTimeoutError(`timed out after ${seconds} s in the browser`)), seconds * 1000);
  });
  try {
    await Promise.race([Promise.resolve().then(() => c.run()), timeout]);
    return { suite: suiteName, name: c.name, ok: true, milliseconds: performance.now() - started };
  } catch (error) {
    return { suite: suiteName, name: c.name, ok: false, error: toPageError(error), milliseconds: performance.now() - started };
  } finally {
    clearTimeout(timer);
  }
}

/** Waits up to `seconds` for the queued GPU work; returns whether it finished. */
async function drainQueue(seconds: number): Promise<boolean> {
  if (!hasEngine()) return true;
  let timer: ReturnType<typeof setTimeout> | undefined;
  const limit = new Promise<boolean>((resolve) => {
    timer = setTimeout(() => resolve(false), seconds * 1000);
  });
  // Errors the timed-out case left behind are not the next case's, so they are dropped here.
  const drained = getEngine().sync().then(() => true, () => true);
  try {
    return await Promise.race([drained, limit]);
  } finally {
    clearTimeout(timer);
  }
}

function showResult(table: HTMLTableElement, result: CaseResult): void {
  const row = table.insertRow();
  row.className = result.ok ? 'passed' : 'failed';
  row.insertCell().textContent = result.ok ? 'pass' : 'FAIL';
  row.insertCell().textContent = `${result.suite} > ${result.name}`;
  row.insertCell().textContent = `${result.milliseconds.toFixed(0)} ms`;
  if (result.error) row.insertCell().textContent = `${result.error.name}: ${result.error.message}`;
}

async function main(): Promise<void> {
  const status = document.getElementById('status')!;
  const table = document.getElementById('results') as HTMLTableElement;

  let adapter: string;
  let suites: typeof allSuites;
  try {
    // `?suites=gemm,conv2d` runs only those suites.
    suites = selectSuites(allSuites, new URLSearchParams(location.search).get('suites'));
    const engine = await createBrowserEngine();
    adapter = `${engine.adapter.name} (${engine.adapter.kind}, ${engine.adapter.isSoftware ? 'software' : 'hardware'})`;
  } catch (error) {
    const pageError = toPageError(error);
    status.textContent = `Cannot start: ${pageError.name}: ${pageError.message}`;
    await report({ type: 'fatal', error: pageError });
    return;
  }
  await report({ type: 'plan', adapter, suites: suites.map((s) => ({ name: s.name, cases: s.cases.map((c) => c.name) })) });

  const results: CaseResult[] = [];
  let abandoned: string | undefined;
  for (const s of suites) {
    for (const c of s.cases) {
      status.textContent = `Running ${s.name} > ${c.name} on ${adapter}`;
      await report({ type: 'start', suite: s.name, name: c.name });
      let result: CaseResult;
      if (abandoned) {
        result = { suite: s.name, name: c.name, ok: false, error: { name: 'Error', message: abandoned, stack: '' }, milliseconds: 0 };
      } else {
        result = await runCase(s.name, c);
        // The case's 'end' waits for the drain, so that the next case's time starts when the GPU is free.
        if (result.error?.name === 'CaseTimeoutError') {
          const drainSeconds = drainTimeoutSeconds(caseTimeoutSeconds(c.timeout));
          const drainStarted = performance.now();
          const drained = await drainQueue(drainSeconds);
          result.milliseconds += performance.now() - drainStarted;
          if (!drained) {
            abandoned = `not run: the GPU work of "${s.name} > ${c.name}" was still running ${drainSeconds} s after it timed out`;
          }
        }
      }
      results.push(result);
      showResult(table, result);
      await report({ type: 'end', result });
    }
  }

  const failed = results.filter((r) => !r.ok).length;
  status.textContent = `${results.length - failed} of ${results.length} cases passed on ${adapter}.`;
  window.engineTestResults = results;
  await report({ type: 'done', results });
}

void main();
