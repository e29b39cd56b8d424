// Batched GEMM: C[b] = alpha * op(A[b]) op(B[b]) + beta * C[b] for b in 0..batch.
//
// Dimension legend: M rows of C, N columns of C, K the inner dimension. op(A) is [M, K] and
// op(B) is [K, N]; with TRANS_A the stored A is [K, M], with TRANS_B the stored B is [N, K].
// Matrices are row-major inside their buffers, at element offsets and leading dimensions
// (row strides) given in Params; a batch stride of 0 broadcasts that operand.
//
// Variants are entry points:
//   main_tiled     workgroup-memory tiles of TILE_M x TILE_K and TILE_K x TILE_N, each thread
//                  accumulating a TM x TN micro-tile (for real GPUs);
//   main_register  the same micro-tiles read straight from storage, with no workgroup memory
//                  and no barriers (for SwiftShader, where barriers are expensive);
//   main_dot       one thread per output element and a plain K loop (M = 1 or N = 1).
//
// Host defines (src/kernels/gemm.ts derives them from one constant per variant):
//   TRANS_A, TRANS_B   whether the stored operands are transposed.
//   WG_X, WG_Y         threads per workgroup along N and along M.
//   TM, TN             rows and columns of C per thread; TN is a multiple of 4.
//   TILE_K             depth of the workgroup-memory tiles (tiled only).
//   BIAS               true when C = alpha * op(A) op(B) + bias[column] (+ beta * C).
//
// One workgroup computes a tile of (WG_Y * TM) x (WG_X * TN) outputs of one batch entry.
// Workgroups are numbered linearly (tile column fastest, then tile row, then batch) so that
// grids beyond maxComputeWorkgroupsPerDimension fold into x and y.

struct Params {
  m: u32,
  n: u32,
  k: u32,
  batch: u32,
  a_offset: u32,
  a_batch_stride: u32,
  lda: u32,
  b_offset: u32,
  b_batch_stride: u32,
  ldb: u32,
  c_offset: u32,
  c_batch_stride: u32,
  ldc: u32,
  tiles_n: u32,   // workgroups along N
  tiles_m: u32,   // workgroups along M
  alpha: f32,
  beta: f32,
  bias_offset: u32,
}

@group(0) @binding(0) var<storage, read> a: array<f32>;
@group(0) @binding(1) var<storage, read> b: array<f32>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
// bias: [N], read when BIAS is set; otherwise the host binds A here again (read-only aliasing
// is allowed, and every entry point keeps one bind group layout).
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const TILE_M = WG_Y * TM;
const TILE_N = WG_X * TN;
const TN4 = TN / 4u;

// op(A)[i, kk] of the batch entry starting at `base`.
fn load_a(base: u32, i: u32, kk: u32) -> f32 {
  if (TRANS_A) { return a[base + kk * params.lda + i]; }
  return a[base + i * params.lda + kk];
}

// op(B)[kk, j] of the batch entry starting at `base`.
fn load_b(base: u32, kk: u32, j: u32) -> f32 {
  if (TRANS_B) { return b[base + j * params.ldb + kk]; }
  return b[base + kk * params.ldb + j];
}

// Writes one output: alpha * acc (+ bias) (+ beta * C). C is only read when beta != 0, so
// uninitialised memory (possibly NaN) is never mixed in when beta is 0.
fn store_c(base: u32, i: u32, j: u32, acc: f32) {
  let index = base + i * params.ldc + j;
  var value = params.alpha * acc;
  if (BIAS) { value += bias[params.bias_offset + j]; }
  if (params.beta != 0.0) { value += params.beta * c[index]; }
  c[index] = value;
}

struct Tile {
  batch: u32,
  row0: u32,   // first row of the workgroup's tile
  col0: u32,   // first column of the workgroup's tile
  valid: bool,
}

fn tile_of(wid: vec3<u32>, nwg: vec3<u32>) -> Tile {
  let id = linear_workgroup(wid, nwg);
  let per_batch = params.tiles_n * params.tiles_m;
  let batch = id / per_batch;
  let rest = id % per_batch;
  return Tile(batch, (rest / params.tiles_n) * TILE_M, (rest % params.tiles_n) * TILE_N, batch < params.batch);
}

// ---- register: micro-tiles straight from storage -------------------------------------------

@compute @workgroup_size(WG_X, WG_Y)
fn main_register(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_id) lid: vec3<u32>) {
  let tile = tile_of(wid, nwg);
  let row0 = tile.row0 + lid.y * TM;
  let col0 = tile.col0 + lid.x * TN;
  // No barriers in this variant, so threads past the edge may leave early.
  if (!tile.valid || row0 >= params.m || col0 >= params.n) { return; }
  let a_base = params.a_offset + tile.batch * params.a_batch_stride;
  let b_base = params.b_offset + tile.batch * params.b_batch_stride;

  // Rows and columns past the edge are clamped to the last one: they compute a duplicate that
  // is never stored, which keeps bounds checks out of the K loop.
  var rows: array<u32, TM>;
  for (var r = 0u; r < TM; r++) { rows[r] = min(row0 + r, params.m - 1u); }
  var cols: array<u32, TN>;
  for (var q = 0u; q < TN; q++) { cols[q] = min(col0 + q, params.n - 1u); }

  var acc: array<vec4<f32>, TM * TN4>;
  for (var kk = 0u; kk < params.k; kk++) {
    var av: array<f32, TM>;
    for (var r = 0u; r < TM; r++) { av[r] = load_a(a_base, rows[r], kk); }
    var bv: array<vec4<f32>, TN4>;
    for (var q = 0u; q < TN4; q++) {
      bv[q] = vec4<f32>(load_b(b_base, kk, cols[4u * q]), load_b(b_base, kk, cols[4u * q + 1u]),
                        load_b(b_base, kk, cols[4u * q + 2u]), load_b(b_base, kk, cols[4u * q + 3u]));
    }
    for (var r = 0u; r < TM; r++) {
      for (var q = 0u; q < TN4; q++) { acc[r * TN4 + q] = fma(vec4<f32>(av[r]), bv[q], acc[r * TN4 + q]); }
    }
  }

  let c_base = params.c_offset + tile.batch * params.c_batch_stride;
  for (var r = 0u; r < TM; r++) {
    if (row0 + r >= params.m) { break; }
    for (var q = 0u; q < TN; q++) {
      if (col0 + q >= params.n) { break; }
      store_c(c_base, row0 + r, col0 + q, acc[r * TN4 + q / 4u][q % 4u]);
    }
  }
}

// ---- dot: small M (GEMV), one row and TN columns per thread ----------------------------------

@compute @workgroup_size(WG_X, WG_Y)
fn main_dot(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
            @builtin(local_invocation_id) lid: vec3<u32>) {
  let tile = tile_of(wid, nwg);
  let i = tile.row0 + lid.y * TM;
  let col0 = tile.col0 + lid.x * TN;
  if (!tile.valid || i >= params.m || col0 >= params.n) { return; }
  let a_base = params.a_offset + tile.batch * params.a_batch_stride;
  let b_base = params.b_offset + tile.batch * params.b_batch_stride;
  var cols: array<u32, TN>;
  for (var q = 0u; q < TN; q++) { cols[q] = min(col0 + q, params.n - 1u); }

  // K runs in steps of 4 with one vec4 of partial sums per column, which shortens the
  // dependency chain and reads 4 consecutive elements of whichever operand has K contiguous.
  var acc: array<vec4<f32>, TN>;
  let k4 = params.k & ~3u;
  for (var kk = 0u; kk < k4; kk += 4u) {
    let x = vec4<f32>(load_a(a_base, i, kk), load_a(a_base, i, kk + 1u), load_a(a_base, i, kk + 2u), load_a(a_base, i, kk + 3u));
    for (var q = 0u; q < TN; q++) {
      let j = cols[q];
      let y = vec4<f32>(load_b(b_base, kk, j), load_b(b_base, kk + 1u, j), load_b(b_base, kk + 2u, j), load_b(b_base, kk + 3u, j));
      acc[q] = fma(x, y, acc[q]);
    }
  }

  let c_base = params.c_offset + tile.batch * params.c_batch_stride;
  for (var q = 0u; q < TN; q++) {
    if (col0 + q >= params.n) { break; }
    var total = (acc[q].x + acc[q].y) + (acc[q].z + acc[q].w);
    for (var kk = k4; kk < params.k; kk++) { total = fma(load_a(a_base, i, kk), load_b(b_base, kk, cols[q]), total); }
    store_c(c_base, i, col0 + q, total);
  }
}
