import { defineConfig } from 'vitest/config';
import { wgsl } from './scripts/wgsl-plugin.mjs';

export default defineConfig({
  plugins: [wgsl()],
  test: {
    include: ['tests/**/*.test.ts'],
    setupFiles: ['tests/node/setup.ts'],
    // Dawn's addon is safest in child processes; two match the two cores tests are sized for.
    pool: 'forks',
    maxWorkers: 2,
    testTimeout: 60_000,
    hookTimeout: 60_000,
  },
});
