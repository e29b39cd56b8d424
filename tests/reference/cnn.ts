// Float64 references for the convolution, batchnorm and pooling kernels (NCHW throughout).

export interface ConvShape {
  batch: number;
  cin: number;
  h: number;
  w: number;
  cout: number;
  k: number;
  stride: number;
  pad: number;
}

export function outSize(size: number, k: number, stride: number, pad: number): number {
  return Math.floor((size + 2 * pad - k) / stride) + 1;
}

/** y[n, co, oh, ow] = bias[co] + sum w[co, ci, kh, kw] x[n, ci, oh*s-p+kh, ow*s-p+kw]. */
export function conv2dRef(x: ArrayLike<number>, w: ArrayLike<number>, bias: ArrayLike<number> | null, s: ConvShape): Float64Array {
  const oh = outSize(s.h, s.k, s.stride, s.pad);
  const ow = outSize(s.w, s.k, s.stride, s.pad);
  const y = new Float64Array(s.batch * s.cout * oh * ow);
  for (let n = 0; n < s.batch; n++) {
    for (let co = 0; co < s.cout; co++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          let acc = bias ? bias[co] : 0;
          for (let ci = 0; ci < s.cin; ci++) {
            for (let kh = 0; kh < s.k; kh++) {
              const ih = i * s.stride - s.pad + kh;
              if (ih < 0 || ih >= s.h) continue;
              for (let kw = 0; kw < s.k; kw++) {
                const iw = j * s.stride - s.pad + kw;
                if (iw < 0 || iw >= s.w) continue;
                acc += w[((co * s.cin + ci) * s.k + kh) * s.k + kw] * x[((n * s.cin + ci) * s.h + ih) * s.w + iw];
              }
            }
          }
          y[((n * s.cout + co) * oh + i) * ow + j] = acc;
        }
      }
    }
  }
  return y;
}

/** Gradients of sum(dy * conv2d(x, w)) with respect to x and w. */
export function conv2dGradRef(x: ArrayLike<number>, w: ArrayLike<number>, dy: ArrayLike<number>, s: ConvShape): { dx: Float64Array; dw: Float64Array } {
  const oh = outSize(s.h, s.k, s.stride, s.pad);
  const ow = outSize(s.w, s.k, s.stride, s.pad);
  const dx = new Float64Array(s.batch * s.cin * s.h * s.w);
  const dw = new Float64Array(s.cout * s.cin * s.k * s.k);
  for (let n = 0; n < s.batch; n++) {
    for (let co = 0; co < s.cout; co++) {
      for (let i = 0; i < oh; i++) {
        for (let j = 0; j < ow; j++) {
          const g = dy[((n * s.cout + co) * oh + i) * ow + j];
          for (let ci = 0; ci < s.cin; ci++) {
            for (let kh = 0; kh < s.k; kh++) {
              const ih = i * s.stride - s.pad + kh;
              if (ih < 0 || ih >= s.h) continue;
              for (let kw = 0; kw < s.k; kw++) {
                const iw = j * s.stride - s.pad + kw;
                if (iw < 0 || iw >= s.w) continue;
                const xi = ((n * s.cin + ci) * s.h + ih) * s.w + iw;
                const wi = ((co * s.cin + ci) * s.k + kh) * s.k + kw;
                dx[xi] += w[wi] * g;
                dw[wi] += x[xi] * g;
              }
            }
          }
        }
      }
    }
  }
  return { dx, dw };
}

/**
 * Batchnorm in training mode over [N, C, HW]: output, batch mean and biased variance, and the
 * running statistics after one update (momentum, unbiased variance).
 */
export function batchnormTrainRef(
  x: ArrayLike<number>, n: number, c: number, hw: number,
  gamma: ArrayLike<number>, beta: ArrayLike<number>, runMean: ArrayLike<number>, runVar: ArrayLike<number>,
  options: { eps?: number; momentum?: number; relu?: boolean } = {},
): { y: Float64Array; mean: Float64Array; variance: Float64Array; runningMean: Float64Array; runningVar: Float64Array } {
  const eps = options.eps ?? 1e-5;
  const momentum = options.momentum ?? 0.1;
  const count = n * hw;
  const mean = new Float64Array(c);
  const variance = new Float64Array(c);
  const y = new Float64Array(n * c * hw);
  const runningMean = new Float64Array(c);
  const runningVar = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    let sum = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) sum += x[(i * c + ch) * hw + p];
    const m = sum / count;
    let sq = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) sq += (x[(i * c + ch) * hw + p] - m) ** 2;
    const v = sq / count;
    mean[ch] = m;
    variance[ch] = v;
    const inv = 1 / Math.sqrt(v + eps);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < hw; p++) {
        const k = (i * c + ch) * hw + p;
        const out = (x[k] - m) * inv * gamma[ch] + beta[ch];
        y[k] = options.relu ? Math.max(0, out) : out;
      }
    }
    runningMean[ch] = (1 - momentum) * runMean[ch] + momentum * m;
    runningVar[ch] = (1 - momentum) * runVar[ch] + momentum * (count > 1 ? sq / (count - 1) : v);
  }
  return { y, mean, variance, runningMean, runningVar };
}

/**
 * Gradients of training-mode batchnorm (with the ReLU after it when `relu`) for an output
 * gradient dy: g = dy masked by the ReLU, dbeta = sum g, dgamma = sum g * xhat and
 * dx = gamma * invstd / N * (N * g - dbeta - xhat * dgamma), per channel over N = n * hw values.
 */
export function batchnormTrainGradRef(
  x: ArrayLike<number>, dy: ArrayLike<number>, n: number, c: number, hw: number,
  gamma: ArrayLike<number>, beta: ArrayLike<number>, options: { eps?: number; relu?: boolean } = {},
): { dx: Float64Array; dgamma: Float64Array; dbeta: Float64Array } {
  const eps = options.eps ?? 1e-5;
  const count = n * hw;
  const dx = new Float64Array(n * c * hw);
  const dgamma = new Float64Array(c);
  const dbeta = new Float64Array(c);
  for (let ch = 0; ch < c; ch++) {
    const index = (i: number, p: number) => (i * c + ch) * hw + p;
    let sum = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) sum += x[index(i, p)];
    const mean = sum / count;
    let sq = 0;
    for (let i = 0; i < n; i++) for (let p = 0; p < hw; p++) sq += (x[index(i, p)] - mean) ** 2;
    const invstd = 1 / Math.sqrt(sq / count + eps);

    const g = new Float64Array(n * hw);
    const xhat = new Float64Array(n * hw);
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < hw; p++) {
        const k = i * hw + p;
        xhat[k] = (x[index(i, p)] - mean) * invstd;
        const out = xhat[k] * gamma[ch] + beta[ch];
        g[k] = options.relu && out <= 0 ? 0 : dy[index(i, p)];
        dbeta[ch] += g[k];
        dgamma[ch] += g[k] * xhat[k];
      }
    }
    for (let i = 0; i < n; i++) {
      for (let p = 0; p < hw; p++) {
        const k = i * hw + p;
        dx[index(i, p)] = ((gamma[ch] * invstd) / count) * (count * g[k] - dbeta[ch] - xhat[k] * dgamma[ch]);
      }
    }
  }
  return { dx, dgamma, dbeta };
}

export function batchnormEvalRef(
  x: ArrayLike<number>, n: number, c: number, hw: number,
  gamma: ArrayLike<number>, beta: ArrayLike<number>, runMean: ArrayLike<number>, runVar: ArrayLike<number>,
  options: { eps?: number; relu?: boolean } = {},
): Float64Array {
  const eps = options.eps ?? 1e-5;
  const y = new Float64Array(n * c * hw);
  for (let i = 0; i < n; i++) {
    for (let ch = 0; ch < c; ch++) {
      for (let p = 0; p < hw; p++) {
        const k = (i * c + ch) * hw + p;
        const out = ((x[k] - runMean[ch]) / Math.sqrt(runVar[ch] + eps)) * gamma[ch] + beta[ch];
        y[k] = options.relu ? Math.max(0, out) : out;
      }
    }
  }
  return y;
}

/** Max or average pooling over [N, C, H, W]; average divides by k * k (padding counted). */
export function poolRef(kind: 'max' | 'avg', x: ArrayLike<number>, nc: number, h: number, w: number, k: number, stride: number, pad: number): Float64Array {
  const oh = outSize(h, k, stride, pad);
  const ow = outSize(w, k, stride, pad);
  const y = new Float64Array(nc * oh * ow);
  for (let c = 0; c < nc; c++) {
    for (let i = 0; i < oh; i++) {
      for (let j = 0; j < ow; j++) {
        let acc = kind === 'max' ? -Infinity : 0;
        for (let kh = 0; kh < k; kh++) {
          const ih = i * stride - pad + kh;
          if (ih < 0 || ih >= h) continue;
          for (let kw = 0; kw < k; kw++) {
            const iw = j * stride - pad + kw;
            if (iw < 0 || iw >= w) continue;
            const v = x[(c * h + ih) * w + iw];
            acc = kind === 'max' ? Math.max(acc, v) : acc + v;
          }
        }
        y[(c * oh + i) * ow + j] = kind === 'max' ? acc : acc / (k * k);
      }
    }
  }
  return y;
}
