/**
 * The autograd tape. Each differentiable op that has an input requiring a gradient appends a
 * node: its inputs, the ids of its outputs, the tensors its backward rule saved, and the rule
 * itself. `backward()` walks the tape in reverse, calls each rule with the gradients of the
 * node's outputs, accumulates gradients for inputs (into `.grad` for leaves), and disposes each
 * node's saved tensors as soon as its rule has run. The tape is consumed by `backward()`, as
 * PyTorch frees its graph.
 */
import { keep, tidy } from './scope.ts';
import { Tensor, setBackwardImpl, formatShape } from './tensor.ts';
import { getEngine } from '../gpu/engine.ts';

/** Returns one gradient per input (null where the input needs none). */
export type BackwardRule = (gradOutputs: (Tensor | null)[]) => (Tensor | null)[];

export interface TapeNode {
  name: string;
  inputs: Tensor[];
  outputIds: number[];
  outputShapes: (readonly number[])[];
  saved: Tensor[];
  backward: BackwardRule;
}

let tape: TapeNode[] = [];
let gradEnabled = true;

export function isGradEnabled(): boolean {
  return gradEnabled;
}

/** Runs `fn` without recording anything on the tape (evaluation, optimizer updates). */
export function noGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = false;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

/** Runs `fn` with recording on, even inside `noGrad` (Grad-CAM on a frozen model). */
export function enableGrad<T>(fn: () => T): T {
  const previous = gradEnabled;
  gradEnabled = true;
  try {
    return fn();
  } finally {
    gradEnabled = previous;
  }
}

export function needsGrad(inputs: Tensor[]): boolean {
  return gradEnabled && inputs.some((t) => t.requiresGrad);
}

/**
 * Records an op. `save` lists tensors the rule reads later: they are retained (sharing storage)
 * so that the op's scope may dispose the originals.
 */
export function record(name: string, inputs: Tensor[], outputs: Tensor[], save: Tensor[], backward: (saved: Tensor[], gradOutputs: (Tensor | null)[]) => (Tensor | null)[]): void {
  if (!needsGrad(inputs)) return;
  const saved = save.map((t) => keep(t.view(t.shape, t.name)));
  const node: TapeNode = {
    name,
    inputs: inputs.map((t) => t),
    outputIds: outputs.map((t) => t.id),
    outputShapes: outputs.map((t) => t.shape),
    saved,
    backward: (grads) => backward(saved, grads),
  };
  for (const out of outputs) {
    out.requiresGrad = true;
    out.creator = node;
  }
  tape.push(node);
}

/** Number of nodes waiting on the tape (for tests and leak checks). */
export function tapeLength(): number {
  return tape.length;
}

/** Drops the tape and frees every saved tensor, for example after an evaluation with grad on. */
export function clearTape(): void {
  for (const node of tape) for (const t of node.saved) t.dispose();
  tape = [];
}

let accumulate: (into: Tensor, grad: Tensor) => void = () => {
  throw new Error('gradient accumulation kernel not registered');
};
let onesLike: (t: Tensor) => Tensor = () => {
  throw new Error('ones kernel not registered');
};

/** Installed by the ops module: `into += grad` in place, and a tensor of ones. */
export function registerTapeKernels(kernels: { accumulate: (into: Tensor, grad: Tensor) => void; onesLike: (t: Tensor) => Tensor }): void {
  accumulate = kernels.accumulate;
  onesLike = kernels.onesLike;
}

/**
 * Returns `grad` if no other tensor shares its storage, else a private copy (disposing `grad`).
 * Gradients are accumulated in place, and a backward rule may return views of one buffer for
 * several inputs (add returns the output gradient for both operands), so a gradient that will
 * be accumulated into must own its storage.
 */
function exclusive(grad: Tensor, name: string): Tensor {
  if (!grad.storage.shared) {
    grad.name = name;
    return grad;
  }
  const copy = Tensor.empty(grad.shape, grad.dtype, name);
  if (grad.byteSize > 0) getEngine().copy(grad.storage.entry, 0, copy.storage.entry, 0, grad.byteSize);
  grad.dispose();
  return copy;
}

function runBackward(root: Tensor, gradient?: Tensor): void {
  if (!root.requiresGrad) throw new Error(`backward() on ${root.name}, which does not require a gradient`);
  if (!gradient && root.size !== 1) {
    throw new Error(`backward() without a gradient needs a scalar; ${root.name} has shape ${formatShape(root.shape)}`);
  }
  if (gradient && (gradient.shape.length !== root.shape.length || gradient.shape.some((d, i) => d !== root.shape[i]))) {
    throw new Error(`backward(): gradient shape ${formatShape(gradient.shape)} does not match ${root.name} ${formatShape(root.shape)}`);
  }
  if (root.creator !== null && !tape.includes(root.creator)) {
    throw new Error(
      `backward() on ${root.name}: its graph was already consumed by an earlier backward() or clearTape(); run the forward pass again`,
    );
  }
  const nodes = tape;
  tape = [];

  tidy(() => {
    const grads = new Map<number, Tensor>();
    // A view, so that the caller's gradient tensor is never accumulated into or disposed.
    grads.set(root.id, gradient ? gradient.view(gradient.shape) : onesLike(root));

    // Takes ownership of `grad`: stores it, or adds it into the gradient already stored.
    const addGrad = (target: Tensor, grad: Tensor) => {
      if (target.shape.length !== grad.shape.length || target.shape.some((d, i) => d !== grad.shape[i])) {
        throw new Error(`gradient of ${target.name} has shape ${formatShape(grad.shape)}, expected ${formatShape(target.shape)}`);
      }
      if (target.creator === null) {
        // A leaf: accumulate into .grad, which outlives this scope.
        if (target.grad === null) {
          target.grad = keep(exclusive(grad, `${target.name}.grad`));
        } else {
          accumulate(target.grad, grad);
          grad.dispose();
        }
        return;
      }
      const existing = grads.get(target.id);
      if (existing) {
        const owned = exclusive(existing, existing.name);
        grads.set(target.id, owned);
        accumulate(owned, grad);
        grad.dispose();
      } else {
        grads.set(target.id, grad);
      }
    };

    if (root.creator === null) {
      addGrad(root, grads.get(root.id)!);
      grads.delete(root.id);
    }

    for (let i = nodes.length - 1; i >= 0; i--) {
      const node = nodes[i];
      const gradOutputs = node.outputIds.map((id) => grads.get(id) ?? null);
      if (gradOutputs.every((g) => g === null)) {
        for (const t of node.saved) t.dispose();
        continue;
      }
      const gradInputs = node.backward(gradOutputs);
      for (const t of node.saved) t.dispose();
      for (const id of node.outputIds) grads.delete(id);

      // Each use gets its own view, because a rule may return one tensor for several inputs
      // (or pass an output gradient through unchanged).
      node.inputs.forEach((input, k) => {
        const g = gradInputs[k];
        if (g && input.requiresGrad) addGrad(input, g.view(g.shape, g.name));
      });
      for (const g of new Set([...gradOutputs, ...gradInputs])) g?.dispose();
    }
  });
}

setBackwardImpl(runBackward);
