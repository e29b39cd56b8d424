// Strided copy of a rank <= 8 box of elements, one thread per element:
//   dst[dst_offset + sum_d c[d] * dst_strides[d]] = src[src_offset + sum_d c[d] * src_strides[d]]
// for every coordinate c of `shape`. Permute, slice, the backward of slice and concat are all
// this one kernel with different strides and offsets (src/kernels/shape.ts). Elements are
// copied as raw 32-bit words, so f32 and i32 tensors share the pipeline.
//
// Host defines: WORKGROUP threads per workgroup.

struct Params {
  n: u32,
  rank: u32,
  src_offset: u32,
  dst_offset: u32,
  shape: array<vec4<u32>, 2>,
  src_strides: array<vec4<u32>, 2>,
  dst_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> src: array<u32>;
@group(0) @binding(1) var<storage, read_write> dst: array<u32>;
@group(0) @binding(2) var<uniform> params: Params;

fn dim(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (i >= params.n) { return; }
  var rest = i;
  var src_index = params.src_offset;
  var dst_index = params.dst_offset;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let size = dim(params.shape, u32(d));
    let coord = rest % size;
    rest = rest / size;
    src_index += coord * dim(params.src_strides, u32(d));
    dst_index += coord * dim(params.dst_strides, u32(d));
  }
  dst[dst_index] = src[src_index];
}
