// Binary elementwise ops with NumPy broadcasting, one thread per output element.
//
// Host defines:
//   OP        op code, see BINARY in src/kernels/elementwise.ts
//   WORKGROUP threads per workgroup
//   BROADCAST true when a or b is broadcast: indices then go through strides; false when both
//             have the output's shape and the flat index is used directly.
//
// Shapes (rank <= 8) travel in Params: `shape` is the output shape, `a_strides`/`b_strides`
// the element strides of a and b over the output's dimensions (0 on broadcast dimensions).

struct Params {
  n: u32,
  rank: u32,
  alpha: f32,   // the weights of axpby
  beta: f32,
  shape: array<vec4<u32>, 2>,
  a_strides: array<vec4<u32>, 2>,
  b_strides: array<vec4<u32>, 2>,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> out: array<f32>;
@group(0) @binding(3) var<uniform> params: Params;

fn dim(v: array<vec4<u32>, 2>, i: u32) -> u32 {
  return v[i / 4u][i % 4u];
}

fn apply_binary(x: f32, y: f32) -> f32 {
  switch OP {
    case 100u: { return x + y; }
    case 101u: { return x - y; }
    case 102u: { return x * y; }
    case 103u: { return x / y; }
    case 104u: { return max(x, y); }
    case 105u: { return min(x, y); }
    case 106u: { return select(0.0, 1.0, x == y); }
    case 107u: { return select(0.0, 1.0, x > y); }
    case 108u: { return x * params.alpha + y * params.beta; }                   // axpby
    default: { return x; }
  }
}

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>, @builtin(local_invocation_index) lid: u32) {
  let i = linear_workgroup(wid, nwg) * WORKGROUP + lid;
  if (i >= params.n) { return; }
  if (!BROADCAST) {
    out[i] = apply_binary(a[i], b[i]);
    return;
  }
  var rest = i;
  var ia = 0u;
  var ib = 0u;
  for (var d = i32(params.rank) - 1; d >= 0; d--) {
    let size = dim(params.shape, u32(d));
    let coord = rest % size;
    rest = rest / size;
    ia += coord * dim(params.a_strides, u32(d));
    ib += coord * dim(params.b_strides, u32(d));
  }
  out[i] = apply_binary(a[ia], b[ib]);
}
