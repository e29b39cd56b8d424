// The engine suite (tests/suites/engine.ts) plus what needs Node: a bundled program that never
// calls dispose() must still exit on its own, and the GPU profile, which is set up when the
// engine starts.
import { spawnSync } from 'node:child_process';
import { describe, expect, it } from 'vitest';
import { register } from './register.ts';
import engine from '../suites/engine.ts';

register(engine);

describe('node process', () => {
  it('exits without dispose()', () => {
    const result = spawnSync(process.execPath, ['scripts/run.mjs', 'tests/node/fixtures/exit-without-dispose.ts'], {
      encoding: 'utf8',
      timeout: 60_000,
      env: { ...process.env, ENGINE_ADAPTER: process.env.ENGINE_ADAPTER ?? 'auto' },
    });
    // spawnSync sets error (ETIMEDOUT) and signal when the timeout killed the process.
    expect(result.error?.message ?? null, 'the program should exit within 60 s').toBeNull();
    expect(result.signal, result.stderr).toBeNull();
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('result 1.0000,2.7183,7.3891');
  }, 90_000);
});

function runFixture(name: string, env: Record<string, string>): { status: number | null; stdout: string; stderr: string } {
  const result = spawnSync(process.execPath, ['scripts/run.mjs', `tests/node/fixtures/${name}`], {
    encoding: 'utf8',
    timeout: 60_000,
    env: { ...process.env, ENGINE_ADAPTER: process.env.ENGINE_ADAPTER ?? 'auto', ...env },
  });
  expect(result.error?.message ?? null, 'the program should exit within 60 s').toBeNull();
  return result;
}

describe('GPU profile', () => {
  it('counts dispatches per kernel', (context) => {
    const result = runFixture('profile-kernels.ts', { ENGINE_PROFILE: '1' });
    expect(result.status, result.stderr).toBe(0);
    if (result.stdout.trim() === 'unsupported') context.skip('the adapter has no timestamp-query feature');
    const rows = JSON.parse(result.stdout) as { kernel: string; dispatches: number; milliseconds: number }[];
    const exp = rows.filter((row) => row.kernel.startsWith('unary.'));
    const add = rows.filter((row) => row.kernel.startsWith('binary.'));
    expect(exp.map((row) => row.dispatches)).toEqual([3]);
    expect(add.map((row) => row.dispatches)).toEqual([2]);
    expect(rows.length, result.stdout).toBe(2);
    for (const row of rows) expect(row.milliseconds).toBeGreaterThanOrEqual(0);
  }, 90_000);

  it('raises without ENGINE_PROFILE', () => {
    const result = runFixture('profile-kernels.ts', { ENGINE_PROFILE: '0' });
    expect(result.status, result.stderr).toBe(0);
    expect(result.stdout).toContain('error: no GPU profile');
    expect(result.stdout).toContain('set ENGINE_PROFILE=1');
  }, 90_000);
});
