/**
 * Module and parameters, as in PyTorch: a module owns named parameters (tensors that require
 * gradients), buffers (state without gradients, such as batchnorm's running statistics) and
 * child modules. Names are dotted paths in registration order, so a model's state dict uses
 * the same names as the torchvision or timm model it mirrors.
 */
import { keep } from '../autograd/scope.ts';
import { Tensor, tensor, formatShape, type Shape } from '../autograd/tensor.ts';

/** Creates a parameter: a kept tensor that requires a gradient. */
export function parameter(values: ArrayLike<number>, shape: Shape, name: string): Tensor {
  const t = keep(tensor(values, shape, { name, requiresGrad: true }));
  return t;
}

/** Creates a buffer: a kept tensor without gradient. */
export function buffer(values: ArrayLike<number>, shape: Shape, name: string): Tensor {
  return keep(tensor(values, shape, { name }));
}

export abstract class Module {
  training = true;
  private readonly ownParameters = new Map<string, Tensor>();
  private readonly ownBuffers = new Map<string, Tensor>();
  private readonly children = new Map<string, Module>();

  protected registerParameter(name: string, t: Tensor): Tensor {
    this.ownParameters.set(name, t);
    return t;
  }

  protected registerBuffer(name: string, t: Tensor): Tensor {
    this.ownBuffers.set(name, t);
    return t;
  }

  protected registerModule<M extends Module>(name: string, m: M): M {
    this.children.set(name, m);
    return m;
  }

  /** Replaces a registered buffer (batchnorm's running statistics after an update). */
  protected replaceBuffer(name: string, t: Tensor): void {
    const old = this.ownBuffers.get(name);
    if (!old) throw new Error(`no buffer named ${name}`);
    this.ownBuffers.set(name, t);
    if (old !== t) old.dispose();
  }

  protected getBuffer(name: string): Tensor {
    const t = this.ownBuffers.get(name);
    if (!t) throw new Error(`no buffer named ${name}`);
    return t;
  }

  namedParameters(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, t] of this.ownParameters) out.push([prefix + name, t]);
    for (const [name, child] of this.children) out.push(...child.namedParameters(`${prefix}${name}.`));
    return out;
  }

  namedBuffers(prefix = ''): [string, Tensor][] {
    const out: [string, Tensor][] = [];
    for (const [name, t] of this.ownBuffers) out.push([prefix + name, t]);
    for (const [name, child] of this.children) out.push(...child.namedBuffers(`${prefix}${name}.`));
    return out;
  }

  namedModules(prefix = ''): [string, Module][] {
    const out: [string, Module][] = [[prefix.replace(/\.$/, ''), this]];
    for (const [name, child] of this.children) out.push(...child.namedModules(`${prefix}${name}.`));
    return out;
  }

  parameters(): Tensor[] {
    return this.namedParameters().map(([, t]) => t);
  }

  /** Parameters and buffers by name, as PyTorch's `state_dict()`. */
  stateDict(): Map<string, Tensor> {
    return new Map([...this.namedParameters(), ...this.namedBuffers()]);
  }

  /** Number of parameter elements (buffers excluded), as `sum(p.numel() for p in parameters())`. */
  parameterCount(): number {
    return this.parameters().reduce((n, t) => n + t.size, 0);
  }

  /** Sets training mode on this module and every child. */
  train(mode = true): this {
    this.training = mode;
    for (const child of this.children.values()) child.train(mode);
    return this;
  }

  eval(): this {
    return this.train(false);
  }

  zeroGrad(): void {
    for (const p of this.parameters()) {
      p.grad?.dispose();
      p.grad = null;
    }
  }

  /**
   * Copies values into parameters and buffers by name. Every name must match in both
   * directions and every shape must agree; the error lists each missing, extra or mis-shaped
   * tensor. `skip` names entries to leave out (for example a classifier head being replaced).
   */
  loadStateDict(entries: Map<string, { shape: Shape; values: ArrayLike<number> }>, options: { skip?: (name: string) => boolean } = {}): void {
    const skip = options.skip ?? (() => false);
    const own = this.stateDict();
    const problems: string[] = [];
    for (const [name, t] of own) {
      if (skip(name)) continue;
      const entry = entries.get(name);
      if (!entry) problems.push(`missing ${name} ${formatShape(t.shape)}`);
      else if (entry.shape.length !== t.shape.length || entry.shape.some((d, i) => d !== t.shape[i])) {
        problems.push(`${name}: shape ${formatShape(entry.shape)} in the file, ${formatShape(t.shape)} in the model`);
      }
    }
    for (const name of entries.keys()) if (!own.has(name) && !skip(name)) problems.push(`unexpected ${name}`);
    if (problems.length > 0) throw new Error(`state dict does not match the model:\n  ${problems.join('\n  ')}`);
    for (const [name, t] of own) {
      const entry = entries.get(name);
      if (entry && !skip(name)) t.write(entry.values);
    }
  }

  dispose(): void {
    for (const [, t] of [...this.namedParameters(), ...this.namedBuffers()]) {
      t.grad?.dispose();
      t.dispose();
    }
  }
}
