// Reductions (sum, mean, max) over any set of axes. One workgroup per output element: its
// threads stride over the reduced elements, then combine in workgroup memory as a tree.
// main_serial gives each output element one thread instead, which walks the reduced
// elements in order (for software adapters, see src/kernels/strategy.ts).
//
// Host defines:
//   OP        0 sum, 1 mean, 2 max
//   WORKGROUP threads per workgroup (a power of two); in main_serial, output elements per
//             workgroup
//
// The input's dimensions are split into kept ones (the output's) and reduced ones; each set
// comes with its sizes and the input's element strides along them, innermost last.

struct Params {
  n_out: u32,
  n_reduce: u32,
  kept_rank: u32,
  reduce_rank: u32,
  kept_shape: array<vec4<u32>, 2>,
  kept_strides: array<vec4<u32>, 2>,
  reduce_shape: array<vec4<u32>, 2>,
  reduce_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> x: array<f32>;
@group(0) @binding(1) var<storage, read_write> out: array<f32>;
@group(0) @binding(2) var<uniform> params: Params;

var<workgroup> partial: array<f32, WORKGROUP>;

fn dim(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

fn identity() -> f32 {
  if (OP == 2u) { return -3.4028234663852886e38; }
  return 0.0;
}

fn combine(a: f32, b: f32) -> f32 {
  if (OP == 2u) { return max(a, b); }
  return a + b;
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  // Workgroups past the end still take part in every barrier, so they only skip the writes.
  let o = linear_workgroup(wid, nwg);
  let in_range = o < params.n_out;

  // Input offset of the output element: its kept coordinates times their strides.
  var base = 0u;
  var rest = o;
  for (var d = i32(params.kept_rank) - 1; d >= 0; d--) {
    let size = dim(params.kept_shape, u32(d));
    base += (rest % size) * dim(params.kept_strides, u32(d));
    rest = rest / size;
  }

  var acc = identity();
  if (in_range) {
    for (var r = lid; r < params.n_reduce; r += WORKGROUP) {
      var offset = base;
      var k = r;
      for (var d = i32(params.reduce_rank) - 1; d >= 0; d--) {
        let size = dim(params.reduce_shape, u32(d));
        offset += (k % size) * dim(params.reduce_strides, u32(d));
        k = k / size;
      }
      acc = combine(acc, x[offset]);
    }
  }
  partial[lid] = acc;
  workgroupBarrier();

  for (var stride = WORKGROUP / 2u; stride > 0u; stride = stride / 2u) {
    if (lid < stride) { partial[lid] = combine(partial[lid], partial[lid + stride]); }
    workgroupBarrier();
  }

  if (in_range && lid == 0u) {
    var result = partial[0];
    if (OP == 1u) { result = result / f32(params.n_reduce); }
    out[o] = result;
  }
}

@compute @workgroup_size(WORKGROUP)
fn main_serial(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let o = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (o >= params.n_out) { return; }

  var offset = 0u;
  var rest = o;
  for (var d = i32(params.kept_rank) - 1; d >= 0; d--) {
    let size = dim(params.kept_shape, u32(d));
    offset += (rest % size) * dim(params.kept_strides, u32(d));
    rest = rest / size;
  }

  var acc = identity();
  if (params.reduce_rank == 1u) {
    // One reduced axis (the host merges neighbouring ones): a plain strided walk.
    let stride = dim(params.reduce_strides, 0u);
    for (var r = 0u; r < params.n_reduce; r++) {
      acc = combine(acc, x[offset]);
      offset += stride;
    }
    if (OP == 1u) { acc = acc / f32(params.n_reduce); }
    out[o] = acc;
    return;
  }

  // `index` holds the coordinates along the reduced axes, innermost last, and advances like
  // an odometer, so the loop steps the input offset instead of dividing per element.
  var index: array<u32, 8>;
  for (var r = 0u; r < params.n_reduce; r++) {
    acc = combine(acc, x[offset]);
    var d = i32(params.reduce_rank) - 1;
    loop {
      if (d < 0) { break; }
      let axis = u32(d);
      index[axis] += 1u;
      offset += dim(params.reduce_strides, axis);
      if (index[axis] < dim(params.reduce_shape, axis)) { break; }
      offset -= index[axis] * dim(params.reduce_strides, axis);
      index[axis] = 0u;
      d -= 1;
    }
  }
  if (OP == 1u) { acc = acc / f32(params.n_reduce); }
  out[o] = acc;
}
