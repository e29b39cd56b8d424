/**
 * Vite configuration of the browser demo: `npm run demo` serves it, `npm run build:demo`
 * writes a static site to dist/demo. The page imports the engine straight from src/.
 */
import { defineConfig } from 'vite';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { wgsl } from '../scripts/wgsl-plugin.mjs';
import { serveRuns } from './serve-runs.ts';

const demoDir = dirname(fileURLToPath(import.meta.url));
const repoDir = join(demoDir, '..');

export default defineConfig({
  root: demoDir,
  // Relative asset URLs, so the built site works from any folder of any static server.
  base: './',
  plugins: [wgsl(), serveRuns(join(repoDir, 'runs'))],
  build: {
    outDir: join(repoDir, 'dist', 'demo'),
    emptyOutDir: true,
    target: 'es2022',
  },
  server: {
    // The page's modules live in src/, outside the demo root.
    fs: { allow: [repoDir] },
  },
});
