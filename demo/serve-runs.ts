/**
 * A Vite plugin for `npm run demo` and `vite preview`: serves the study's run folders
 * (`runs/<name>/` in the repository) at `runs/<name>/` beside the page, and `runs/index.json`
 * listing the runs that contain a checkpoint (`<model>/checkpoint.safetensors`), so the page
 * can offer them without copying. The static build does not include them; copy a run folder
 * next to the built page instead.
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

const MODELS = ['densenet', 'vit'];

/** Runs under `runsDir` with at least one model checkpoint, newest first, with the models they have. */
export function listRuns(runsDir: string): { name: string; models: string[] }[] {
  if (!existsSync(runsDir)) return [];
  return readdirSync(runsDir, { withFileTypes: true })
    .filter((entry) => entry.isDirectory() && SAFE_NAME.test(entry.name))
    .map((entry) => {
      const dir = join(runsDir, entry.name);
      const models = MODELS.filter((model) => existsSync(join(dir, model, 'checkpoint.safetensors')));
      return { name: entry.name, models, mtime: statSync(dir).mtimeMs };
    })
    .filter((run) => run.models.length > 0)
    .sort((a, b) => b.mtime - a.mtime)
    .map(({ name, models }) => ({ name, models }));
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
    // Only runs/<name>/<file> and runs/<name>/<model>/<file> with plain names: no traversal
    // out of the runs folder.
    const parts = match[1].split('/');
    if (parts.length < 2 || parts.length > 3 || !parts.every((part) => SAFE_NAME.test(part))) return next();
    const file = join(runsDir, ...parts);
    if (!existsSync(file) || !statSync(file).isFile()) return next();
    const extension = file.slice(file.lastIndexOf('.'));
    response.setHeader('Content-Type', CONTENT_TYPES[extension] ?? 'application/octet-stream');
    response.setHeader('Content-Length', String(statSync(file).size));
    createReadStream(file).pipe(response);
  };
  return {
    name: 'serve-study-runs',
    // Marks the page as served with a run index. A static build lacks the tag, so its page
    // never requests the index, which would fail with a 404 logged as a console error.
    transformIndexHtml: {
      order: 'post',
      handler: (html, context) => (context.server ? html.replace('</head>', `  <meta name="run-index" content="runs/index.json">\n</head>`) : html),
    },
    configureServer(server) {
      server.middlewares.use(middleware);
    },
    configurePreviewServer(server) {
      server.middlewares.use(middleware);
    },
  };
}
