// Runs every suite in tests/suites/index.ts (or those named in BROWSER_SUITES) in headless
// Chromium, on the page's WebGPU adapter (SwiftShader on a machine without a GPU), and reports
// one test per case as `browser > SUITE > CASE`. A case fails when it throws or when the page logs a console error
// while it runs. A missing Chromium or WebGPU adapter fails the run, so CI cannot pass without it.
import { existsSync, readFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SourceMap } from 'node:module';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { build } from 'esbuild';
import { chromium, type Browser } from 'playwright-core';
import { afterAll, beforeAll, describe, it } from 'vitest';
import { suites as allSuites } from '../suites/index.ts';
import { caseTimeoutSeconds, drainTimeoutSeconds, selectSuites, type CaseResult, type PageError, type RunEvent } from '../browser/protocol.ts';

const BROWSER_DIR = join(dirname(fileURLToPath(import.meta.url)), '..', 'browser');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SETUP_HINT = 'run: sudo bash scripts/setup.sh (installs Debian\'s chromium, which ships SwiftShader)';

// Playwright already passes --headless, --no-sandbox, --no-first-run and the switches that stop
// background networking, sync and component updates. Chromium 156 on Linux offers no WebGPU
// adapter without --enable-unsafe-webgpu. With it, a machine without a GPU gets SwiftShader.
// --enable-features=Vulkan and --use-angle=swiftshader change nothing here, and a second
// --enable-features would replace the list Playwright passes.
const CHROMIUM_ARGS = ['--enable-unsafe-webgpu'];

// BROWSER_SUITES=gemm,conv2d runs only those suites (comma-separated names).
const SUITE_FILTER = process.env.BROWSER_SUITES ?? '';
const suites = selectSuites(allSuites, SUITE_FILTER);

/** Seconds to wait for the browser to start, load the page and create its engine. */
const STARTUP_TIMEOUT_SECONDS = 120;

interface CaseState {
  suite: string;
  name: string;
  result: Promise<CaseResult>;
  settle: (result: CaseResult) => void;
  consoleErrors: string[];
  /** Set once the case's Vitest test has read its console errors. */
  checked: boolean;
}

const caseKey = (suite: string, name: string) => `${suite} > ${name}`;
const states = new Map<string, CaseState>();
for (const s of suites) {
  for (const c of s.cases) {
    let settle!: (result: CaseResult) => void;
    const result = new Promise<CaseResult>((resolve) => (settle = resolve));
    states.set(caseKey(s.name, c.name), { suite: s.name, name: c.name, result, settle, consoleErrors: [], checked: false });
  }
}

let server: Server | undefined;
let browser: Browser | undefined;
/** Console messages logged before the first case, shown when the page cannot start. */
const startupLog: string[] = [];
/** Console errors that arrived after their case's test had finished. */
const lateErrors: string[] = [];
let currentCase: CaseState | undefined;
let finished!: (results: CaseResult[]) => void;
/** Every case's result, from the page's `done` event. */
const finalResults = new Promise<CaseResult[]>((resolve) => (finished = resolve));

/** Formats the browser time of each suite, slowest first, to show where the run's time goes. */
function formatSuiteTimes(results: CaseResult[]): string {
  const seconds = new Map<string, number>();
  for (const r of results) seconds.set(r.suite, (seconds.get(r.suite) ?? 0) + r.milliseconds / 1000);
  const total = [...seconds.values()].reduce((sum, value) => sum + value, 0);
  const bySuite = [...seconds].sort((a, b) => b[1] - a[1]).map(([suite, value]) => `${suite} ${value.toFixed(1)} s`);
  return `${total.toFixed(1)} s in the browser: ${bySuite.join(', ')}`;
}

function failRemaining(reason: string): void {
  for (const state of states.values()) {
    state.settle({ suite: state.suite, name: state.name, ok: false, error: { name: 'Error', message: reason, stack: '' }, milliseconds: 0 });
  }
}

function onConsoleError(text: string): void {
  if (!currentCase) startupLog.push(`error: ${text}`);
  else if (currentCase.checked) lateErrors.push(text);
  else currentCase.consoleErrors.push(text);
}

/** Bundles the page's entry in memory; platform `browser` rejects any import of a Node module. */
async function bundleEntry(): Promise<{ code: string; sourceMap: SourceMap }> {
  const result = await build({
    entryPoints: [join(BROWSER_DIR, 'entry.ts')],
    // Not written: only names the output, so that the map's sources are relative to BROWSER_DIR.
    outfile: join(BROWSER_DIR, 'entry.js'),
    bundle: true,
    write: false,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    loader: { '.wgsl': 'text' },
    sourcemap: 'external',
    logLevel: 'silent',
  });
  const code = result.outputFiles.find((file) => file.path.endsWith('.js'))!.text;
  const map = result.outputFiles.find((file) => file.path.endsWith('.js.map'))!.text;
  return { code, sourceMap: new SourceMap(JSON.parse(map)) };
}

let sourceMap: SourceMap | undefined;

/** Rewrites the bundle positions in a page stack (`http://127.0.0.1:PORT/entry.js:L:C`) to source files. */
function mapStack(stack: string): string {
  return stack.replace(/http:\/\/127\.0\.0\.1:\d+\/entry\.js:(\d+):(\d+)/g, (frame, line: string, column: string) => {
    const entry = sourceMap?.findEntry(Number(line) - 1, Number(column) - 1);
    if (!entry || !('originalSource' in entry)) return frame;
    return `${resolve(BROWSER_DIR, entry.originalSource)}:${entry.originalLine + 1}:${entry.originalColumn + 1}`;
  });
}

/** Turns an error from the page into a Node error whose stack points at the TypeScript sources. */
function toError(pageError: PageError): Error {
  const error = new Error(pageError.message);
  error.name = pageError.name;
  const frames = pageError.stack.split('\n').filter((line) => /^\s+at /.test(line));
  error.stack = [`${pageError.name}: ${pageError.message}`, ...frames.map(mapStack)].join('\n');
  return error;
}

function serve(files: Record<string, { type: string; body: string }>): Promise<Server> {
  const httpServer = createServer((request, response) => {
    const file = files[new URL(request.url ?? '/', 'http://127.0.0.1').pathname];
    if (!file) {
      response.writeHead(404).end();
      return;
    }
    response.writeHead(200, { 'content-type': file.type, 'cache-control': 'no-store' }).end(file.body);
  });
  return new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', () => resolve(httpServer));
  });
}

function withTimeout<T>(promise: Promise<T>, seconds: number, message: string): Promise<T> {
  let timer: ReturnType<typeof setTimeout> | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => reject(new Error(message)), seconds * 1000);
  });
  return Promise.race([promise, timeout]).finally(() => clearTimeout(timer));
}

async function startBrowserRun(): Promise<void> {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}; ${SETUP_HINT}, or set CHROMIUM_PATH to a Chromium 113 or newer`);
  }
  const bundle = await bundleEntry();
  sourceMap = bundle.sourceMap;
  const page = readFileSync(join(BROWSER_DIR, 'index.html'), 'utf8');
  server = await serve({
    '/': { type: 'text/html; charset=utf-8', body: page },
    '/entry.js': { type: 'text/javascript; charset=utf-8', body: bundle.code },
  });

  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: CHROMIUM_ARGS, timeout: STARTUP_TIMEOUT_SECONDS * 1000 });
  } catch (error) {
    throw new Error(`cannot launch Chromium at ${CHROMIUM_PATH}: ${(error as Error).message}\n${SETUP_HINT}`);
  }
  const version = browser.version();
  browser.on('disconnected', () => failRemaining('Chromium exited before this case ran'));
  const tab = await browser.newPage();

  let planned!: (event: Extract<RunEvent, { type: 'plan' | 'fatal' }>) => void;
  const plan = new Promise<Extract<RunEvent, { type: 'plan' | 'fatal' }>>((resolve) => (planned = resolve));
  await tab.exposeFunction('engineTestReport', (event: RunEvent) => {
    if (event.type === 'plan' || event.type === 'fatal') planned(event);
    if (event.type === 'start') currentCase = states.get(caseKey(event.suite, event.name));
    if (event.type === 'end') states.get(caseKey(event.result.suite, event.result.name))?.settle(event.result);
    if (event.type === 'done') {
      finished(event.results);
      failRemaining('the page finished without running this case');
    }
  });
  tab.on('console', (message) => {
    if (message.type() === 'error') onConsoleError(message.text());
    else if (!currentCase) startupLog.push(`${message.type()}: ${message.text()}`);
  });
  tab.on('pageerror', (error) => onConsoleError(`uncaught ${error.name}: ${error.message}`));
  tab.on('crash', () => failRemaining('the page crashed'));

  const { port } = server.address() as AddressInfo;
  await tab.goto(`http://127.0.0.1:${port}/?suites=${encodeURIComponent(SUITE_FILTER)}`);
  const first = await withTimeout(plan, STARTUP_TIMEOUT_SECONDS, `the test page did not start within ${STARTUP_TIMEOUT_SECONDS} s`);
  if (first.type === 'fatal') {
    const error = toError(first.error);
    error.message =
      `no WebGPU engine in Chromium ${version} (started with ${CHROMIUM_ARGS.join(' ')}): ${error.message}\n` +
      `page console:\n  ${startupLog.join('\n  ') || '(empty)'}\n${SETUP_HINT}`;
    throw error;
  }
  if (startupLog.some((line) => line.startsWith('error:'))) {
    throw new Error(`the test page logged errors while starting:\n  ${startupLog.join('\n  ')}`);
  }
  console.info(`[browser] Chromium ${version}, adapter: ${first.adapter}`);
}

describe('browser', () => {
  beforeAll(startBrowserRun, (STARTUP_TIMEOUT_SECONDS + 30) * 1000);

  afterAll(async () => {
    // The last case's test ends on its `end` event, which the page sends just before `done`.
    const results = await withTimeout(finalResults, 10, 'no results').catch(() => []);
    if (results.length > 0) console.info(`[browser] ${formatSuiteTimes(results)}`);
    await browser?.close();
    await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
    if (lateErrors.length > 0) throw new Error(`console errors after their case ended:\n  ${lateErrors.join('\n  ')}`);
  });

  for (const s of suites) {
    describe(s.name, () => {
      for (const c of s.cases) {
        const seconds = caseTimeoutSeconds(c.timeout);
        it(c.name, async () => {
          const state = states.get(caseKey(s.name, c.name))!;
          const result = await state.result;
          state.checked = true;
          if (result.error) throw toError(result.error);
          if (state.consoleErrors.length > 0) {
            throw new Error(`the page logged console errors during this case:\n  ${state.consoleErrors.join('\n  ')}`);
          }
        }, (seconds + drainTimeoutSeconds(seconds) + 30) * 1000);
      }
    });
  }
});
