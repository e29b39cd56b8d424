// Batchnorm statistics, pass 2: one thread per channel merges the chunks' (count, mean, M2)
// triples (Chan's formula), then writes the affine map that normalises the channel,
//   y = x * scale + shift,  scale = gamma / sqrt(var + eps),  shift = beta - mean * scale,
// and, in training mode, updates the running statistics as PyTorch does:
//   running_mean = (1 - momentum) running_mean + momentum mean
//   running_var  = (1 - momentum) running_var  + momentum var * n / (n - 1)   (unbiased)
// The batch variance used for normalising is the biased one (M2 / n). In eval mode (training
// 0) the running statistics are used instead and left unchanged; `chunks` is then 0.
// Host defines: WORKGROUP.

struct Params {
  channels: u32, chunks: u32, training: u32, update_running: u32,
  eps: f32, momentum: f32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<storage, read> partial: array<f32>;        // [channels, chunks, 3]
@group(0) @binding(1) var<storage, read> gamma: array<f32>;          // [channels]
@group(0) @binding(2) var<storage, read> beta: array<f32>;           // [channels]
@group(0) @binding(3) var<storage, read_write> running_mean: array<f32>; // [channels]
@group(0) @binding(4) var<storage, read_write> running_var: array<f32>;  // [channels]
@group(0) @binding(5) var<storage, read_write> stats: array<f32>;    // [channels, 4]: mean, invstd, scale, shift
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (c >= params.channels) { return; }

  var mean: f32;
  var variance: f32;
  if (params.training != 0u) {
    var count = 0.0;
    var m2 = 0.0;
    mean = 0.0;
    for (var s = 0u; s < params.chunks; s++) {
      let base = 3u * (c * params.chunks + s);
      let nb = partial[base];
      if (nb == 0.0) { continue; }
      let n = count + nb;
      let delta = partial[base + 1u] - mean;
      mean += delta * (nb / n);
      m2 += partial[base + 2u] + delta * delta * (count * nb / n);
      count = n;
    }
    variance = m2 / count;
    if (params.update_running != 0u) {
      // A single value has no unbiased variance; PyTorch then stores nan, this kernel the 0 of
      // the biased one.
      let unbiased = select(variance, m2 / (count - 1.0), count > 1.0);
      running_mean[c] = (1.0 - params.momentum) * running_mean[c] + params.momentum * mean;
      running_var[c] = (1.0 - params.momentum) * running_var[c] + params.momentum * unbiased;
    }
  } else {
    mean = running_mean[c];
    variance = running_var[c];
  }

  let invstd = inverseSqrt(variance + params.eps);
  let scale = gamma[c] * invstd;
  stats[4u * c] = mean;
  stats[4u * c + 1u] = invstd;
  stats[4u * c + 2u] = scale;
  stats[4u * c + 3u] = beta[c] - mean * scale;
}
