// torch.optim.SGD (dampening 0, no Nesterov), in place, one invocation per element:
//   g = grad + weight_decay * p
//   buf = g at the first step, momentum * buf + g after it (skipped when momentum is 0)
//   p = p - lr * buf

struct SgdParams {
  n: u32,
  first_step: u32,
  lr: f32,
  momentum: f32,
  weight_decay: f32,
  _pad0: u32,
  _pad1: u32,
  _pad2: u32,
}

@group(0) @binding(0) var<storage, read_write> param: array<f32>;
@group(0) @binding(1) var<storage, read> grad: array<f32>;
@group(0) @binding(2) var<storage, read_write> momentum_buffer: array<f32>;
@group(0) @binding(3) var<uniform> sgd_params: SgdParams;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  let u = sgd_params;
  if (i >= u.n) { return; }

  let p = param[i];
  var d = grad[i] + u.weight_decay * p;
  if (u.momentum != 0.0) {
    if (u.first_step == 0u) {
      d = u.momentum * momentum_buffer[i] + d;
    }
    momentum_buffer[i] = d;
  }
  param[i] = p - u.lr * d;
}
