// Bundles a TypeScript entry point with esbuild (WGSL inlined as text) into dist/ and runs it
// with the remaining arguments. Used by the npm scripts, so no TypeScript loader is needed.
import { build } from 'esbuild';
import { spawnSync } from 'node:child_process';
import { mkdirSync, renameSync, writeFileSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const [entry, ...args] = process.argv.slice(2);
if (!entry) {
  console.error('usage: node scripts/run.mjs ENTRY.ts [ARGS...]');
  process.exit(2);
}

const outfile = join(root, 'dist', basename(entry).replace(/\.ts$/, '.mjs'));
const bundle = await build({
  entryPoints: [join(root, entry)],
  outfile,
  write: false,
  bundle: true,
  platform: 'node',
  format: 'esm',
  target: 'node20',
  sourcemap: 'inline',
  loader: { '.wgsl': 'text' },
  // The Dawn addon and the benchmark peer stay in node_modules.
  external: ['webgpu', '@tensorflow/*', 'playwright-core'],
  banner: { js: "import { createRequire as __createRequire } from 'node:module'; const require = __createRequire(import.meta.url);" },
  logLevel: 'warning',
});

// Two runs of one entry point (say `--models densenet` and `--models vit` side by side) share
// the output path. Writing a private file and renaming it over the path, which is atomic,
// means neither run can load a bundle the other is halfway through writing.
const partial = `${outfile}.${process.pid}.tmp`;
mkdirSync(dirname(outfile), { recursive: true });
writeFileSync(partial, bundle.outputFiles[0].contents);
renameSync(partial, outfile);
const result = spawnSync(process.execPath, ['--enable-source-maps', outfile, ...args], { stdio: 'inherit' });
process.exit(result.status ?? 1);
