// End-to-end test of the browser demo. It builds the demo with Vite and serves it on 127.0.0.1
// beside checkpoints it writes (models of the study's tiny preset with fixed seeds). Headless
// Chromium classifies a bundled image, and the page's probabilities are compared with the
// ones Node computes from the same checkpoint and image. It saves a screenshot to
// test-results/demo.png and fails on any console error. It also checks the page without
// WebGPU, and the library bundle (scripts/build.mjs) by running the README's example.
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { dirname, extname, join, normalize, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encode as encodePng } from 'fast-png';
import { chromium, type Browser, type Page } from 'playwright-core';
import { build as viteBuild } from 'vite';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { noGrad } from '../../src/autograd/tape.ts';
import { tidy } from '../../src/autograd/scope.ts';
import { encodeCheckpoint, CHECKPOINT_FORMAT, type CheckpointMeta } from '../../src/experiments/checkpoint.ts';
import { softmaxRows } from '../../src/experiments/metrics.ts';
import { getPreset } from '../../src/experiments/presets.ts';
import { Adam } from '../../src/nn/optim.ts';
import { buildModel, readCheckpoint, CHECKPOINT_FORMAT as DEMO_CHECKPOINT_FORMAT, type ModelKind } from '../../demo/lib/checkpoint.ts';
import { classify, transformOne, CHECKPOINT_PATHS, type LoadedRun } from '../../demo/lib/models.ts';
import { toFashionMnist } from '../../demo/lib/image.ts';
import { decodeSample, sampleImage, SAMPLE_FILES } from '../../demo/lib/sample.ts';
import { buildLibrary } from '../../scripts/build.mjs';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const CHROMIUM_PATH = process.env.CHROMIUM_PATH ?? '/usr/bin/chromium';
const SETUP_HINT = 'run: sudo bash scripts/setup.sh (installs Debian\'s chromium, which ships SwiftShader)';
// As in tests/node/browser.test.ts: without this switch Chromium 156 on Linux offers no adapter.
const WEBGPU_ARGS = ['--enable-unsafe-webgpu'];
const TOLERANCE = 1e-4;
/** The bundled image classified: the 8th of the sample. */
const SAMPLE_INDEX = 7;
const PRESET = 'tiny';
const SEEDS: Record<ModelKind, number> = { densenet: 11, vit: 12 };
const PAGE_TIMEOUT_MS = 120_000;

const CONTENT_TYPES: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.map': 'application/json',
};

let workDir: string;
let siteDir: string;
let server: Server | undefined;
let baseUrl: string;
let browser: Browser | undefined;
/** Paths that got a 404 response, named in the console-error messages. */
const notFound: string[] = [];
/** Files served besides the built site, by URL path. */
const extraFiles = new Map<string, Uint8Array>();
/** Node's probabilities for the sample image, per model and for the ensemble. */
let expected: Record<'densenet' | 'vit' | 'ensemble', number[]>;

/** Serves `siteDir` and `extraFiles` on an ephemeral port of 127.0.0.1. */
function serve(): Promise<Server> {
  const httpServer = createServer((request, response) => {
    const path = decodeURIComponent(new URL(request.url ?? '/', 'http://127.0.0.1').pathname);
    const extra = extraFiles.get(path);
    const file = normalize(join(siteDir, path.endsWith('/') ? path + 'index.html' : path));
    let body: Uint8Array | undefined = extra;
    if (!body && file.startsWith(siteDir + sep) && existsSync(file)) body = readFileSync(file);
    if (!body) {
      // Chromium's console message for a 404 omits the URL, so the test reports it from here.
      notFound.push(path);
      response.writeHead(404).end();
      return;
    }
    const type = CONTENT_TYPES[extname(path)] ?? (path.endsWith('/') ? CONTENT_TYPES['.html'] : 'application/octet-stream');
    response.writeHead(200, { 'content-type': type, 'cache-control': 'no-store' }).end(body);
  });
  return new Promise((resolve, reject) => {
    httpServer.once('error', reject);
    httpServer.listen(0, '127.0.0.1', () => resolve(httpServer));
  });
}

/** Writes a study checkpoint of a freshly initialised model (seeded) and returns its bytes. */
async function makeCheckpoint(kind: ModelKind): Promise<Uint8Array> {
  const preset = getPreset(PRESET);
  const model = buildModel(kind, preset, SEEDS[kind]);
  const optimizer = new Adam(model.namedParameters());
  const meta: CheckpointMeta = {
    format: CHECKPOINT_FORMAT,
    model: kind,
    config: { preset, model: kind, seed: SEEDS[kind] },
    epoch: 0,
    step: 0,
    rng: { seed: SEEDS[kind], epoch: 0, step: 0 },
    history: [],
  };
  const bytes = await encodeCheckpoint(model, optimizer, meta);
  for (const entry of optimizer.stateEntries()) entry.tensor.dispose();
  for (const [, t] of model.stateDict()) t.dispose();
  return bytes;
}

/** Opens a page, recording console errors and uncaught exceptions into `errors`. */
async function openPage(target: Browser, url: string, errors: string[]): Promise<Page> {
  const page = await target.newPage({ viewport: { width: 1200, height: 900 } });
  page.on('console', (message) => {
    if (message.type() === 'error') errors.push(message.text());
  });
  page.on('pageerror', (error) => errors.push(`uncaught ${error.name}: ${error.message}`));
  await page.goto(url);
  await page.waitForSelector('body[data-ready="true"]', { timeout: PAGE_TIMEOUT_MS });
  return page;
}

function maxDifference(actual: readonly number[], reference: readonly number[]): number {
  expect(actual).toHaveLength(reference.length);
  return Math.max(...actual.map((v, i) => Math.abs(v - reference[i])));
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM_PATH)) {
    throw new Error(`Chromium not found at ${CHROMIUM_PATH}; ${SETUP_HINT}, or set CHROMIUM_PATH to a Chromium 113 or newer`);
  }
  workDir = mkdtempSync(join(tmpdir(), 'demo-test-'));
  siteDir = join(workDir, 'site');

  // Build the demo as `npm run build:demo` does, into a folder of this test's own.
  await viteBuild({ configFile: join(ROOT, 'demo', 'vite.config.ts'), logLevel: 'warn', build: { outDir: siteDir, emptyOutDir: true } });

  // Checkpoints served beside the page, laid out as a study run folder.
  expect(DEMO_CHECKPOINT_FORMAT).toBe(CHECKPOINT_FORMAT);
  const checkpoints = { densenet: await makeCheckpoint('densenet'), vit: await makeCheckpoint('vit') };
  extraFiles.set(`/checkpoints/test/${CHECKPOINT_PATHS.densenet}`, checkpoints.densenet);
  extraFiles.set(`/checkpoints/test/${CHECKPOINT_PATHS.vit}`, checkpoints.vit);
  extraFiles.set('/checkpoints/test/config.json', new TextEncoder().encode(JSON.stringify({ preset: PRESET, models: ['densenet', 'vit'] })));

  // Node's probabilities: the same checkpoint bytes and sample bytes the page reads.
  const sampleDir = join(ROOT, 'demo', 'public', 'sample');
  const sample = await decodeSample(
    readFileSync(join(sampleDir, SAMPLE_FILES.images)),
    readFileSync(join(sampleDir, SAMPLE_FILES.labels)),
    JSON.parse(readFileSync(join(sampleDir, SAMPLE_FILES.manifest), 'utf8')),
  );
  const densenet = { ...readCheckpoint(checkpoints.densenet, 'densenet.safetensors'), source: 'densenet.safetensors' };
  const vit = { ...readCheckpoint(checkpoints.vit, 'vit.safetensors'), source: 'vit.safetensors' };
  const run: LoadedRun = { name: 'test', densenet, vit, dispose: () => [densenet, vit].forEach((m) => m.dispose()) };
  const image = sampleImage(sample, SAMPLE_INDEX);
  const result = await classify(run, image);
  expected = { densenet: Array.from(result.densenet!), vit: Array.from(result.vit!), ensemble: Array.from(result.ensemble!) };

  // The reloaded model must match the seeded model it was saved from.
  const fresh = buildModel('densenet', getPreset(PRESET), SEEDS.densenet).eval();
  const logits = noGrad(() => tidy(() => fresh.forward(transformOne(image, densenet.input))));
  const freshProbabilities = softmaxRows(await logits.data(), 10);
  logits.dispose();
  for (const [, t] of fresh.stateDict()) t.dispose();
  expect(maxDifference(Array.from(freshProbabilities), expected.densenet)).toBeLessThan(1e-6);
  run.dispose();

  server = await serve();
  baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}/`;
  try {
    browser = await chromium.launch({ executablePath: CHROMIUM_PATH, args: WEBGPU_ARGS, timeout: PAGE_TIMEOUT_MS });
  } catch (error) {
    throw new Error(`cannot launch Chromium at ${CHROMIUM_PATH}: ${(error as Error).message}\n${SETUP_HINT}`);
  }
}, 300_000);

afterAll(async () => {
  await browser?.close();
  await new Promise<void>((resolve) => (server ? server.close(() => resolve()) : resolve()));
  if (workDir) rmSync(workDir, { recursive: true, force: true });
});

describe('demo', () => {
  it('classifies a bundled image like Node', async () => {
    const errors: string[] = [];
    const page = await openPage(browser!, `${baseUrl}?run=checkpoints/test/`, errors);
    expect(await page.getAttribute('#adapter', 'data-status'), await page.textContent('#adapter') ?? '').toBe('ready');
    expect(await page.textContent('#checkpoint-status')).toContain('Loaded');

    await page.click(`[data-sample-index="${SAMPLE_INDEX}"]`);
    await page.waitForSelector('#predictions[data-status="done"], #predictions[data-status="error"]', { timeout: PAGE_TIMEOUT_MS });
    const status = await page.textContent('#predictions-status');
    expect(await page.getAttribute('#predictions', 'data-status'), status ?? '').toBe('done');
    const result = JSON.parse((await page.getAttribute('#predictions', 'data-result'))!) as Record<string, number[]>;

    mkdirSync(join(ROOT, 'test-results'), { recursive: true });
    await page.screenshot({ path: join(ROOT, 'test-results', 'demo.png'), fullPage: true });

    expect(maxDifference(result.densenet, expected.densenet), 'DenseNet121 probabilities').toBeLessThan(TOLERANCE);
    expect(maxDifference(result.vit, expected.vit), 'ViT probabilities').toBeLessThan(TOLERANCE);
    expect(maxDifference(result.ensemble, expected.ensemble), 'ensemble probabilities').toBeLessThan(TOLERANCE);
    expect(await page.textContent('#gradcam-caption')).toContain('Grad-CAM of DenseNet121');

    expect(errors, `console errors (404 for: ${notFound.join(', ') || 'none'})`).toEqual([]);
    await page.close();
  }, PAGE_TIMEOUT_MS * 2);

  it('classifies a drawing and an upload', async () => {
    const errors: string[] = [];
    const page = await openPage(browser!, `${baseUrl}?run=checkpoints/test/`, errors);

    // Draw a stroke, classify it, and check that the result is a distribution.
    await page.click('[data-tab="draw"]');
    const pad = (await page.locator('#draw-canvas').boundingBox())!;
    await page.mouse.move(pad.x + pad.width * 0.3, pad.y + pad.height * 0.2);
    await page.mouse.down();
    await page.mouse.move(pad.x + pad.width * 0.5, pad.y + pad.height * 0.8, { steps: 8 });
    await page.mouse.move(pad.x + pad.width * 0.7, pad.y + pad.height * 0.2, { steps: 8 });
    await page.mouse.up();
    await page.click('#draw-classify');
    await page.waitForSelector('#input-caption:text("Your drawing")');
    await page.waitForSelector('#predictions[data-status="done"], #predictions[data-status="error"]', { timeout: PAGE_TIMEOUT_MS });
    expect(await page.getAttribute('#predictions', 'data-status'), (await page.textContent('#predictions-status')) ?? '').toBe('done');
    const drawn = JSON.parse((await page.getAttribute('#predictions', 'data-result'))!) as Record<string, number[]>;
    expect(drawn.ensemble.reduce((a, b) => a + b, 0)).toBeCloseTo(1, 5);
    expect(drawn.densenet).toHaveLength(10);

    // An upload: a dark shape on a light 60x40 PNG, which the page inverts to light on black.
    const width = 60;
    const height = 40;
    const pixels = new Uint8Array(width * height).fill(230);
    for (let y = 5; y < 35; y++) pixels.fill(20, y * width + 20, y * width + 40);
    await page.click('[data-tab="upload"]');
    await page.setInputFiles('#upload-file', { name: 'shape.png', mimeType: 'image/png', buffer: Buffer.from(encodePng({ width, height, data: pixels, channels: 1 })) });
    await page.waitForSelector('#input-caption:text("Uploaded shape.png")');
    await page.waitForSelector('#predictions[data-status="done"], #predictions[data-status="error"]', { timeout: PAGE_TIMEOUT_MS });
    expect(await page.getAttribute('#predictions', 'data-status'), (await page.textContent('#predictions-status')) ?? '').toBe('done');
    const uploaded = JSON.parse((await page.getAttribute('#predictions', 'data-result'))!) as Record<string, number[]>;
    expect(maxDifference(uploaded.densenet, drawn.densenet), 'the upload is classified, not the drawing').toBeGreaterThan(0);

    expect(errors, `console errors (404 for: ${notFound.join(', ') || 'none'})`).toEqual([]);
    await page.close();
  }, PAGE_TIMEOUT_MS * 2);

  it('explains how to enable WebGPU', async () => {
    const errors: string[] = [];
    const plain = await chromium.launch({ executablePath: CHROMIUM_PATH, timeout: PAGE_TIMEOUT_MS });
    try {
      const page = await openPage(plain, baseUrl, errors);
      expect(await page.isVisible('#no-webgpu')).toBe(true);
      expect(await page.textContent('#no-webgpu')).toContain('--enable-unsafe-webgpu');
      expect(await page.getAttribute('#adapter', 'data-status')).toBe('error');
      expect(await page.isDisabled('#train-start')).toBe(true);
      // The sample still renders without WebGPU.
      expect(await page.locator('#gallery canvas').count()).toBe(100);
      expect(errors, `console errors (404 for: ${notFound.join(', ') || 'none'})`).toEqual([]);
    } finally {
      await plain.close();
    }
  }, PAGE_TIMEOUT_MS * 2);

  it('library bundle runs the README example', async () => {
    const outfile = await buildLibrary({ outfile: join(workDir, 'engine.js') });
    const bundle = readFileSync(outfile, 'utf8');
    expect(bundle).not.toMatch(/from\s*["']node:/);

    // The example is the code block after the README's library-example marker.
    const readme = readFileSync(join(ROOT, 'README.md'), 'utf8');
    const example = /<!-- library-example[^>]*-->\s*```js\n([\s\S]*?)```/.exec(readme)?.[1];
    expect(example, 'README.md has a ```js block after <!-- library-example -->').toBeDefined();
    extraFiles.set('/lib/engine.js', new TextEncoder().encode(bundle));
    extraFiles.set('/lib/example.js', new TextEncoder().encode(example!.replace("'./engine.js'", "'/lib/engine.js'")));
    extraFiles.set('/lib/index.html', new TextEncoder().encode(
      '<!doctype html><link rel="icon" href="data:,"><script type="module">' +
        'try { await import("/lib/example.js"); document.body.dataset.ready = "true"; }' +
        'catch (error) { console.error(String(error)); document.body.dataset.ready = "true"; }</script>',
    ));
    const errors: string[] = [];
    const logs: string[] = [];
    const page = await browser!.newPage();
    page.on('console', (message) => (message.type() === 'error' ? errors : logs).push(message.text()));
    page.on('pageerror', (error) => errors.push(`uncaught ${error.name}: ${error.message}`));
    await page.goto(`${baseUrl}lib/index.html`);
    // The page has no visible content, so wait for the attribute only.
    await page.waitForSelector('body[data-ready="true"]', { state: 'attached', timeout: PAGE_TIMEOUT_MS });
    await page.close();
    expect(errors, 'console errors').toEqual([]);
    // softmax([[4, 5], [10, 11]]) row by row: 1 / (1 + e) and e / (1 + e).
    const numbers = logs.join(' ').match(/\d+\.\d+/g)?.map(Number) ?? [];
    expect(numbers.slice(-4), logs.join('\n')).toHaveLength(4);
    const expectedRow = [1 / (1 + Math.E), Math.E / (1 + Math.E)];
    numbers.slice(-4).forEach((value, i) => expect(value).toBeCloseTo(expectedRow[i % 2], 5));
  }, PAGE_TIMEOUT_MS);

  it('upload is inverted, trimmed and centred', () => {
    // A dark 20x10 rectangle at (30, 40) on a white 100x80 picture.
    const width = 100;
    const height = 80;
    const rgba = new Uint8Array(width * height * 4).fill(255);
    for (let y = 40; y < 50; y++) {
      for (let x = 30; x < 50; x++) rgba.fill(0, 4 * (y * width + x), 4 * (y * width + x) + 3);
    }
    const image = toFashionMnist(rgba, width, height);
    const rowsLit = new Set<number>();
    const columnsLit = new Set<number>();
    for (let i = 0; i < image.length; i++) {
      if (image[i] > 127) {
        rowsLit.add(Math.floor(i / 28));
        columnsLit.add(i % 28);
      }
    }
    // The rectangle's longer side spans the 28 columns; its 14 rows are centred (rows 7 to 20).
    expect(columnsLit.size).toBe(28);
    expect(rowsLit.size).toBe(14);
    expect(Math.min(...rowsLit)).toBe(7);
    expect(image[0]).toBe(0);
    expect(image[14 * 28 + 14]).toBe(255);
  });

  it('blank drawing gives a black image', () => {
    const rgba = new Uint8Array(50 * 50 * 4);
    for (let i = 3; i < rgba.length; i += 4) rgba[i] = 255;
    expect(toFashionMnist(rgba, 50, 50, { invert: false }).every((v) => v === 0)).toBe(true);
  });

  it('library build rejects Node modules', async () => {
    const entry = join(workDir, 'node-only.ts');
    writeFileSync(entry, "import { readFileSync } from 'node:fs';\nexport const read = readFileSync;\n");
    await expect(buildLibrary({ entry, outfile: join(workDir, 'rejected.js'), logLevel: 'silent' })).rejects.toThrow(/node:fs" is a Node-only module/);
  });
});
