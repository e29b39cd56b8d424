/**
 * Seeded parameter initialisers, computed on the host (a model's initialisation is a one-off
 * cost of milliseconds, and host values are identical in Node and the browser). The defaults
 * follow PyTorch: Linear and Conv2d use kaiming_uniform_(a=sqrt(5)), which reduces to
 * U(-1/sqrt(fan_in), 1/sqrt(fan_in)) for weights and biases alike.
 */

/** A seeded generator of uniform values in [0, 1) (mulberry32). */
export class Generator {
  private state: number;

  constructor(seed: number) {
    this.state = seed >>> 0;
  }

  next(): number {
    this.state = (this.state + 0x6d2b79f5) >>> 0;
    let t = this.state;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  }

  /** A standard normal value (Box-Muller). */
  normal(): number {
    const u = 1 - this.next();
    const v = this.next();
    return Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v);
  }

  /** The generator's state, for checkpoints. */
  get seed(): number {
    return this.state;
  }
}

export function uniform(n: number, low: number, high: number, gen: Generator): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = low + (high - low) * gen.next();
  return out;
}

export function normal(n: number, std: number, gen: Generator, mean = 0): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) out[i] = mean + std * gen.normal();
  return out;
}

/** Normal values redrawn until they fall within [mean - 2 std, mean + 2 std], as timm's trunc_normal_. */
export function truncatedNormal(n: number, std: number, gen: Generator): Float32Array {
  const out = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    let v: number;
    do v = gen.normal();
    while (Math.abs(v) > 2);
    out[i] = v * std;
  }
  return out;
}

/** PyTorch's default for Linear and Conv2d weights and biases: U(-1/sqrt(fan_in), 1/sqrt(fan_in)). */
export function defaultUniform(n: number, fanIn: number, gen: Generator): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  return uniform(n, -bound, bound, gen);
}

/** kaiming_normal_ with the ReLU gain, fan-in mode (torchvision's DenseNet convolutions). */
export function kaimingNormal(n: number, fanIn: number, gen: Generator): Float32Array {
  return normal(n, Math.sqrt(2 / fanIn), gen);
}

export function constant(n: number, value: number): Float32Array {
  return new Float32Array(n).fill(value);
}
