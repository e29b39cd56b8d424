// Registers a runner-agnostic suite with Vitest; each tests/node/*.test.ts file registers one
// suite, so Vitest spreads suites over its workers.
import { describe, it } from 'vitest';
import type { Suite } from '../harness/suite.ts';

export function register(s: Suite): void {
  describe(s.name, () => {
    for (const c of s.cases) it(c.name, () => c.run(), (c.timeout ?? 60) * 1000);
  });
}
