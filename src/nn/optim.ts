/**
 * Optimizers with PyTorch's semantics: Adam and AdamW (torch.optim.Adam / AdamW) and SGD with
 * momentum (torch.optim.SGD). Each `step()` runs one fused in-place WGSL update per parameter
 * (shaders/adam.wgsl, shaders/sgd.wgsl) and reads nothing back.
 *
 * Vocabulary, as in PyTorch: `exp_avg` (m) and `exp_avg_sq` (v) are Adam's first and second
 * moment estimates, `momentum_buffer` is SGD's velocity and `step` counts the updates made.
 * `stateEntries()` and `loadState()` move that state to and from a checkpoint under the names
 * `optimizer.state.<parameter>.<exp_avg|exp_avg_sq|momentum_buffer>`.
 */
import adamSource from '../../shaders/adam.wgsl';
import sgdSource from '../../shaders/sgd.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { keep } from '../autograd/scope.ts';
import { zeros, formatShape, type Tensor } from '../autograd/tensor.ts';

const WORKGROUP = 256;

/** Parameters as a module's `namedParameters()` returns them, or a plain list (named by index). */
export type ParameterList = Iterable<Tensor | readonly [string, Tensor]>;

/** One named entry of optimizer state, as stored in a checkpoint. */
export interface StateEntry {
  name: string;
  tensor: Tensor;
}

export interface AdamOptions {
  /** Learning rate (default 1e-3). Change it between steps with `optimizer.lr = ...`. */
  lr?: number;
  /** Coefficients of the moving averages of the gradient and its square (default [0.9, 0.999]). */
  betas?: [number, number];
  /** Added to the denominator after the square root (default 1e-8). */
  eps?: number;
  /** L2 penalty for Adam (added to the gradient), decoupled decay for AdamW (default 0, AdamW 1e-2). */
  weightDecay?: number;
}

export interface SGDOptions {
  lr: number;
  momentum?: number;
  weightDecay?: number;
}

function normalise(params: ParameterList): [string, Tensor][] {
  const out: [string, Tensor][] = [];
  let index = 0;
  for (const item of params) {
    const [name, t] = Array.isArray(item) ? (item as [string, Tensor]) : [String(index), item as Tensor];
    if (t.dtype !== 'f32') throw new Error(`optimizer: parameter ${name} is ${t.dtype}; only f32 parameters can be optimized`);
    out.push([name, t]);
    index++;
  }
  const names = new Set<string>();
  for (const [name] of out) {
    if (names.has(name)) throw new Error(`optimizer: parameter name ${name} appears twice`);
    names.add(name);
  }
  return out;
}

function checkPositive(what: string, value: number, allowZero = false): void {
  if (!Number.isFinite(value) || value < 0 || (!allowZero && value === 0)) {
    throw new Error(`optimizer: invalid ${what} ${value}; expected a ${allowZero ? 'non-negative' : 'positive'} finite number`);
  }
}

/** The parts Adam, AdamW and SGD share: parameters, the step count, state naming. */
export abstract class Optimizer {
  readonly params: [string, Tensor][];
  lr: number;
  /** Updates made so far (PyTorch's `state[p]['step']`, shared by every parameter here). */
  stepCount = 0;
  protected readonly buffers = new Map<string, Tensor>();

  constructor(params: ParameterList, lr: number) {
    this.params = normalise(params);
    if (this.params.length === 0) throw new Error('optimizer: got an empty parameter list');
    checkPositive('learning rate', lr, true);
    this.lr = lr;
  }

  /** Applies one update to every parameter that has a gradient; parameters without one are skipped, as in PyTorch. */
  abstract step(): void;

  /** Frees every parameter's gradient, as PyTorch's `zero_grad(set_to_none=True)`. */
  zeroGrad(): void {
    for (const [, p] of this.params) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /** The state tensors by checkpoint name, plus the step count. */
  get state(): { step: number; entries: StateEntry[] } {
    return { step: this.stepCount, entries: this.stateEntries() };
  }

  stateEntries(): StateEntry[] {
    return [...this.buffers].map(([name, tensor]) => ({ name: `optimizer.state.${name}`, tensor }));
  }

  /**
   * Restores the state written by `stateEntries()`. Every buffer name this optimizer uses must
   * be present with the parameter's shape; an entry for an unknown parameter is an error.
   */
  loadState(step: number, entries: Map<string, { shape: readonly number[]; values: ArrayLike<number> }>): void {
    if (!Number.isInteger(step) || step < 0) throw new Error(`optimizer: invalid step count ${step} in the checkpoint`);
    const problems: string[] = [];
    const expected = this.expectedBufferNames();
    for (const [key, shape] of expected) {
      const entry = entries.get(`optimizer.state.${key}`);
      if (!entry) {
        if (step > 0) problems.push(`missing optimizer.state.${key}`);
      } else if (entry.shape.length !== shape.length || entry.shape.some((d, i) => d !== shape[i])) {
        problems.push(`optimizer.state.${key}: shape ${formatShape(entry.shape)} in the checkpoint, ${formatShape(shape)} in the model`);
      }
    }
    for (const name of entries.keys()) {
      if (name.startsWith('optimizer.state.') && !expected.has(name.slice('optimizer.state.'.length))) problems.push(`unexpected ${name}`);
    }
    if (problems.length > 0) throw new Error(`optimizer state does not match the parameters:\n  ${problems.join('\n  ')}`);

    for (const [key, shape] of expected) {
      const entry = entries.get(`optimizer.state.${key}`);
      if (!entry) continue;
      this.buffer(key, shape).write(entry.values);
    }
    this.stepCount = step;
  }

  /** Frees the state tensors (the parameters belong to the model). */
  dispose(): void {
    for (const t of this.buffers.values()) t.dispose();
    this.buffers.clear();
  }

  /** Buffer names (`<parameter>.<kind>`) and shapes this optimizer keeps. */
  protected abstract expectedBufferNames(): Map<string, readonly number[]>;

  protected buffer(key: string, shape: readonly number[]): Tensor {
    let t = this.buffers.get(key);
    if (!t) {
      t = keep(zeros(shape, { name: key }));
      this.buffers.set(key, t);
    }
    return t;
  }

  protected checkGrad(name: string, p: Tensor): Tensor | null {
    const g = p.grad;
    if (!g) return null;
    if (g.size !== p.size) throw new Error(`optimizer: gradient of ${name} has shape ${formatShape(g.shape)}, parameter has ${formatShape(p.shape)}`);
    return g;
  }
}

/** torch.optim.Adam: weight decay is an L2 term added to the gradient. */
export class Adam extends Optimizer {
  readonly betas: [number, number];
  readonly eps: number;
  weightDecay: number;
  protected readonly decoupled: boolean = false;

  constructor(params: ParameterList, options: AdamOptions = {}, defaultWeightDecay = 0) {
    super(params, options.lr ?? 1e-3);
    this.betas = options.betas ?? [0.9, 0.999];
    this.eps = options.eps ?? 1e-8;
    this.weightDecay = options.weightDecay ?? defaultWeightDecay;
    for (const [i, b] of this.betas.entries()) {
      if (!(b >= 0 && b < 1)) throw new Error(`optimizer: invalid beta${i + 1} ${b}; expected 0 <= beta < 1`);
    }
    checkPositive('eps', this.eps, true);
    checkPositive('weight decay', this.weightDecay, true);
  }

  step(): void {
    this.stepCount++;
    const t = this.stepCount;
    const [beta1, beta2] = this.betas;
    // Bias corrections in float64 on the host, as PyTorch computes them in Python floats.
    const stepSize = this.lr / (1 - beta1 ** t);
    const biasCorrection2Sqrt = Math.sqrt(1 - beta2 ** t);
    const engine = getEngine();

    for (const [name, p] of this.params) {
      const g = this.checkGrad(name, p);
      if (!g || p.size === 0) continue;
      const m = this.buffer(`${name}.exp_avg`, p.shape);
      const v = this.buffer(`${name}.exp_avg_sq`, p.shape);
      engine.dispatch({
        kernel: { family: 'adam', source: adamSource, entry: 'adam', defines: { WORKGROUP } },
        bindings: [p.binding(), g.binding(), m.binding(), v.binding()],
        uniforms: new Uniforms()
          .u32(p.size, this.decoupled ? 1 : 0)
          .f32(this.lr, this.weightDecay, beta1, beta2, this.eps, stepSize, biasCorrection2Sqrt)
          .finish(),
        workgroups: Math.ceil(p.size / WORKGROUP),
      });
    }
  }

  protected expectedBufferNames(): Map<string, readonly number[]> {
    const out = new Map<string, readonly number[]>();
    for (const [name, p] of this.params) {
      out.set(`${name}.exp_avg`, p.shape);
      out.set(`${name}.exp_avg_sq`, p.shape);
    }
    return out;
  }
}

/** torch.optim.AdamW: decoupled weight decay, p *= 1 - lr * weight_decay before the Adam step (default decay 1e-2). */
export class AdamW extends Adam {
  protected override readonly decoupled: boolean = true;

  constructor(params: ParameterList, options: AdamOptions = {}) {
    super(params, options, 1e-2);
  }
}

/** torch.optim.SGD with optional momentum (dampening 0, no Nesterov). */
export class SGD extends Optimizer {
  readonly momentum: number;
  weightDecay: number;

  constructor(params: ParameterList, options: SGDOptions) {
    super(params, options.lr);
    this.momentum = options.momentum ?? 0;
    this.weightDecay = options.weightDecay ?? 0;
    checkPositive('momentum', this.momentum, true);
    checkPositive('weight decay', this.weightDecay, true);
  }

  private placeholder: Tensor | null = null;

  step(): void {
    this.stepCount++;
    const engine = getEngine();
    for (const [name, p] of this.params) {
      const g = this.checkGrad(name, p);
      if (!g || p.size === 0) continue;
      // A parameter's first update with momentum starts its buffer from the gradient, as PyTorch's does.
      const key = `${name}.momentum_buffer`;
      const first = !this.buffers.has(key);
      // Without momentum the kernel never reads the buffer, but the binding must exist, and
      // WebGPU forbids binding one buffer as both read-only and writable storage in a dispatch.
      this.placeholder ??= keep(zeros([1], { name: 'sgd.placeholder' }));
      const buf = this.momentum > 0 ? this.buffer(key, p.shape) : this.placeholder;
      engine.dispatch({
        kernel: { family: 'sgd', source: sgdSource, defines: { WORKGROUP } },
        bindings: [p.binding(), g.binding(), buf.binding()],
        uniforms: new Uniforms().u32(p.size, first ? 1 : 0).f32(this.lr, this.momentum, this.weightDecay).finish(),
        workgroups: Math.ceil(p.size / WORKGROUP),
      });
    }
  }

  override dispose(): void {
    super.dispose();
    this.placeholder?.dispose();
    this.placeholder = null;
  }

  protected expectedBufferNames(): Map<string, readonly number[]> {
    const out = new Map<string, readonly number[]>();
    if (this.momentum > 0) for (const [name, p] of this.params) out.set(`${name}.momentum_buffer`, p.shape);
    return out;
  }
}
