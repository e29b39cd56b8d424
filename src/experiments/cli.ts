/**
 * `npm run exp:ensemble` (and exp:densenet, exp:vit): the Fashion-MNIST study end to end on
 * the engine. See `--help` and the README's "The study" section.
 */
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { parseArgs } from 'node:util';
import { createEngine } from '../gpu/node.ts';
import { loadFashionMnist } from '../data/sources-node.ts';
import { writeFileAtomic } from './checkpoint.ts';
import { MODEL_NAMES, PRESETS, getPreset, type ModelName, type Preset } from './presets.ts';
import { checkRemovableRunFolder, isUnusedRunFolder } from './run-folder.ts';
import { readModelFolder, runModelStage, runReportStage, summaryTable } from './study.ts';

const OPTIONS = {
  preset: { type: 'string', default: 'default' },
  models: { type: 'string', default: 'densenet,vit' },
  out: { type: 'string' },
  data: { type: 'string' },
  adapter: { type: 'string' },
  epochs: { type: 'string' },
  seed: { type: 'string', default: '0' },
  from: { type: 'string' },
  resume: { type: 'boolean', default: false },
  force: { type: 'boolean', default: false },
  help: { type: 'boolean', short: 'h', default: false },
} as const;

export function helpText(): string {
  const presets = Object.values(PRESETS).map((p) => `  ${p.name.padEnd(8)} ${p.description}`).join('\n');
  return `Usage: npm run exp:ensemble -- [options]
       node scripts/run.mjs src/experiments/cli.ts [options]

Reproduces the Fashion-MNIST study: trains DenseNet121 and a ViT, evaluates them and their
soft-voting ensemble on the test set (clean and with Gaussian noise), computes Grad-CAM and
writes a run folder with report.html, results.json, checkpoints and figures.

Options:
  --preset NAME     scale of the study (default: default)
  --models LIST     models to train, comma-separated: densenet, vit (default: densenet,vit)
  --out DIR         run folder (default: runs/<preset>, or runs/<preset>-<model> for one model)
  --data DIR        folder with the four Fashion-MNIST IDX files (gzipped or not); otherwise
                    $FASHION_MNIST_DIR, ./data/fashion-mnist, /usr/share/datasets/fashion-mnist,
                    then a download
  --adapter NAME    WebGPU adapter: auto, hardware, lavapipe, swiftshader or part of a name
                    (default: $ENGINE_ADAPTER or auto)
  --epochs N        override the preset's number of epochs for every model
  --seed N          seed of initialisation, data order, subsets and noise (default: 0)
  --resume          continue an interrupted run from its last checkpoints
  --force           delete an existing run folder and start over; only a folder with
                    config.json and nothing but the study's files is deleted
  --from A,B        build the ensemble and the report from run folders A and B (each made with
                    --models densenet or --models vit, same preset and seed); trains nothing
  -h, --help        print this help

Presets:
${presets}
`;
}

interface Args {
  preset: Preset;
  models: ModelName[];
  out: string;
  data?: string;
  adapter?: string;
  seed: number;
  resume: boolean;
  force: boolean;
  from: string[] | null;
}

/**
 * Checks option names and values before `parseArgs` reads them, so errors use this command's
 * wording. Joins a string option and a negative number that follows it (`--epochs -1` becomes
 * `--epochs=-1`), which `parseArgs` would reject as ambiguous, so the value check reports it.
 */
function normaliseArguments(argv: string[]): string[] {
  const out: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const token = argv[i];
    if (token === '--') {
      out.push(...argv.slice(i));
      break;
    }
    if (token.startsWith('--')) {
      const name = token.slice(2).split('=')[0];
      const option = (OPTIONS as Record<string, { type: string }>)[name];
      if (!option) throw new Error(`unknown option --${name}`);
      if (option.type === 'boolean' && token.includes('=')) throw new Error(`--${name} takes no value`);
      if (option.type === 'string' && !token.includes('=')) {
        const value = argv[i + 1];
        if (value === undefined || (value.startsWith('-') && !/^-\.?\d/.test(value))) throw new Error(`missing value for --${name}`);
        out.push(`--${name}=${value}`);
        i++;
        continue;
      }
    } else if (token.startsWith('-') && token !== '-h' && !/^-\.?\d/.test(token)) {
      throw new Error(`unknown option ${token}`);
    }
    out.push(token);
  }
  return out;
}

/** Parses and validates the command line; raises an Error with the reason. */
export function parseCommandLine(argv: string[]): Args | 'help' {
  const args = normaliseArguments(argv);
  let parsed: ReturnType<typeof parseArgs<{ args: string[]; options: typeof OPTIONS; strict: true; allowPositionals: true }>>;
  try {
    parsed = parseArgs({ args, options: OPTIONS, strict: true, allowPositionals: true });
  } catch (error) {
    // A fallback: normaliseArguments rejects every known case first. Keep the first sentence only.
    throw new Error(`invalid command line: ${(error as Error).message.split('. ')[0]}`);
  }
  const { values, positionals } = parsed;
  if (values.help) return 'help';
  if (positionals.length > 0) throw new Error(`unexpected argument ${JSON.stringify(positionals[0])}; options start with --`);
  const preset = getPreset(values.preset);

  const models = values.models.split(',').map((m) => m.trim()).filter(Boolean);
  for (const m of models) {
    if (!(MODEL_NAMES as readonly string[]).includes(m)) throw new Error(`unknown model "${m}" in --models; choose from ${MODEL_NAMES.join(', ')}`);
  }
  if (models.length === 0) throw new Error('--models is empty; give densenet, vit or both');

  const seed = Number(values.seed);
  if (!Number.isInteger(seed) || seed < 0 || seed > 0xffffffff) throw new Error(`invalid value for --seed: ${values.seed} (expected an integer from 0 to 2^32 - 1)`);
  if (values.epochs !== undefined) {
    const epochs = Number(values.epochs);
    if (!Number.isInteger(epochs) || epochs < 1) throw new Error(`invalid value for --epochs: ${values.epochs} (expected a positive integer)`);
    preset.densenet.train.epochs = epochs;
    preset.vit.train.epochs = epochs;
  }
  if (values.resume && values.force) throw new Error('--resume and --force contradict each other; give one');

  const from = values.from ? values.from.split(',').map((p) => p.trim()).filter(Boolean) : null;
  if (from && from.length === 0) throw new Error('--from needs one or more run folders, comma-separated');
  let defaultOut = `runs/${preset.name}`;
  if (from) defaultOut = `runs/${preset.name}-ensemble`;
  else if (models.length === 1) defaultOut = `runs/${preset.name}-${models[0]}`;
  return {
    preset, models: models as ModelName[], out: resolve(values.out ?? defaultOut), data: values.data, adapter: values.adapter,
    seed, resume: values.resume, force: values.force, from,
  };
}

/**
 * Rejects an existing run folder unless --resume or --force is given, and checks that --force
 * may delete it. Changes nothing on disk, so it runs before the engine and the data are loaded.
 */
function checkRunFolder(args: Args): void {
  if (existsSync(args.out) && !statSync(args.out).isDirectory()) throw new Error(`--out ${args.out} is a file, not a folder; pass --out with a folder`);
  if (isUnusedRunFolder(args.out)) return;
  if (args.force) {
    checkRemovableRunFolder(args.out);
  } else if (args.resume) {
    const configPath = join(args.out, 'config.json');
    if (existsSync(configPath)) {
      const previous = JSON.parse(readFileSync(configPath, 'utf8')) as { preset: string; seed: number };
      if (previous.preset !== args.preset.name || previous.seed !== args.seed) {
        throw new Error(`${args.out} contains a run of preset ${previous.preset} with seed ${previous.seed}; resume with the same --preset and --seed, or use --force`);
      }
    }
  } else {
    throw new Error(`run folder ${args.out} already exists; pass --resume to continue it, --force to start over, or --out for another folder`);
  }
}

/**
 * Empties the run folder for --force, creates it and writes config.json. Called only once the
 * engine and the data are ready, so a command that fails at start-up leaves no run behind.
 */
function prepareRunFolder(args: Args): void {
  if (args.force && !isUnusedRunFolder(args.out)) rmSync(args.out, { recursive: true, force: true });
  mkdirSync(args.out, { recursive: true });
  const config = { preset: args.preset.name, models: args.models, seed: args.seed, from: args.from, presetConfig: args.preset };
  writeFileAtomic(join(args.out, 'config.json'), JSON.stringify({ ...config, argv: process.argv.slice(2) }, null, 1));
}

async function main(argv: string[]): Promise<number> {
  let args: Args | 'help';
  try {
    args = parseCommandLine(argv);
  } catch (error) {
    console.error(`error: ${(error as Error).message}\n`);
    console.error(helpText());
    return 2;
  }
  if (args === 'help') {
    console.log(helpText());
    return 0;
  }

  const startedAt = performance.now();
  const log = (line: string) => console.log(line);
  try {
    checkRunFolder(args);
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 2;
  }

  let engine: Awaited<ReturnType<typeof createEngine>>;
  try {
    engine = await createEngine({ adapter: args.adapter });
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  }
  log(`study: preset ${args.preset.name} on ${engine.adapter.name} (${engine.adapter.isSoftware ? 'software' : 'hardware'} adapter); run folder ${args.out}`);
  const interrupted = () => {
    console.error(`\ninterrupted: the last complete checkpoint in ${args.out} is intact; continue with --resume`);
    process.exit(130);
  };
  process.on('SIGINT', interrupted);
  process.on('SIGTERM', interrupted);
  try {
    const data = await loadFashionMnist({ dataDir: args.data, log });
    prepareRunFolder(args);
    if (args.from) {
      const runs = [...new Set(args.from.map((run) => resolve(run)))];
      const folders = runs.flatMap((run) => MODEL_NAMES.map((m) => readModelFolder(run, m)).filter((f) => f !== null));
      for (const m of MODEL_NAMES) {
        const sources = folders.filter((f) => f.stage.model.name === m).map((f) => f.run);
        if (sources.length > 1) throw new Error(`--from: ${m} appears in both ${sources.join(' and ')}; give one run folder per model`);
      }
      if (folders.length === 0) throw new Error(`no model folders (densenet/summary.json or vit/summary.json) in ${args.from.join(', ')}`);
      const presets = new Set(folders.map((f) => f.stage.preset));
      if (presets.size > 1 || !presets.has(args.preset.name)) {
        throw new Error(`--from folders were made with preset(s) ${[...presets].join(', ')}; pass the same --preset (${args.preset.name} was given)`);
      }
      const results = await runReportStage({ preset: args.preset, out: args.out, seed: args.seed, data, folders, startedAt, log });
      log(`\n${summaryTable(results)}\n\nreport: ${join(args.out, 'report.html')}`);
      return 0;
    }

    for (const model of args.models) {
      await runModelStage({ preset: args.preset, out: args.out, seed: args.seed, resume: args.resume, data, log }, model);
    }
    // The report covers every model in the folder, including one trained by an earlier
    // command (a resumed run of one model keeps the other model's results).
    const folders = MODEL_NAMES.map((m) => readModelFolder(args.out, m)).filter((f) => f !== null);
    const results = await runReportStage({ preset: args.preset, out: args.out, seed: args.seed, data, folders, startedAt, log });
    log(`\n${summaryTable(results)}\n\nwall time ${((performance.now() - startedAt) / 1000).toFixed(0)} s on ${engine.adapter.name}; report: ${join(args.out, 'report.html')}`);
    return 0;
  } catch (error) {
    console.error(`error: ${(error as Error).message}`);
    return 1;
  } finally {
    engine.dispose();
  }
}

process.exitCode = await main(process.argv.slice(2));
