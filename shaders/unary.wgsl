// Unary elementwise ops, one thread per element.
//
// Host defines:
//   OP        op code, see UNARY in src/kernels/elementwise.ts
//   WORKGROUP threads per workgroup

struct Params {
  n: u32,
  alpha: f32,   // scalar operand: the exponent of pow, the scale of affine, the low bound of clamp
  beta: f32,    // the shift of affine, the high bound of clamp
  _pad: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

// erf by Abramowitz and Stegun 7.1.26 has an absolute error of 1.5e-7, below f32's resolution
// around the values GELU uses.
fn erf_approx(x: f32) -> f32 {
  let s = sign(x);
  let z = abs(x);
  let t = 1.0 / (1.0 + 0.3275911 * z);
  let poly = t * (0.254829592 + t * (-0.284496736 + t * (1.421413741 + t * (-1.453152027 + t * 1.061405429))));
  return s * (1.0 - poly * exp(-z * z));
}

// x^p as PyTorch computes it. WGSL's pow(x, p) is undefined for x < 0 (and for x = p = 0), so
// integer exponents take the power of |x| and restore the sign for odd p.
fn signed_pow(x: f32, p: f32) -> f32 {
  if (p == 0.0) { return 1.0; }
  if (x >= 0.0) { return pow(x, p); }
  // WGSL leaves pow of a negative base undefined (Chromium's SwiftShader returns pow(|x|, p)),
  // so a fractional exponent returns NaN explicitly, as PyTorch does. The bits go through a
  // `let` because a NaN constant expression is a shader-creation error.
  let quiet_nan_bits = 0x7fc00000u;
  if (fract(p) != 0.0) { return bitcast<f32>(quiet_nan_bits); }
  let magnitude = pow(-x, p);
  return select(magnitude, -magnitude, fract(p * 0.5) != 0.0);
}

const INV_SQRT2: f32 = 0.7071067811865476;
const INV_SQRT_2PI: f32 = 0.3989422804014327;

fn apply_unary(x: f32) -> f32 {
  switch OP {
    case 0u: { return -x; }
    case 1u: { return exp(x); }
    case 2u: { return log(x); }
    case 3u: { return sqrt(x); }
    case 4u: { return max(x, 0.0); }
    case 5u: { return 0.5 * x * (1.0 + erf_approx(x * INV_SQRT2)); }           // exact GELU
    case 6u: {                                                                  // stable sigmoid
      if (x >= 0.0) { return 1.0 / (1.0 + exp(-x)); }
      let e = exp(x);
      return e / (1.0 + e);
    }
    case 7u: {                                                                  // tanh, clamped: exp overflows past 44
      let c = clamp(x, -15.0, 15.0);
      let e = exp(2.0 * c);
      return (e - 1.0) / (e + 1.0);
    }
    case 8u: { return x * params.alpha + params.beta; }                          // affine (scale, shift)
    case 10u: { return abs(x); }
    case 11u: { return x * x; }
    case 12u: { return 1.0 / x; }
    case 13u: { return signed_pow(x, params.alpha); }
    case 14u: { return select(0.0, 1.0, x > 0.0); }                             // step (relu')
    case 15u: {                                                                 // GELU'
      let cdf = 0.5 * (1.0 + erf_approx(x * INV_SQRT2));
      return cdf + x * INV_SQRT_2PI * exp(-0.5 * x * x);
    }
    case 16u: { return clamp(x, params.alpha, params.beta); }
    default: { return x; }
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (i >= params.n) { return; }
  out[i] = apply_unary(x[i]);
}
