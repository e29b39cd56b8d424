/**
 * Learning-rate schedules: pure functions from the 0-based index of the update about to be made
 * to a learning rate, so that a resumed run recomputes the same rate from its step count.
 *
 * - constant: `lr` at every step.
 * - cosine: linear warm-up from `lr / warmupSteps` to `lr` over `warmupSteps` steps (as
 *   torch's LinearLR followed by CosineAnnealingLR), then half a cosine from `lr` down to
 *   `minLr` at `totalSteps`.
 * - warmup: the same linear warm-up, then constant.
 */

export type ScheduleName = 'constant' | 'cosine' | 'warmup';

export interface ScheduleOptions {
  name: ScheduleName;
  /** Peak learning rate. */
  lr: number;
  /** Updates in the whole run (needed by `cosine`). */
  totalSteps?: number;
  /** Updates of linear warm-up (default 0). */
  warmupSteps?: number;
  /** Final learning rate of `cosine` (default 0). */
  minLr?: number;
}

export type Schedule = (step: number) => number;

/** Builds a schedule; rejects options it cannot honour with the value at fault. */
export function makeSchedule(options: ScheduleOptions): Schedule {
  const { name, lr } = options;
  const warmup = options.warmupSteps ?? 0;
  const total = options.totalSteps ?? 0;
  const minLr = options.minLr ?? 0;
  if (!(lr >= 0) || !Number.isFinite(lr)) throw new Error(`schedule: invalid learning rate ${lr}`);
  if (!Number.isInteger(warmup) || warmup < 0) throw new Error(`schedule: invalid warmupSteps ${warmup}; expected a non-negative integer`);

  const warm = (step: number): number | null => (step < warmup ? (lr * (step + 1)) / warmup : null);

  switch (name) {
    case 'constant':
      return () => lr;
    case 'warmup':
      return (step) => warm(step) ?? lr;
    case 'cosine':
      if (!Number.isInteger(total) || total <= warmup) {
        throw new Error(`schedule: cosine needs totalSteps (${total}) greater than warmupSteps (${warmup})`);
      }
      return (step) => {
        const w = warm(step);
        if (w !== null) return w;
        const progress = Math.min(1, (step - warmup) / (total - warmup));
        return minLr + 0.5 * (lr - minLr) * (1 + Math.cos(Math.PI * progress));
      };
    default:
      throw new Error(`schedule: unknown schedule ${String(name)}; expected constant, cosine or warmup`);
  }
}
