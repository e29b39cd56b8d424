// `exp:ensemble` end to end on the tiny preset and real Fashion-MNIST: every file of the run
// folder, results.json's fields, accuracy well above chance (10%), the report in headless
// Chromium, and the CLI's handling of bad input (unknown option, existing folder, corrupt
// checkpoint, resume of a finished run).
import { spawnSync } from 'node:child_process';
import { cpSync, existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { findFashionMnistDir } from '../../src/data/node.ts';
import { checkRemovableRunFolder } from '../../src/experiments/run-folder.ts';
import { viewReport } from './report-browser.ts';

const found = findFashionMnistDir({});
const root = join(import.meta.dirname, '..', '..');
const folder = mkdtempSync(join(tmpdir(), 'study-e2e-'));
const run = join(folder, 'run');

function cli(args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['scripts/run.mjs', 'src/experiments/cli.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 280_000 });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('study cli', () => {
  it('unknown option prints error and help', () => {
    const r = cli(['--no-such-option']);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^error: unknown option --no-such-option$/m);
    expect(r.stderr).toMatch(/Usage: npm run exp:ensemble/);
  });

  it('bad option values are reported', () => {
    const cases: [string[], string][] = [
      [['--epochs', '-1'], 'invalid value for --epochs: -1 (expected a positive integer)'],
      [['--epochs=-1'], 'invalid value for --epochs: -1 (expected a positive integer)'],
      [['--epochs', '1.5'], 'invalid value for --epochs: 1.5 (expected a positive integer)'],
      [['--seed', '-3'], 'invalid value for --seed: -3 (expected an integer from 0 to 2^32 - 1)'],
      [['--epochs'], 'missing value for --epochs'],
      [['--out', '--force'], 'missing value for --out'],
      [['--force=yes'], '--force takes no value'],
      [['-x'], 'unknown option -x'],
    ];
    for (const [args, message] of cases) {
      const r = cli([...args, '--out', join(folder, 'never')]);
      expect(r.status, args.join(' ')).toBe(2);
      expect(r.stderr.split('\n')[0], args.join(' ')).toBe(`error: ${message}`);
      expect(r.stderr, args.join(' ')).toMatch(/Usage: npm run exp:ensemble/);
    }
    expect(existsSync(join(folder, 'never'))).toBe(false);
  });

  it('help lists every preset', () => {
    const r = cli(['--help']);
    expect(r.status).toBe(0);
    for (const name of ['paper', 'default', 'tiny']) expect(r.stdout).toMatch(new RegExp(`^  ${name} `, 'm'));
  });

  it('unknown preset is rejected', () => {
    const r = cli(['--preset', 'huge', '--out', join(folder, 'never')]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/unknown preset "huge"; choose one of paper, default, tiny/);
    expect(existsSync(join(folder, 'never'))).toBe(false);
  });
});

describe.skipIf(!found.dir)('study end to end', () => {
  let first: { status: number; stdout: string; stderr: string };
  beforeAll(() => {
    first = cli(['--preset', 'tiny', '--out', run, '--models', 'densenet,vit']);
  }, 300_000);

  it('run succeeds and prints the summary', () => {
    expect(first.status, first.stderr).toBe(0);
    expect(first.stdout).toMatch(/^model\s+accuracy\s+precision\s+recall\s+F1/m);
    expect(first.stdout).toMatch(/^ensemble\s/m);
  });

  it('run folder has every file', () => {
    for (const file of ['config.json', 'results.json', 'report.html', 'figures/examples.png']) expect(existsSync(join(run, file)), file).toBe(true);
    for (const model of ['densenet', 'vit']) {
      for (const file of ['checkpoint.safetensors', 'summary.json', 'predictions.json']) expect(existsSync(join(run, model, file)), `${model}/${file}`).toBe(true);
    }
    const cams = readdirSync(join(run, 'figures')).filter((f) => f.startsWith('gradcam-'));
    expect(cams.some((f) => f.startsWith('gradcam-correct-'))).toBe(true);
    expect(cams.some((f) => f.startsWith('gradcam-confusion-'))).toBe(true);
    expect(readdirSync(run).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('force accepts the run folder', () => {
    expect(() => checkRemovableRunFolder(run, root)).not.toThrow();
  });

  it('results.json has the documented fields', () => {
    const results = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8'));
    expect(results.preset).toBe('tiny');
    expect(typeof results.adapter.name).toBe('string');
    expect(results.wallTimeSeconds).toBeGreaterThan(0);
    expect(results.classSimilarity.matrix).toHaveLength(10);
    expect(results.classSimilarity.topPairs).toHaveLength(5);
    for (const [name, entry] of [['densenet', results.models.densenet], ['vit', results.models.vit], ['ensemble', results.ensemble]]) {
      for (const key of ['accuracy', 'precision', 'recall', 'f1', 'parameters', 'noisyAccuracy', 'noisyDrop']) {
        expect(typeof entry[key], `${name}.${key}`).toBe('number');
      }
      expect(entry.confusionMatrix.flat().reduce((a: number, b: number) => a + b, 0), `${name} confusion total`).toBe(results.testImages);
    }
    expect(results.testImages).toBe(200);
    // Chance is 10%. The tiny models see 400 images for two or three epochs, so the bounds
    // are modest: twice chance for each model, 2.5 times for the ensemble.
    expect(results.models.densenet.accuracy).toBeGreaterThan(0.2);
    expect(results.models.vit.accuracy).toBeGreaterThan(0.2);
    expect(results.ensemble.accuracy).toBeGreaterThan(0.25);
  });

  it('report opens and shows its charts', async () => {
    const view = await viewReport(join(run, 'report.html'), ['dataset', 'confusion', 'noise']);
    expect(view.consoleErrors).toEqual([]);
    expect(view.requests).toEqual([]);
    expect(view.sections).toEqual(['dataset', 'similarity', 'preprocessing', 'models', 'results', 'confusion', 'per-class', 'errors', 'gradcam', 'noise']);
    // Class distribution, similarity, training curves, three confusion matrices, robustness.
    expect(view.svgCount).toBeGreaterThanOrEqual(7);
    for (const id of ['dataset', 'confusion', 'noise']) expect(view.colourBySection[id], `colour in section ${id}`).toBeGreaterThan(0.01);
  }, 120_000);

  it('existing run folder is not overwritten', () => {
    const before = readFileSync(join(run, 'results.json'), 'utf8');
    const r = cli(['--preset', 'tiny', '--out', run]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/already exists; pass --resume to continue it, --force to start over/);
    expect(readFileSync(join(run, 'results.json'), 'utf8')).toBe(before);
  });

  it('resume of finished run trains nothing', () => {
    const r = cli(['--preset', 'tiny', '--out', run, '--models', 'vit', '--resume']);
    expect(r.status, r.stderr).toBe(0);
    expect(r.stdout).toMatch(/vit: resumed from .*checkpoint\.safetensors after epoch 3/);
    expect(r.stdout).not.toMatch(/vit epoch 1\/3/);
    const results = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8'));
    expect(Object.keys(results.models)).toEqual(['densenet', 'vit']);
    expect(results.ensemble).not.toBeNull();
  }, 300_000);

  it('corrupt checkpoint is reported by name', () => {
    const path = join(run, 'vit', 'checkpoint.safetensors');
    writeFileSync(path, 'not a safetensors file');
    const r = cli(['--preset', 'tiny', '--out', run, '--models', 'vit', '--resume']);
    expect(r.status).toBe(1);
    expect(r.stderr).toContain(`checkpoint ${path} is corrupt`);
    expect(r.stderr.split(path).length - 1, 'path occurrences').toBe(1);
  }, 300_000);

  it('ensemble from two run folders', () => {
    // As if each model had been trained on its own machine with --models densenet / --models vit.
    const runA = join(folder, 'a');
    const runB = join(folder, 'b');
    cpSync(join(run, 'densenet'), join(runA, 'densenet'), { recursive: true });
    cpSync(join(run, 'figures'), join(runA, 'figures'), { recursive: true });
    cpSync(join(run, 'vit'), join(runB, 'vit'), { recursive: true });
    const out = join(folder, 'combined');
    const r = cli(['--preset', 'tiny', '--from', `${runA},${runB}`, '--out', out]);
    expect(r.status, r.stderr).toBe(0);
    expect(existsSync(join(out, 'report.html'))).toBe(true);
    const combined = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    const original = JSON.parse(readFileSync(join(run, 'results.json'), 'utf8'));
    expect(combined.ensemble.accuracy).toBe(original.ensemble.accuracy);
    expect(combined.ensemble.confusionMatrix).toEqual(original.ensemble.confusionMatrix);
  }, 300_000);
});
