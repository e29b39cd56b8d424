/**
 * Scopes that free temporaries, as TensorFlow.js's `tidy` does: every tensor created inside
 * `tidy(fn)` is disposed when `fn` returns, except the tensors it returns (which move to the
 * enclosing scope) and those passed to `keep()`. Outside any scope, tensors live until
 * `dispose()`.
 */
import type { Tensor } from './tensor.ts';

const scopes: Set<Tensor>[] = [];

export function trackTensor(t: Tensor): void {
  scopes[scopes.length - 1]?.add(t);
}

/** Removes a tensor from every open scope, so only `dispose()` frees it. */
export function keep<T extends Tensor>(t: T): T {
  for (const scope of scopes) scope.delete(t);
  return t;
}

/** Returns the innermost open scope, or null outside any (see `adopt`). */
export function currentScope(): Set<Tensor> | null {
  return scopes[scopes.length - 1] ?? null;
}

/**
 * Moves a tensor into `scope` (from currentScope()), which frees it when it closes. Returns
 * false, and moves nothing, when that scope has closed already.
 */
export function adopt(scope: Set<Tensor>, t: Tensor): boolean {
  if (!scopes.includes(scope)) return false;
  keep(t);
  scope.add(t);
  return true;
}

type Kept = Tensor | Tensor[] | Record<string, Tensor> | void | number | undefined | null;

function collect(result: unknown, out: Set<Tensor>): void {
  if (result === null || typeof result !== 'object') return;
  if (Array.isArray(result)) {
    for (const item of result) collect(item, out);
  } else if ('storage' in result && 'shape' in result) {
    out.add(result as Tensor);
  } else {
    for (const value of Object.values(result)) collect(value, out);
  }
}

/** Runs `fn` and disposes every tensor it created that it does not return (all of them if it throws). */
export function tidy<T extends Kept | unknown>(fn: () => T): T {
  const scope = new Set<Tensor>();
  scopes.push(scope);
  let result: T;
  try {
    result = fn();
  } catch (error) {
    // Nothing created inside a failed scope can be returned, so none of it is kept.
    scopes.pop();
    for (const t of scope) t.dispose();
    throw error;
  }
  scopes.pop();
  if (result instanceof Promise) {
    throw new Error('tidy() takes a synchronous function: await outside it, or dispose tensors yourself');
  }
  const returned = new Set<Tensor>();
  collect(result, returned);
  for (const t of scope) {
    if (returned.has(t)) trackTensor(t);
    else t.dispose();
  }
  return result;
}

/** Number of open scopes (for tests). */
export function scopeDepth(): number {
  return scopes.length;
}
