/**
 * Figures of the report: charts as vega-lite specifications rendered to SVG by vega in Node
 * (`view.toSVG()`, no canvas needed), and images as PNG (fast-png) embedded as base64 data URLs.
 */
import * as vega from 'vega';
import * as vl from 'vega-lite';
import { encode } from 'fast-png';

/** Renders a vega-lite specification to an SVG string. */
export async function renderChart(spec: vl.TopLevelSpec): Promise<string> {
  const compiled = vl.compile(spec).spec;
  const view = new vega.View(vega.parse(compiled), { renderer: 'none' });
  const svg = await view.toSVG();
  view.finalize();
  return svg;
}

/** Encodes 8-bit pixels (1 channel grey, 3 RGB or 4 RGBA) as PNG bytes. */
export function encodePng(width: number, height: number, pixels: Uint8Array, channels: 1 | 3 | 4): Uint8Array {
  if (pixels.length !== width * height * channels) {
    throw new Error(`encodePng: ${pixels.length} bytes do not fill ${width}x${height} with ${channels} channel(s)`);
  }
  return encode({ width, height, data: pixels, channels, depth: 8 });
}

export function pngDataUrl(png: Uint8Array): string {
  return `data:image/png;base64,${Buffer.from(png).toString('base64')}`;
}

/** Nearest-neighbour enlargement of 8-bit pixels, for small images in the report. */
export function enlarge(pixels: Uint8Array, width: number, height: number, channels: number, factor: number): Uint8Array {
  const out = new Uint8Array(width * factor * height * factor * channels);
  for (let y = 0; y < height * factor; y++) {
    for (let x = 0; x < width * factor; x++) {
      const src = (Math.floor(y / factor) * width + Math.floor(x / factor)) * channels;
      const dst = (y * width * factor + x) * channels;
      for (let c = 0; c < channels; c++) out[dst + c] = pixels[src + c];
    }
  }
  return out;
}

const AXIS_LABELS = { labelLimit: 160 };

/** Returns a bar chart of train and test counts per class. */
export function classDistributionSpec(classNames: readonly string[], train: number[], test: number[]): vl.TopLevelSpec {
  const values = classNames.flatMap((name, c) => [
    { class: name, split: 'train', count: train[c] },
    { class: name, split: 'test', count: test[c] },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Images per class',
    data: { values },
    mark: 'bar',
    width: 360,
    height: 220,
    encoding: {
      x: { field: 'class', type: 'nominal', sort: null, axis: { ...AXIS_LABELS, labelAngle: -40 }, title: null },
      xOffset: { field: 'split' },
      y: { field: 'count', type: 'quantitative', title: 'images' },
      color: { field: 'split', type: 'nominal', scale: { range: ['#4c78a8', '#f58518'] } },
      tooltip: [{ field: 'class' }, { field: 'split' }, { field: 'count' }],
    },
  };
}

/** Returns a heat map of a square matrix with its values printed in the cells. */
export function matrixSpec(title: string, classNames: readonly string[], matrix: number[][], options: { xTitle: string; yTitle: string; format: string; scheme: string }): vl.TopLevelSpec {
  const values = matrix.flatMap((row, i) => row.map((v, j) => ({ row: classNames[i], column: classNames[j], value: v })));
  const max = Math.max(...matrix.flat());
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title,
    data: { values },
    width: 300,
    height: 300,
    encoding: {
      x: { field: 'column', type: 'nominal', sort: null, title: options.xTitle, axis: { ...AXIS_LABELS, labelAngle: -40 } },
      y: { field: 'row', type: 'nominal', sort: null, title: options.yTitle, axis: AXIS_LABELS },
    },
    layer: [
      { mark: 'rect', encoding: { color: { field: 'value', type: 'quantitative', scale: { scheme: options.scheme as 'blues' }, legend: null } } },
      {
        mark: { type: 'text', fontSize: 9 },
        encoding: {
          text: { field: 'value', type: 'quantitative', format: options.format },
          color: { condition: { test: `datum.value > ${0.6 * max}`, value: 'white' }, value: 'black' },
        },
      },
    ],
  };
}

/** Loss and accuracy per epoch for each model. */
export function trainingCurvesSpec(series: { model: string; epoch: number; metric: string; kind: string; value: number }[]): vl.TopLevelSpec {
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Training curves',
    data: { values: series.filter((s) => Number.isFinite(s.value)) },
    facet: { column: { field: 'metric', type: 'nominal', title: null } },
    spec: {
      width: 240,
      height: 180,
      mark: { type: 'line', point: true },
      encoding: {
        x: { field: 'epoch', type: 'quantitative', axis: { tickMinStep: 1 } },
        y: { field: 'value', type: 'quantitative', scale: { zero: false }, title: null },
        color: { field: 'model', type: 'nominal' },
        strokeDash: { field: 'kind', type: 'nominal' },
      },
    },
    resolve: { scale: { y: 'independent' } },
  };
}

/** Grouped bars of clean and noisy accuracy per model. */
export function robustnessSpec(rows: { model: string; clean: number; noisy: number }[]): vl.TopLevelSpec {
  const values = rows.flatMap((r) => [
    { model: r.model, input: 'clean', accuracy: r.clean },
    { model: r.model, input: 'noisy', accuracy: r.noisy },
  ]);
  return {
    $schema: 'https://vega.github.io/schema/vega-lite/v5.json',
    title: 'Accuracy on clean and noisy test images',
    data: { values },
    mark: 'bar',
    width: 260,
    height: 200,
    encoding: {
      x: { field: 'model', type: 'nominal', sort: null, title: null, axis: { labelAngle: 0 } },
      xOffset: { field: 'input' },
      y: { field: 'accuracy', type: 'quantitative', scale: { domain: [0, 1] } },
      color: { field: 'input', type: 'nominal', scale: { range: ['#54a24b', '#e45756'] } },
    },
  };
}
