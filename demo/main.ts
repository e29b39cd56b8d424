/**
 * The demo page: shows the WebGPU adapter, loads a study run's checkpoints, classifies
 * Fashion-MNIST images (bundled sample, upload or drawing) with DenseNet121, the ViT and their
 * ensemble, draws DenseNet121's Grad-CAM, and trains a small model in the page.
 *
 * Once a classification finishes, #predictions carries `data-status="done"` and
 * `data-result` (JSON with every model's probabilities), which the browser test reads.
 */
import { createBrowserEngine, ENABLE_WEBGPU_HINT, type Engine } from '../src/index.ts';
import { toFashionMnist } from './lib/image.ts';
import { CLASS_NAMES, IMAGE_SIZE, fetchSample, sampleImage, type Sample } from './lib/sample.ts';
import { classify, explain, describeRun, loadRunFromFiles, loadRunFromUrl, mergeRuns, type LoadedRun } from './lib/models.ts';
import { trainInPage } from './lib/train.ts';
import { renderBars } from './ui/bars.ts';
import { byId, drawBytes, messageOf, setStatus } from './ui/dom.ts';
import { createDrawingPad } from './ui/draw.ts';
import { renderGallery } from './ui/gallery.ts';
import { createLossChart } from './ui/loss-chart.ts';
import { renderGradCam } from './ui/gradcam.ts';

const pageUrl = new URL(window.location.href);
const sampleUrl = new URL('sample/', pageUrl);

let engine: Engine | null = null;
let run: LoadedRun | null = null;
let sample: Sample | null = null;
/** The image shown and classified last: [28, 28] bytes and a caption. */
let current: { bytes: Uint8Array; caption: string; label?: number } | null = null;

// GPU work runs one job at a time: the autograd tape is global, so a Grad-CAM backward pass
// must not interleave with a training step. Training yields between steps, so a click on an
// image is served within one step.
let gpuQueue: Promise<unknown> = Promise.resolve();
function onGpu<T>(job: () => Promise<T>): Promise<T> {
  const result = gpuQueue.then(job);
  gpuQueue = result.catch(() => undefined);
  return result;
}

// ---- adapter -----------------------------------------------------------------------------

async function startEngine(): Promise<void> {
  const adapterLine = byId('adapter');
  try {
    engine = await createBrowserEngine();
    const { name, isSoftware } = engine.adapter;
    adapterLine.textContent = `WebGPU adapter: ${name} (${isSoftware ? 'software, so expect it to be slow' : 'hardware'})`;
    adapterLine.dataset.status = 'ready';
  } catch (error) {
    adapterLine.textContent = 'No WebGPU adapter: classification and training are disabled.';
    adapterLine.dataset.status = 'error';
    byId('no-webgpu-reason').textContent = messageOf(error).replace(ENABLE_WEBGPU_HINT, '').trim();
    byId('no-webgpu').hidden = false;
    for (const id of ['run-load', 'train-start', 'draw-classify']) byId<HTMLButtonElement>(id).disabled = true;
    byId<HTMLInputElement>('checkpoint-files').disabled = true;
    byId<HTMLInputElement>('run-folder').disabled = true;
    // A warning, not an error: the browser lacks a feature, and the page explains how to enable it.
    console.warn(`WebGPU unavailable: ${messageOf(error)}`);
  }
}

// ---- checkpoints -------------------------------------------------------------------------

/** Runs listed by the index that `npm run demo` serves (demo/serve-runs.ts), as folder URLs. */
async function fetchRunIndex(indexPath: string): Promise<{ label: string; url: string }[]> {
  try {
    const response = await fetch(new URL(indexPath, pageUrl));
    if (!response.ok || !response.headers.get('content-type')?.includes('json')) return [];
    const index = (await response.json()) as { runs: { name: string }[] };
    return index.runs.map(({ name }) => ({ label: `runs/${name}`, url: new URL(`runs/${name}/`, pageUrl).href }));
  } catch (error) {
    console.warn(`the run index ${indexPath} is unreadable, so only ?run= and picked files are offered`, error);
    return [];
  }
}

async function listServedRuns(): Promise<void> {
  const select = byId<HTMLSelectElement>('run-select');
  const requested = pageUrl.searchParams.get('run');
  const options: { label: string; url: string }[] = [];
  if (requested) options.push({ label: requested, url: new URL(requested.endsWith('/') ? requested : requested + '/', pageUrl).href });
  // Only the dev server adds this tag; a static site is given a run with ?run=FOLDER instead.
  const runIndex = document.querySelector<HTMLMetaElement>('meta[name="run-index"]')?.content;
  if (runIndex) options.push(...(await fetchRunIndex(runIndex)));
  if (options.length === 0) return;
  select.replaceChildren(...options.map(({ label, url }) => new Option(label, url)));
  select.disabled = false;
  byId<HTMLButtonElement>('run-load').disabled = engine === null;
  if (requested && engine) await loadRun(() => loadRunFromUrl(options[0].url), options[0].label);
}

/** Loads a run; picked files add to the current run, and a run folder replaces it. */
async function loadRun(load: () => Promise<LoadedRun>, source: string, merge = false): Promise<void> {
  const status = byId('checkpoint-status');
  setStatus(status, `Loading ${source}…`);
  try {
    const loaded = await onGpu(load);
    if (merge) {
      run = mergeRuns(run, loaded);
    } else {
      run?.dispose();
      run = loaded;
    }
    byId('model-list').replaceChildren(...describeRun(run).map((line) => Object.assign(document.createElement('li'), { textContent: line })));
    setStatus(status, `Loaded ${source}.`);
    if (current) await classifyCurrent();
  } catch (error) {
    setStatus(status, `Failed to load ${source}: ${messageOf(error)}`, error);
  }
}

// ---- input -------------------------------------------------------------------------------

function showInput(bytes: Uint8Array, caption: string, label?: number): void {
  current = { bytes, caption, label };
  drawBytes(byId<HTMLCanvasElement>('input-preview'), bytes, IMAGE_SIZE);
  byId('input-caption').textContent = caption;
  void classifyCurrent();
}

async function classifyCurrent(): Promise<void> {
  const predictions = byId('predictions');
  const status = byId('predictions-status');
  if (!current) return;
  if (!engine) return setStatus(status, 'Classification needs WebGPU (see above).');
  if (!run) return setStatus(status, 'Load checkpoints first (section 1).');
  const { bytes, label } = current;
  predictions.dataset.status = 'running';
  setStatus(status, 'Classifying…');
  try {
    const result = await onGpu(() => classify(run!, bytes));
    for (const model of ['densenet', 'vit', 'ensemble'] as const) {
      const figure = predictions.querySelector<HTMLElement>(`figure[data-model="${model}"]`)!;
      figure.hidden = result[model] === undefined;
      renderBars(figure.querySelector('ol')!, result[model] ?? null);
    }
    const summary = result.ensemble ?? result.densenet ?? result.vit!;
    const top = argmax(summary);
    const truth = label === undefined ? '' : ` True class: ${CLASS_NAMES[label]}.`;
    setStatus(status, `Prediction: ${CLASS_NAMES[top]} (${(100 * summary[top]).toFixed(1)}%).${truth}`);
    predictions.dataset.result = JSON.stringify({
      densenet: result.densenet && Array.from(result.densenet),
      vit: result.vit && Array.from(result.vit),
      ensemble: result.ensemble && Array.from(result.ensemble),
    });

    if (run.densenet) {
      const cam = await onGpu(() => explain(run!, bytes));
      renderGradCam(byId<HTMLCanvasElement>('gradcam-canvas'), bytes, cam.map, cam.size);
      byId('gradcam-caption').textContent = `Grad-CAM of DenseNet121 for "${CLASS_NAMES[cam.classIndex]}": red regions raised that class's score most.`;
    }
    predictions.dataset.status = 'done';
  } catch (error) {
    predictions.dataset.status = 'error';
    setStatus(status, `Classification failed: ${messageOf(error)}`, error);
  }
}

function argmax(values: ArrayLike<number>): number {
  let best = 0;
  for (let i = 1; i < values.length; i++) if (values[i] > values[best]) best = i;
  return best;
}

function setUpTabs(): void {
  const tabs = Array.from(document.querySelectorAll<HTMLButtonElement>('[role="tab"]'));
  for (const tab of tabs) {
    tab.addEventListener('click', () => {
      for (const other of tabs) {
        other.setAttribute('aria-selected', String(other === tab));
        document.querySelector<HTMLElement>(`[data-panel="${other.dataset.tab}"]`)!.hidden = other !== tab;
      }
    });
  }
}

function setUpUpload(): void {
  const input = byId<HTMLInputElement>('upload-file');
  input.addEventListener('change', async () => {
    const file = input.files?.[0];
    if (!file) return;
    try {
      const bitmap = await createImageBitmap(file);
      const canvas = new OffscreenCanvas(bitmap.width, bitmap.height);
      const context = canvas.getContext('2d')!;
      context.drawImage(bitmap, 0, 0);
      const { data } = context.getImageData(0, 0, bitmap.width, bitmap.height);
      const invert = byId<HTMLInputElement>('upload-invert').checked ? 'auto' : false;
      showInput(toFashionMnist(data, bitmap.width, bitmap.height, { invert }), `Uploaded ${file.name} (${bitmap.width}x${bitmap.height})`);
    } catch (error) {
      setStatus(byId('predictions-status'), `Cannot read ${file.name} as an image: ${messageOf(error)}`, error);
    }
  });
}

function setUpDrawing(): void {
  const pad = createDrawingPad(byId<HTMLCanvasElement>('draw-canvas'));
  byId('draw-clear').addEventListener('click', () => pad.clear());
  byId('draw-classify').addEventListener('click', () => {
    if (pad.isEmpty()) return setStatus(byId('predictions-status'), 'Draw something first.');
    const { rgba, width, height } = pad.pixels();
    showInput(toFashionMnist(rgba, width, height, { invert: false }), 'Your drawing');
  });
}

// ---- training ----------------------------------------------------------------------------

function setUpTraining(): void {
  const chart = createLossChart(byId<HTMLCanvasElement>('loss-chart'));
  const start = byId<HTMLButtonElement>('train-start');
  const stop = byId<HTMLButtonElement>('train-stop');
  const status = byId('train-status');
  let stopRequested = false;

  stop.addEventListener('click', () => (stopRequested = true));
  start.addEventListener('click', async () => {
    if (!engine || !sample) return;
    const epochs = Number(byId<HTMLInputElement>('train-epochs').value);
    const learningRate = Number(byId<HTMLInputElement>('train-lr').value);
    start.disabled = true;
    stop.disabled = false;
    stopRequested = false;
    chart.reset();
    setStatus(status, 'Compiling kernels and running the first step…');
    try {
      const summary = await trainInPage(sample, { epochs, learningRate }, {
        runStep: (step) => onGpu(step),
        onLoss: (step, loss) => {
          chart.addLoss(step, loss);
          setStatus(status, `Step ${step}: training loss ${loss.toFixed(4)}.`);
        },
        onEpoch: (epoch, step, accuracy, loss) => {
          chart.addAccuracy(step, accuracy);
          setStatus(status, `Epoch ${epoch}/${epochs}: training loss ${loss.toFixed(4)}, test accuracy ${(100 * accuracy).toFixed(0)}% on 20 held-out images.`);
        },
        shouldStop: () => stopRequested,
      });
      setStatus(status, summary);
    } catch (error) {
      setStatus(status, `Training failed: ${messageOf(error)}`, error);
    } finally {
      start.disabled = false;
      stop.disabled = true;
    }
  });
}

// ---- start -------------------------------------------------------------------------------

async function main(): Promise<void> {
  setUpTabs();
  setUpUpload();
  setUpDrawing();
  setUpTraining();
  byId<HTMLInputElement>('checkpoint-files').addEventListener('change', (event) => {
    const files = Array.from((event.target as HTMLInputElement).files ?? []);
    if (files.length > 0) void loadRun(() => loadRunFromFiles(files), files.map((f) => f.name).join(', '), true);
  });
  byId<HTMLInputElement>('run-folder').addEventListener('change', (event) => {
    // A picked folder lists every file below it; the study's checkpoints are <model>/checkpoint.safetensors.
    const files = Array.from((event.target as HTMLInputElement).files ?? []).filter((f) => f.name === 'checkpoint.safetensors');
    const folder = files[0]?.webkitRelativePath.split('/')[0] ?? 'the picked folder';
    if (files.length === 0) {
      setStatus(byId('checkpoint-status'), `No <model>/checkpoint.safetensors found in ${folder}; pick a run folder the study wrote.`, `no checkpoint in ${folder}`);
      return;
    }
    void loadRun(() => loadRunFromFiles(files), folder);
  });
  byId('run-load').addEventListener('click', () => {
    const select = byId<HTMLSelectElement>('run-select');
    if (select.value) void loadRun(() => loadRunFromUrl(select.value), select.selectedOptions[0].text);
  });

  await startEngine();
  try {
    sample = await fetchSample(sampleUrl);
    renderGallery(byId('gallery'), sample, (i) => showInput(sampleImage(sample!, i), `${CLASS_NAMES[sample!.labels[i]]}, test image ${sample!.testIndices[i]}`, sample!.labels[i]));
  } catch (error) {
    setStatus(byId('predictions-status'), `Failed to load the bundled sample: ${messageOf(error)}`, error);
  }
  await listServedRuns();
  document.body.dataset.ready = 'true';
}

void main();
