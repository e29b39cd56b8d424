/**
 * Prints the records of `npm run bench -- --json FILE` as a Markdown table, for
 * docs/benchmarks.md: `node scripts/run.mjs bench/table.ts FILE.json [FILE.json ...]`.
 */
import { readFileSync } from 'node:fs';
import type { BenchRecord } from './harness.ts';

const files = process.argv.slice(2);
if (files.length === 0) {
  console.error('usage: node scripts/run.mjs bench/table.ts RESULTS.json [RESULTS.json ...]');
  process.exit(2);
}

const format = (value: number | null | undefined, digits = 2): string => (value === null || value === undefined ? '-' : value.toFixed(digits));

console.log('| kernel | shape | adapter | this engine | per CPU-second | peer | peer value | ratio |');
console.log('|---|---|---|---:|---:|---|---:|---:|');
for (const file of files) {
  const records = JSON.parse(readFileSync(file, 'utf8')) as BenchRecord[];
  for (const r of records) {
    const perCpu = r.cpuSeconds ? (r.value * r.seconds) / r.cpuSeconds : null;
    console.log(
      `| ${r.kernel} | ${r.shape} | ${r.adapter.replace(/\|/g, '/')} | ${format(r.value)} ${r.metric} | ${format(perCpu)} | ` +
        `${r.peer ?? '-'} | ${format(r.peerValue)} | ${format(r.ratio)} |`,
    );
  }
}
