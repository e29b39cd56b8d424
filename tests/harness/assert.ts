/** Assertions shared by the Node and browser runs of the kernel suites. */

export interface Tolerance {
  atol?: number;
  rtol?: number;
}

/**
 * Checks |actual - expected| <= atol + rtol * |expected| element by element; NaN never passes
 * unless expected is NaN too. The message names the worst element and the shapes.
 */
export function assertClose(actual: ArrayLike<number>, expected: ArrayLike<number>, what: string, tol: Tolerance = {}): void {
  const atol = tol.atol ?? 1e-5;
  const rtol = tol.rtol ?? 1e-4;
  if (actual.length !== expected.length) {
    throw new Error(`${what}: got ${actual.length} values, expected ${expected.length}`);
  }
  let worst = -1;
  let worstExcess = 0;
  let failures = 0;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (Number.isNaN(e) && Number.isNaN(a)) continue;
    const error = Math.abs(a - e);
    const allowed = atol + rtol * Math.abs(e);
    if (!(error <= allowed)) {
      failures++;
      const excess = Number.isNaN(error) ? Infinity : error / allowed;
      if (excess > worstExcess || worst < 0) {
        worst = i;
        worstExcess = excess;
      }
    }
  }
  if (failures > 0) {
    throw new Error(
      `${what}: ${failures} of ${actual.length} values differ (atol ${atol}, rtol ${rtol}); ` +
        `worst at index ${worst}: got ${actual[worst]}, expected ${expected[worst]}`,
    );
  }
}

export function assertEqual<T>(actual: T, expected: T, what: string): void {
  const a = JSON.stringify(actual);
  const e = JSON.stringify(expected);
  if (a !== e) throw new Error(`${what}: got ${a}, expected ${e}`);
}

export function assert(condition: unknown, message: string): asserts condition {
  if (!condition) throw new Error(message);
}

/** Runs `fn` and checks that it throws an error whose message matches `pattern`. */
export async function assertThrows(fn: () => unknown, pattern: RegExp, what: string): Promise<Error> {
  try {
    await fn();
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error);
    if (!pattern.test(message)) throw new Error(`${what}: error "${message}" does not match ${pattern}`);
    return error as Error;
  }
  throw new Error(`${what}: expected an error matching ${pattern}, but nothing was thrown`);
}
