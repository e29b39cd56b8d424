// Fused optimizer updates, one invocation per parameter element, in place.
//
// adam: PyTorch's torch.optim.Adam / AdamW (foreach=False) for step t (1-based):
//   g = grad + weight_decay * p              (Adam: L2 penalty folded into the gradient)
//   p = p * (1 - lr * weight_decay)          (AdamW: decoupled decay, applied first)
//   m = beta1 * m + (1 - beta1) * g
//   v = beta2 * v + (1 - beta2) * g^2
//   p = p - (lr / (1 - beta1^t)) * m / (sqrt(v) / sqrt(1 - beta2^t) + eps)
// eps is added after the square root of the bias-corrected second moment, as PyTorch does.
// The host computes step_size = lr / (1 - beta1^t) and bias_correction2_sqrt in float64.
//
// sgd: torch.optim.SGD with momentum and no dampening:
//   g = grad + weight_decay * p;  buf = momentum * buf + g (buf = g at the first step);  p -= lr * buf

struct AdamParams {
  n: u32,
  decoupled: u32,         // 1 for AdamW
  lr: f32,
  weight_decay: f32,
  beta1: f32,
  beta2: f32,
  eps: f32,
  step_size: f32,         // lr / (1 - beta1^t)
  bias_correction2_sqrt: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> exp_avg: array<f32>;
@group(0) @binding(3) var<storage, read_write> exp_avg_sq: array<f32>;
@group(0) @binding(4) var<uniform> adam_params: AdamParams;

@compute @workgroup_size(WORKGROUP)
fn adam(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let u = adam_params;
  if (i >= u.n) { return; }

  var p = param[i];
  var g = grad[i];
  if (u.decoupled == 1u) {
    p = p * (1.0 - u.lr * u.weight_decay);
  } else {
    g = g + u.weight_decay * p;
  }

  let m = u.beta1 * exp_avg[i] + (1.0 - u.beta1) * g;
  let v = u.beta2 * exp_avg_sq[i] + (1.0 - u.beta2) * g * g;
  exp_avg[i] = m;
  exp_avg_sq[i] = v;

  let denom = sqrt(v) / u.bias_correction2_sqrt + u.eps;
  param[i] = p - u.step_size * (m / denom);
}
