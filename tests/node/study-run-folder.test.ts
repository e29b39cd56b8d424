// The run-folder checks of `exp:ensemble`. --force deletes only a folder that the study wrote,
// never one with other files and never the current directory or a folder above it. A command
// that fails at start-up leaves no config.json, so the same command can be run again.
import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { checkRemovableRunFolder, isUnusedRunFolder } from '../../src/experiments/run-folder.ts';

const root = join(import.meta.dirname, '..', '..');
const folder = mkdtempSync(join(tmpdir(), 'study-run-folder-'));

function cli(args: string[]): { status: number; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['scripts/run.mjs', 'src/experiments/cli.ts', ...args], { cwd: root, encoding: 'utf8', timeout: 120_000 });
  return { status: result.status ?? -1, stdout: result.stdout, stderr: result.stderr };
}

/** Creates `files` (relative paths) under a new folder `name` and returns its path. */
function makeFolder(name: string, files: string[]): string {
  const path = join(folder, name);
  for (const file of files) {
    mkdirSync(join(path, file, '..'), { recursive: true });
    writeFileSync(join(path, file), 'x');
  }
  mkdirSync(path, { recursive: true });
  return path;
}

afterAll(() => rmSync(folder, { recursive: true, force: true }));

describe('study run folder', () => {
  it('force accepts a run folder', () => {
    const run = makeFolder('run', ['config.json', 'results.json', 'report.html', 'figures/examples.png', 'densenet/summary.json', 'vit/checkpoint.safetensors', '.results.json.123.tmp']);
    expect(() => checkRemovableRunFolder(run, root)).not.toThrow();
  });

  it('force rejects a folder without config.json', () => {
    const other = makeFolder('no-config', ['sub/thesis.txt']);
    expect(() => checkRemovableRunFolder(other, root)).toThrow(/has no config\.json, so it is not a run folder and was not deleted/);
  });

  it('force rejects foreign entries', () => {
    const other = makeFolder('foreign', ['config.json', 'densenet/summary.json', 'thesis.txt', '.thesis.txt.1.tmp']);
    expect(() => checkRemovableRunFolder(other, root)).toThrow(/"thesis\.txt"/);
    expect(() => checkRemovableRunFolder(other, root)).toThrow(/"\.thesis\.txt\.1\.tmp"/);
    expect(() => checkRemovableRunFolder(other, root)).toThrow(/which the study does not write, so it was not deleted/);
  });

  it('force rejects the current directory', () => {
    const run = makeFolder('cwd-run', ['config.json', 'densenet/summary.json']);
    expect(() => checkRemovableRunFolder(run, run)).toThrow(/contains the current directory/);
    expect(() => checkRemovableRunFolder(run, join(run, 'densenet'))).toThrow(/contains the current directory/);
  });

  it('config-only folder counts as unused', () => {
    expect(isUnusedRunFolder(join(folder, 'missing'))).toBe(true);
    expect(isUnusedRunFolder(makeFolder('config-only', ['config.json']))).toBe(true);
    expect(isUnusedRunFolder(makeFolder('started', ['config.json', 'vit/summary.json']))).toBe(false);
  });

  it('cli force keeps foreign files', () => {
    const other = makeFolder('notarun', ['sub/thesis.txt']);
    const r = cli(['--preset', 'tiny', '--out', other, '--force', '--adapter', 'bogus']);
    expect(r.status).toBe(2);
    expect(r.stderr).toContain(`--force: ${other} has no config.json`);
    expect(existsSync(join(other, 'sub', 'thesis.txt'))).toBe(true);
  });

  it('failed start leaves no run', () => {
    const badIdx = makeFolder('bad-idx', ['train-images-idx3-ubyte', 'train-labels-idx1-ubyte', 't10k-images-idx3-ubyte', 't10k-labels-idx1-ubyte']);
    const cases: [string, string[], RegExp][] = [
      ['bogus adapter', ['--adapter', 'bogus'], /bogus/],
      ['missing data', ['--data', join(folder, 'nonexistent')], /nonexistent.* lacks train-images-idx3-ubyte/],
      ['bad IDX file', ['--data', badIdx], /bad-idx.*truncated IDX/],
    ];
    for (const [what, extra, reason] of cases) {
      const out = join(folder, `failed-${what.replace(/ /g, '-')}`);
      for (const attempt of [1, 2]) {
        const r = cli(['--preset', 'tiny', '--out', out, ...extra]);
        expect(r.status, `${what}, attempt ${attempt}`).not.toBe(0);
        expect(r.stderr, `${what}, attempt ${attempt}`).toMatch(reason);
        expect(r.stderr, `${what}, attempt ${attempt}`).not.toMatch(/already exists/);
        expect(existsSync(join(out, 'config.json')), `${what}: config.json after attempt ${attempt}`).toBe(false);
      }
    }
  }, 300_000);

  it('config-only folder is reused', () => {
    const out = makeFolder('left-over', ['config.json']);
    const r = cli(['--preset', 'tiny', '--out', out, '--adapter', 'bogus']);
    expect(r.stderr).toMatch(/bogus/);
    expect(r.stderr).not.toMatch(/already exists/);
  });
});
