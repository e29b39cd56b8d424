// Every benchmark group, in the order `npm run bench` runs them. Add a group file
// `bench/NAME.ts` exporting a BenchGroup (bench/harness.ts) and one line here.
import type { BenchGroup } from './harness.ts';
import gemm from './gemm.ts';
import data from './data.ts';
import vit from './vit.ts';
import core from './core.ts';
import cnn from './cnn.ts';

export const groups: BenchGroup[] = [
  gemm,
  data,
  vit,
  core,
  cnn,
];
