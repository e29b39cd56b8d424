/**
 * Gradient checking: compares the gradients from `backward()` with central finite differences.
 *
 * The function under test maps inputs to one output tensor; it is reduced to a scalar by a dot
 * product with fixed random weights, L = sum(w * f(x)), so that every output element
 * contributes. For each input element, dL/dx ~ (L(x + eps) - L(x - eps)) / (2 eps), with L
 * evaluated in float64 on the host from the f32 outputs. In f32, eps near 1e-2 balances
 * truncation error against rounding error for inputs of order 1.
 */
import { noGrad } from './tape.ts';
import { tidy } from './scope.ts';
import { Tensor, tensor, formatShape } from './tensor.ts';
import { mul } from './ops/elementwise.ts';
import { sum } from './ops/reduce.ts';

export interface GradcheckOptions {
  eps?: number;
  atol?: number;
  rtol?: number;
  /** Seed of the output weights. */
  seed?: number;
  /** Checks at most this many elements per input, spread evenly (all when omitted). */
  maxElements?: number;
}

export interface GradcheckResult {
  input: number;
  index: number;
  analytic: number;
  numeric: number;
}

function weights(n: number, seed: number): Float32Array {
  let state = seed >>> 0;
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    state = (Math.imul(state, 1664525) + 1013904223) >>> 0;
    out[i] = 0.5 + state / 4294967296;
  }
  return out;
}

async function lossOf(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], w: Float32Array): Promise<number> {
  const out = noGrad(() => tidy(() => fn(...inputs)));
  const values = await out.data();
  out.dispose();
  let total = 0;
  for (let i = 0; i < values.length; i++) total += values[i] * w[i];
  return total;
}

/**
 * Checks every input that requires a gradient; throws with the worst mismatch, and returns
 * the compared pairs.
 */
export async function gradcheck(fn: (...inputs: Tensor[]) => Tensor, inputs: Tensor[], options: GradcheckOptions = {}): Promise<GradcheckResult[]> {
  const eps = options.eps ?? 1e-2;
  const atol = options.atol ?? 1e-2;
  const rtol = options.rtol ?? 1e-2;

  // Analytic gradients.
  for (const x of inputs) {
    x.grad?.dispose();
    x.grad = null;
  }
  const probe = noGrad(() => tidy(() => fn(...inputs)));
  const w = weights(probe.size, options.seed ?? 7);
  const outShape = probe.shape;
  probe.dispose();
  const wTensor = tensor(w, outShape, { name: 'gradcheck weights' });
  tidy(() => {
    const loss = sum(mul(fn(...inputs), wTensor));
    loss.backward();
  });
  wTensor.dispose();

  const results: GradcheckResult[] = [];
  for (let k = 0; k < inputs.length; k++) {
    const x = inputs[k];
    if (!x.requiresGrad) continue;
    if (!x.grad) throw new Error(`gradcheck: input ${k} (${x.name} ${formatShape(x.shape)}) received no gradient`);
    const analytic = await x.grad.data();
    const original = Float32Array.from(await x.data());
    const count = Math.min(x.size, options.maxElements ?? x.size);
    const step = x.size / count;

    for (let j = 0; j < count; j++) {
      const i = Math.floor(j * step);
      const values = Float32Array.from(original);
      values[i] = original[i] + eps;
      x.write(values);
      const plus = await lossOf(fn, inputs, w);
      values[i] = original[i] - eps;
      x.write(values);
      const minus = await lossOf(fn, inputs, w);
      // The step actually taken in f32, not the nominal eps.
      const h = Math.fround(original[i] + eps) - Math.fround(original[i] - eps);
      results.push({ input: k, index: i, analytic: analytic[i], numeric: (plus - minus) / h });
    }
    x.write(original);
  }

  const bad = results.filter((r) => !(Math.abs(r.analytic - r.numeric) <= atol + rtol * Math.abs(r.numeric)));
  if (bad.length > 0) {
    const worst = bad.reduce((a, b) => (Math.abs(a.analytic - a.numeric) > Math.abs(b.analytic - b.numeric) ? a : b));
    throw new Error(
      `gradcheck: ${bad.length} of ${results.length} gradients differ from finite differences (atol ${atol}, rtol ${rtol}); ` +
        `worst: input ${worst.input} (${inputs[worst.input].name}) element ${worst.index}: backward ${worst.analytic}, numeric ${worst.numeric}`,
    );
  }
  return results;
}
