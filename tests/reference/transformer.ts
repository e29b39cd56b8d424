/**
 * Float64 CPU references for the transformer kernels: LayerNorm, GELU and multi-head
 * attention composed from plain matrix products and a softmax. Used only by tests.
 */

/** erf to float64 accuracy: a Taylor series below 3, a continued fraction for the tail. */
export function erf(x: number): number {
  const t = Math.abs(x);
  if (t < 3) {
    let sum = t;
    let term = t;
    for (let n = 1; n < 80; n++) {
      term *= (-t * t) / n;
      sum += term / (2 * n + 1);
    }
    return Math.sign(x) * (2 / Math.sqrt(Math.PI)) * sum;
  }
  let f = 0;
  for (let n = 80; n >= 1; n--) f = n / 2 / (t + f);
  return Math.sign(x) * (1 - Math.exp(-t * t) / Math.sqrt(Math.PI) / (t + f));
}

export function gelu(x: number): number {
  return 0.5 * x * (1 + erf(x / Math.SQRT2));
}

export function geluGrad(x: number): number {
  return 0.5 * (1 + erf(x / Math.SQRT2)) + (x * Math.exp(-0.5 * x * x)) / Math.sqrt(2 * Math.PI);
}

/** LayerNorm over rows of length C: y, and the gradients for an upstream gradient dy. */
export function layerNorm(
  x: ArrayLike<number>,
  weight: ArrayLike<number>,
  bias: ArrayLike<number>,
  features: number,
  eps: number,
  dy?: ArrayLike<number>,
): { y: Float64Array; dx: Float64Array; dweight: Float64Array; dbias: Float64Array } {
  const rows = x.length / features;
  const y = new Float64Array(x.length);
  const dx = new Float64Array(x.length);
  const dweight = new Float64Array(features);
  const dbias = new Float64Array(features);
  for (let r = 0; r < rows; r++) {
    const o = r * features;
    let mean = 0;
    for (let c = 0; c < features; c++) mean += x[o + c];
    mean /= features;
    let variance = 0;
    for (let c = 0; c < features; c++) variance += (x[o + c] - mean) ** 2;
    variance /= features;
    const rstd = 1 / Math.sqrt(variance + eps);
    const xhat = new Float64Array(features);
    for (let c = 0; c < features; c++) {
      xhat[c] = (x[o + c] - mean) * rstd;
      y[o + c] = xhat[c] * weight[c] + bias[c];
    }
    if (!dy) continue;
    let meanG = 0;
    let meanGX = 0;
    for (let c = 0; c < features; c++) {
      const g = dy[o + c] * weight[c];
      meanG += g / features;
      meanGX += (g * xhat[c]) / features;
      dweight[c] += dy[o + c] * xhat[c];
      dbias[c] += dy[o + c];
    }
    for (let c = 0; c < features; c++) dx[o + c] = rstd * (dy[o + c] * weight[c] - meanG - xhat[c] * meanGX);
  }
  return { y, dx, dweight, dbias };
}

/** C = A B for row-major A [m, k] and B [k, n]; `transB` reads B as [n, k]. */
export function matmul(a: Float64Array, b: Float64Array, m: number, k: number, n: number, transB = false): Float64Array {
  const c = new Float64Array(m * n);
  for (let i = 0; i < m; i++) {
    for (let p = 0; p < k; p++) {
      const av = a[i * k + p];
      if (av === 0) continue;
      for (let j = 0; j < n; j++) c[i * n + j] += av * (transB ? b[j * k + p] : b[p * n + j]);
    }
  }
  return c;
}

function transpose(a: Float64Array, rows: number, cols: number): Float64Array {
  const t = new Float64Array(a.length);
  for (let i = 0; i < rows; i++) for (let j = 0; j < cols; j++) t[j * rows + i] = a[i * cols + j];
  return t;
}

/** Row-wise softmax of a [rows, cols] matrix, max-subtracted. */
export function softmaxRows(s: Float64Array, rows: number, cols: number): Float64Array {
  const p = new Float64Array(s.length);
  for (let i = 0; i < rows; i++) {
    let max = -Infinity;
    for (let j = 0; j < cols; j++) max = Math.max(max, s[i * cols + j]);
    let sum = 0;
    for (let j = 0; j < cols; j++) sum += p[i * cols + j] = Math.exp(s[i * cols + j] - max);
    for (let j = 0; j < cols; j++) p[i * cols + j] /= sum;
  }
  return p;
}

/**
 * Multi-head attention on packed qkv [B, T, 3, H, D], composed per (batch, head) from
 * S = Q K^T * scale, P = softmax(S), O = P V. With dout [B, T, H * D] it also returns
 * dqkv from the textbook backward: dV = P^T dO, dP = dO V^T, dS = P * (dP - rowsum(dP * P)),
 * dQ = dS K * scale, dK = dS^T Q * scale.
 */
export function attention(
  qkv: ArrayLike<number>,
  batch: number,
  tokens: number,
  heads: number,
  headDim: number,
  dout?: ArrayLike<number>,
): { out: Float64Array; dqkv: Float64Array } {
  const width = heads * headDim;
  const scale = 1 / Math.sqrt(headDim);
  const out = new Float64Array(batch * tokens * width);
  const dqkv = new Float64Array(batch * tokens * 3 * width);
  const gather = (b: number, part: number, h: number, source: ArrayLike<number>, stride: number, offset: number) => {
    const m = new Float64Array(tokens * headDim);
    for (let t = 0; t < tokens; t++) {
      for (let d = 0; d < headDim; d++) m[t * headDim + d] = source[(b * tokens + t) * stride + offset + part * width + h * headDim + d];
    }
    return m;
  };
  const scatter = (m: Float64Array, target: Float64Array, b: number, part: number, h: number, stride: number) => {
    for (let t = 0; t < tokens; t++) {
      for (let d = 0; d < headDim; d++) target[(b * tokens + t) * stride + part * width + h * headDim + d] = m[t * headDim + d];
    }
  };

  for (let b = 0; b < batch; b++) {
    for (let h = 0; h < heads; h++) {
      const q = gather(b, 0, h, qkv, 3 * width, 0);
      const k = gather(b, 1, h, qkv, 3 * width, 0);
      const v = gather(b, 2, h, qkv, 3 * width, 0);
      const s = matmul(q, k, tokens, headDim, tokens, true).map((x) => x * scale);
      const p = softmaxRows(s, tokens, tokens);
      scatter(matmul(p, v, tokens, tokens, headDim), out, b, 0, h, width);
      if (!dout) continue;

      const g = gather(b, 0, h, dout, width, 0);
      const dv = matmul(transpose(p, tokens, tokens), g, tokens, tokens, headDim);
      const dp = matmul(g, v, tokens, headDim, tokens, true);
      const ds = new Float64Array(tokens * tokens);
      for (let i = 0; i < tokens; i++) {
        let rowsum = 0;
        for (let j = 0; j < tokens; j++) rowsum += dp[i * tokens + j] * p[i * tokens + j];
        for (let j = 0; j < tokens; j++) ds[i * tokens + j] = p[i * tokens + j] * (dp[i * tokens + j] - rowsum);
      }
      const dq = matmul(ds, k, tokens, tokens, headDim).map((x) => x * scale);
      const dk = matmul(transpose(ds, tokens, tokens), q, tokens, tokens, headDim).map((x) => x * scale);
      scatter(dq, dqkv, b, 0, h, 3 * width);
      scatter(dk, dqkv, b, 1, h, 3 * width);
      scatter(dv, dqkv, b, 2, h, 3 * width);
    }
  }
  return { out, dqkv };
}
