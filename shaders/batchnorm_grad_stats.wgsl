// Batchnorm backward, pass 1: per chunk of a channel, the partial sums
//   sum g  and  sum g * xhat,   g = dy * (relu ? [x * scale + shift > 0] : 1),
//   xhat = (x - mean) * invstd,
// which give the gradients of beta and gamma. The ReLU mask is recomputed from x, so the
// forward output need not be kept. Chunks, and the entry point main_serial with one thread per
// chunk, as in batchnorm_stats.wgsl.
// Host defines: WORKGROUP.

struct Params {
  batch: u32, channels: u32, plane: u32, relu: u32,
  x_offset: u32, x_batch_stride: u32, dy_offset: u32, dy_batch_stride: u32,
  chunks: u32, chunk: u32, _pad0: u32, _pad1: u32,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;            // view of [batch, channels, plane]
@group(0) @binding(1) var<storage, read> dy: array<f32>;           // view of [batch, channels, plane]
@group(0) @binding(2) var<storage, read> stats: array<f32>;        // [channels, 4]: mean, invstd, scale, shift
@group(0) @binding(3) var<storage, read_write> partial: array<f32>; // [channels, chunks, 2]
@group(0) @binding(4) var<uniform> params: Params;

var<workgroup> sums: array<f32, WORKGROUP>;
var<workgroup> dots: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = linear_workgroup(wid, nwg);
  let in_range = group < params.channels * params.chunks;
  let c = group / params.chunks;
  let begin = (group % params.chunks) * params.chunk;
  let end = min(params.batch * params.plane, begin + params.chunk);
  let mean = stats[4u * c];
  let invstd = stats[4u * c + 1u];
  let scale = stats[4u * c + 2u];
  let shift = stats[4u * c + 3u];

  var sum = 0.0;
  var dot = 0.0;
  if (in_range) {
    for (var j = begin + lid; j < end; j += WORKGROUP) {
      let n = j / params.plane;
      let within = c * params.plane + j % params.plane;
      let xv = x[params.x_offset + n * params.x_batch_stride + within];
      var g = dy[params.dy_offset + n * params.dy_batch_stride + within];
      if (params.relu != 0u && xv * scale + shift <= 0.0) { g = 0.0; }
      sum += g;
      dot += g * (xv - mean) * invstd;
    }
  }
  sums[lid] = sum;
  dots[lid] = dot;
  workgroupBarrier();
  for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      sums[lid] += sums[lid + stride];
      dots[lid] += dots[lid + stride];
    }
    workgroupBarrier();
  }
  if (in_range && lid == 0u) {
    partial[2u * group] = sums[0];
    partial[2u * group + 1u] = dots[0];
  }
}

@compute @workgroup_size(WORKGROUP)
fn main_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (index >= params.channels * params.chunks) { return; }
  let c = index / params.chunks;
  let begin = (index % params.chunks) * params.chunk;
  let end = min(params.batch * params.plane, begin + params.chunk);
  let mean = stats[4u * c];
  let invstd = stats[4u * c + 1u];
  let scale = stats[4u * c + 2u];
  let shift = stats[4u * c + 3u];

  var sum = 0.0;
  var dot = 0.0;
  // (n, p) walks the chunk's images and pixels, so the loop divides nothing.
  var n = begin / params.plane;
  var p = begin % params.plane;
  for (var j = begin; j < end; j++) {
    let within = c * params.plane + p;
    let xv = x[params.x_offset + n * params.x_batch_stride + within];
    var g = dy[params.dy_offset + n * params.dy_batch_stride + within];
    if (params.relu != 0u && xv * scale + shift <= 0.0) { g = 0.0; }
    sum += g;
    dot += g * (xv - mean) * invstd;
    p += 1u;
    if (p == params.plane) {
      p = 0u;
      n += 1u;
    }
  }
  partial[2u * index] = sum;
  partial[2u * index + 1u] = dot;
}
