// Batchnorm backward, pass 2: one thread per channel sums the chunks into
//   dbeta = sum g,  dgamma = sum g * xhat
// and writes the coefficients of the input gradient dx = a * g + b * x + d. In training mode
// (batch statistics, m = batch * plane values per channel):
//   dx = gamma * invstd * (g - dbeta / m - xhat * dgamma / m)
// so a = gamma * invstd, b = -a * invstd * dgamma / m, d = -a * dbeta / m - b * mean.
// In eval mode the statistics are constants: a = gamma * invstd, b = d = 0.
// Host defines: WORKGROUP.

struct Params {
  channels: u32, chunks: u32, training: u32, count: u32,
}

@group(0) @binding(0) var<storage, read> partial: array<f32>;        // [channels, chunks, 2]
@group(0) @binding(1) var<storage, read> gamma: array<f32>;          // [channels]
@group(0) @binding(2) var<storage, read> stats: array<f32>;          // [channels, 4]: mean, invstd, scale, shift
@group(0) @binding(3) var<storage, read_write> dgamma: array<f32>;   // [channels]
@group(0) @binding(4) var<storage, read_write> dbeta: array<f32>;    // [channels]
@group(0) @binding(5) var<storage, read_write> coeffs: array<f32>;   // [channels, 3]: a, b, d
@group(0) @binding(6) var<uniform> params: Params;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let c = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (c >= params.channels) { return; }
  var sum = 0.0;
  var dot = 0.0;
  for (var s = 0u; s < params.chunks; s++) {
    sum += partial[2u * (c * params.chunks + s)];
    dot += partial[2u * (c * params.chunks + s) + 1u];
  }
  dbeta[c] = sum;
  dgamma[c] = dot;

  let mean = stats[4u * c];
  let invstd = stats[4u * c + 1u];
  let a = gamma[c] * invstd;
  var b = 0.0;
  var d = 0.0;
  if (params.training != 0u) {
    let m = f32(params.count);
    b = -a * invstd * dot / m;
    d = -a * sum / m - b * mean;
  }
  coeffs[3u * c] = a;
  coeffs[3u * c + 1u] = b;
  coeffs[3u * c + 2u] = d;
}
