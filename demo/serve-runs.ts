/**
 * A Vite plugin for `npm run demo` and `vite preview`: serves the study's run folders
 * (`runs/<name>/` in the repository) at `runs/<name>/` beside the page, and `runs/index.json`
 * listing the runs that contain checkpoints, so the page can offer them without copying.
 * The static build does not include them; copy a run folder next to the built page instead.
 */
import { createReadStream, existsSync, readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { Connect, Plugin } from 'vite';

const SAFE_NAME = /^[A-Za-z0-9_][A-Za-z0-9_.-]*$/;
const CONTENT_TYPES: Record<string, string> = {
  '.json': 'application/json',
  '.safetensors': 'application/octet-stream',
  '.png': 'image/png',
  '.html': 'text/html',
};

/** Runs under `runsDir` that contain at least one `.safetensors` file, newest first. */
export function listRuns(runsDir: string): { name: string; files: string[] }[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && SAFE_NAME.test(entry.name))
    .map((entry) => {
      const dir = join(runsDir, entry.name);
      return { name: entry.name, files: readdirSync(dir).filter((f) => SAFE_NAME.test(f)), mtime: statSync(dir).mtimeMs };
    })
    .filter((run) => run.files.some((f) => f.endsWith('.safetensors')))
    .sort((a, b) => b.mtime - a.mtime)
    .map(({ name, files }) => ({ name, files }));
}

export function serveRuns(runsDir: string): Plugin {
  const middleware: Connect.NextHandleFunction = (request, response, next) => {
    const path = decodeURIComponent((request.url ?? '').split('?')[0]);
    const match = /(?:^|\/)runs\/(.*)$/.exec(path);
    if (!match) return next();
    if (match[1] === 'index.json') {
      response.setHeader('Content-Type', 'application/json');
      response.end(JSON.stringify({ runs: listRuns(runsDir) }));
      return;
    }
    // Only runs/<name>/<file> with plain names: no traversal out of the runs folder.
    const parts = match[1].split('/');
    if (parts.length !== 2 || !parts.every((part) => SAFE_NAME.test(part))) return next();
    const file = join(runsDir, parts[0], parts[1]);
    if (!existsSync(file) || !statSync(file).isFile()) return next();
    const extension = file.slice(file.lastIndexOf('.'));
    response.setHeader('Content-Type', CONTENT_TYPES[extension] ?? 'application/octet-stream');
    response.setHeader('Content-Length', String(statSync(file).size));
    createReadStream(file).pipe(response);
  };
  return {
    name: 'serve-study-runs',
    configureServer(server) {
      server.middlewares.use(middleware);
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware);
    },
  };
}
