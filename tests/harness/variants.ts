// Forces the reduction strategy of the kernels that have a workgroup and a serial variant
// (src/kernels/strategy.ts), so that a suite can run the same cases on each.
import { reductionConfig } from '../../src/kernels/strategy.ts';

export const STRATEGIES = ['workgroup', 'serial'] as const;
export type Strategy = (typeof STRATEGIES)[number];

/** Runs `body` with every reduction forced to `strategy`, then restores the previous setting. */
export async function withStrategy(strategy: Strategy, body: () => Promise<void>): Promise<void> {
  const previous = reductionConfig.strategy;
  reductionConfig.strategy = strategy;
  try {
    await body();
  } finally {
    reductionConfig.strategy = previous;
  }
}
