// Every runner-agnostic suite, for the browser run (tests/browser).
import elementwise from './elementwise.ts';

export const suites = [elementwise];
