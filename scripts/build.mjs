// Bundles the browser entry point (src/index.ts) into dist/engine.js, an ES module with its
// WGSL inlined, for pages that import the engine as a library:
//   import { createBrowserEngine, tensor, ops } from './engine.js';
// The build fails when a Node-only module (a `node:` import, a Node built-in or the Dawn
// addon `webgpu`) is reachable from the entry, naming the file that imports it.
import { build } from 'esbuild';
import { builtinModules } from 'node:module';
import { statSync } from 'node:fs';
import { dirname, join, relative, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');

const NODE_ONLY_PACKAGES = new Set(['webgpu']);

function isNodeOnly(path) {
  if (path.startsWith('node:')) return true;
  const name = path.startsWith('@') ? path.split('/').slice(0, 2).join('/') : path.split('/')[0];
  return builtinModules.includes(name) || NODE_ONLY_PACKAGES.has(name);
}

// Rejects every Node-only import and reports each with its importer, instead of esbuild's
// generic "could not resolve" for the first one.
function rejectNodeModules(entry) {
  return {
    name: 'reject-node-modules',
    setup(pluginBuild) {
      pluginBuild.onResolve({ filter: /.*/ }, (args) => {
        if (args.kind === 'entry-point' || !isNodeOnly(args.path)) return undefined;
        const importer = relative(root, args.importer);
        const text =
          `"${args.path}" is a Node-only module, imported by ${importer}; ` +
          `${relative(root, entry)} must stay browser-safe, so move this import behind src/node.ts`;
        return { errors: [{ text }] };
      });
    },
  };
}

/**
 * Bundles `entry` into `outfile` for browsers; rejects with esbuild's errors (already printed)
 * when an import is Node-only or cannot be resolved.
 */
export async function buildLibrary({ entry = join(root, 'src', 'index.ts'), outfile = join(root, 'dist', 'engine.js'), logLevel = 'warning' } = {}) {
  await build({
    entryPoints: [entry],
    outfile,
    bundle: true,
    platform: 'browser',
    format: 'esm',
    target: 'es2022',
    sourcemap: true,
    loader: { '.wgsl': 'text' },
    plugins: [rejectNodeModules(entry)],
    logLevel,
  });
  return outfile;
}

if (process.argv[1] && fileURLToPath(import.meta.url) === resolve(process.argv[1])) {
  let outfile;
  try {
    outfile = await buildLibrary();
  } catch {
    // esbuild has already printed each error with its location.
    console.error('build failed: dist/engine.js was not written');
    process.exit(1);
  }
  console.log(`wrote ${relative(root, outfile)} (${(statSync(outfile).size / 1024).toFixed(0)} KiB)`);
}
