/**
 * `npm run bench`: runs the benchmark groups of bench/registry.ts on one adapter, prints a
 * table and optionally writes every measurement to a JSON file.
 */
import { writeFileSync } from 'node:fs';
import { createEngine } from '../src/node.ts';
import { GEMM_VARIANTS, setGemmVariant, type GemmVariant } from '../src/kernels/gemm.ts';
import { groups } from './registry.ts';
import { loadTfjs, type TfjsPeer } from './tfjs.ts';
import type { BenchContext, BenchRecord } from './harness.ts';

const HELP = `usage: npm run bench -- [options]

Times each kernel family on the shapes the models use, beside TensorFlow.js's WebGPU backend
on the same adapter, and prints GFLOP/s (or GB/s) and the ratio.

options:
  --json FILE       write one JSON record per measurement to FILE
  --filter TEXT     run only measurements whose label contains TEXT (e.g. "gemm square")
  --adapter NAME    auto, hardware, lavapipe, swiftshader or part of an adapter name
                    (default: ENGINE_ADAPTER or auto)
  --full            also run the largest shapes on a software adapter
  --no-peer         skip the TensorFlow.js comparison
  --gemm-variant V  force a GEMM variant (tiled, register, register8 or dot) instead of the choice by
                    adapter and shape
  --help            print this help

groups: ${groups.map((g) => `${g.name} (${g.description})`).join('; ')}
`;

interface Options {
  json: string | null;
  filter: string | null;
  adapter: string | undefined;
  full: boolean;
  peer: boolean;
  gemmVariant: GemmVariant | null;
}

function parseArgs(argv: string[]): Options {
  const options: Options = { json: null, filter: null, adapter: undefined, full: false, peer: true, gemmVariant: null };
  const value = (i: number, name: string): string => {
    const v = argv[i + 1];
    if (v === undefined || v.startsWith('--')) fail(`option ${name} needs a value`);
    return v;
  };
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === '--help' || arg === '-h') {
      process.stdout.write(HELP);
      process.exit(0);
    } else if (arg === '--json') options.json = value(i++, arg);
    else if (arg === '--filter') options.filter = value(i++, arg);
    else if (arg === '--adapter') options.adapter = value(i++, arg);
    else if (arg === '--full') options.full = true;
    else if (arg === '--no-peer') options.peer = false;
    else if (arg === '--gemm-variant') {
      const variant = value(i++, arg);
      if (!(variant in GEMM_VARIANTS)) fail(`unknown GEMM variant ${variant}; expected one of ${Object.keys(GEMM_VARIANTS).join(', ')}`);
      options.gemmVariant = variant as GemmVariant;
    }
    else fail(`unknown option ${arg}`);
  }
  return options;
}

function fail(message: string): never {
  process.stderr.write(`bench: ${message}\n\n${HELP}`);
  process.exit(2);
}

function format(value: number | null, digits = 2): string {
  return value === null ? '-' : value.toFixed(digits);
}

const options = parseArgs(process.argv.slice(2));
const engine = await createEngine({ adapter: options.adapter });
setGemmVariant(options.gemmVariant);
const records: BenchRecord[] = [];
let peer: Promise<TfjsPeer | null> | null = null;

const ctx: BenchContext = {
  engine,
  full: options.full,
  peer: () => {
    if (!options.peer) return Promise.resolve(null);
    peer ??= loadTfjs(engine);
    return peer;
  },
  selected: (label) => options.filter === null || label.includes(options.filter),
  record: (r) => {
    records.push(r);
    console.log(
      `${r.kernel.padEnd(8)} ${r.shape.padEnd(72)} ${format(r.value).padStart(8)} ${r.metric}` +
        `   peer ${format(r.peerValue).padStart(8)}   ratio ${format(r.ratio).padStart(5)}` +
        (r.cpuSeconds ? `   (${format((r.value * r.seconds) / r.cpuSeconds)} per CPU-second)` : ''),
    );
  },
};

console.log(`adapter: ${engine.adapter.name} (${engine.adapter.kind}${engine.adapter.isSoftware ? ', software' : ''})`);
try {
  for (const group of groups) await group.run(ctx);
} finally {
  if (options.json) {
    writeFileSync(options.json, JSON.stringify(records, null, 2) + '\n');
    console.error(`[bench] wrote ${records.length} records to ${options.json}`);
  }
  engine.dispose();
}
if (records.length === 0) console.error('[bench] no measurement matched; see --help for the filter');
// TensorFlow.js keeps its own device alive; exit explicitly once everything is written.
process.exit(0);
