/**
 * Checks on the study's run folder before anything is written to it or deleted from it. A run
 * folder contains only the entries that the study writes (see study.ts), so `--force` deletes a
 * folder only when every entry is one of them.
 */
import { existsSync, readdirSync, realpathSync } from 'node:fs';
import { isAbsolute, relative } from 'node:path';
import { MODEL_NAMES } from './presets.ts';

/** Top-level entries that the study writes into a run folder. */
export const RUN_ENTRIES: readonly string[] = ['config.json', 'results.json', 'report.html', 'figures', ...MODEL_NAMES];

/** Temporary files that `writeFileAtomic` leaves when a write is interrupted: `.NAME.PID.tmp`. */
const TEMPORARY_ENTRY = /^\.(.+)\.\d+\.tmp$/;

function isRunEntry(entry: string): boolean {
  const temporary = TEMPORARY_ENTRY.exec(entry);
  return RUN_ENTRIES.includes(temporary ? temporary[1] : entry);
}

/**
 * Returns true when `folder` is missing, empty, or contains only a config.json (left by a
 * command that failed before training started), so a new run may use it without --force.
 */
export function isUnusedRunFolder(folder: string): boolean {
  if (!existsSync(folder)) return true;
  return readdirSync(folder).every((entry) => entry === 'config.json');
}

/**
 * Raises an Error unless `folder` may be deleted by --force: it must contain config.json and
 * nothing but run entries, and must be neither `cwd` nor a folder above it.
 */
export function checkRemovableRunFolder(folder: string, cwd = process.cwd()): void {
  const real = realpathSync(folder);
  const fromFolderToCwd = relative(real, realpathSync(cwd));
  if (fromFolderToCwd === '' || (!fromFolderToCwd.startsWith('..') && !isAbsolute(fromFolderToCwd))) {
    throw new Error(`--force would delete ${folder}, which contains the current directory; pass --out with the run folder itself`);
  }

  const entries = readdirSync(real);
  if (!entries.includes('config.json')) {
    throw new Error(`--force: ${folder} has no config.json, so it is not a run folder and was not deleted; pass --out with a run folder or a new folder`);
  }
  const foreign = entries.filter((entry) => !isRunEntry(entry));
  if (foreign.length > 0) {
    const listed = foreign.slice(0, 5).map((entry) => JSON.stringify(entry)).join(', ') + (foreign.length > 5 ? `, and ${foreign.length - 5} more` : '');
    throw new Error(`--force: ${folder} contains ${listed}, which the study does not write, so it was not deleted; move those entries out or pass --out with another folder`);
  }
}
