/**
 * Runner-agnostic test cases. A suite is a list of named async cases that use only the engine
 * and the assertions in assert.ts, so the same kernel suite runs under Vitest in Node
 * (tests/node/kernels.test.ts) and in headless Chromium (tests/browser).
 */
export interface Case {
  name: string;
  run: () => Promise<void> | void;
  /** Seconds this case may take; the Node runner's timeout. */
  timeout?: number;
}

export interface Suite {
  name: string;
  cases: Case[];
}

export function suite(name: string, cases: Case[]): Suite {
  const names = new Set<string>();
  for (const c of cases) {
    if (names.has(c.name)) throw new Error(`suite ${name}: duplicate case name "${c.name}"`);
    names.add(c.name);
  }
  return { name, cases };
}
