// The engine suite (tests/suites/engine.ts) plus what needs Node: a bundled program that never
// calls dispose() must still exit on its own.
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
