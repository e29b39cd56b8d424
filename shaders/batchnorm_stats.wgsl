// Batchnorm statistics, pass 1: partial (count, mean, M2) of one chunk of one channel.
//
// A channel holds batch * plane values (3 million for a batch of 64 at 112x112), so each is
// split into `chunks` chunks of `chunk` values, one workgroup each (linear workgroup index
// channel * chunks + chunk index). Every thread runs Welford's update over its values, and the
// workgroup merges the threads' triples with Chan's pairwise formula: neither step subtracts
// two large sums, so the variance stays accurate in f32 whatever the mean. The finalize pass
// merges the chunks in the same way.
//
// The entry point main_serial gives each thread a whole chunk instead (linear thread index
// channel * chunks + chunk index) and needs no workgroup memory or barriers. Software adapters
// pay a fixed cost per workgroup and per barrier, which is most of the time of `main` when a
// channel has a few thousand values or fewer, as in a dense block at low resolution.
// Host defines: WORKGROUP (threads, a power of two).

struct Params {
  batch: u32, channels: u32, plane: u32, offset: u32,
  batch_stride: u32, chunks: u32, chunk: u32,
  partial_offset: u32,  // element where the view's first channel's triples start
}

@group(0) @binding(0) var<storage, read> x: array<f32>;            // view of [batch, channels, plane]
@group(0) @binding(1) var<storage, read_write> partial: array<f32>; // [.., channels, chunks, 3]: count, mean, M2
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> counts: array<f32, WORKGROUP>;
var<workgroup> means: array<f32, WORKGROUP>;
var<workgroup> m2s: array<f32, WORKGROUP>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let group = linear_workgroup(wid, nwg);
  // Workgroups past the end still reach every barrier; they only skip loads and the store.
  let in_range = group < params.channels * params.chunks;
  let channel = group / params.chunks;
  let total = params.batch * params.plane;
  let begin = (group % params.chunks) * params.chunk;
  let end = min(total, begin + params.chunk);

  var count = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  if (in_range) {
    for (var j = begin + lid; j < end; j += WORKGROUP) {
      let v = x[params.offset + (j / params.plane) * params.batch_stride + channel * params.plane + j % params.plane];
      count += 1.0;
      let delta = v - mean;
      mean += delta / count;
      m2 += delta * (v - mean);
    }
  }
  counts[lid] = count;
  means[lid] = mean;
  m2s[lid] = m2;
  workgroupBarrier();

  for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) {
      let na = counts[lid];
      let nb = counts[lid + stride];
      let n = na + nb;
      if (nb > 0.0) {
        let delta = means[lid + stride] - means[lid];
        means[lid] += delta * (nb / n);
        m2s[lid] += m2s[lid + stride] + delta * delta * (na * nb / n);
        counts[lid] = n;
      }
    }
    workgroupBarrier();
  }

  if (in_range && lid == 0u) {
    let base = params.partial_offset + 3u * group;
    partial[base] = counts[0];
    partial[base + 1u] = means[0];
    partial[base + 2u] = m2s[0];
  }
}

@compute @workgroup_size(WORKGROUP)
fn main_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let index = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (index >= params.channels * params.chunks) { return; }
  let channel = index / params.chunks;
  let begin = (index % params.chunks) * params.chunk;
  let end = min(params.batch * params.plane, begin + params.chunk);

  var count = 0.0;
  var mean = 0.0;
  var m2 = 0.0;
  // (n, p) walks the chunk's images and pixels, so the loop divides nothing.
  var n = begin / params.plane;
  var p = begin % params.plane;
  for (var j = begin; j < end; j++) {
    let v = x[params.offset + n * params.batch_stride + channel * params.plane + p];
    p += 1u;
    if (p == params.plane) {
      p = 0u;
      n += 1u;
    }
    count += 1.0;
    let delta = v - mean;
    mean += delta / count;
    m2 += delta * (v - mean);
  }
  let base = params.partial_offset + 3u * index;
  partial[base] = count;
  partial[base + 1u] = mean;
  partial[base + 2u] = m2;
}
