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
//   TM, TN             rows and columns of C per thread: multiples of 4 (tiled), 4 or 8
//                      (register, whose micro-tile is up to 2 x 2 mat4x4s), TM = 1 (dot).
//   TILE_K             depth of the workgroup-memory tiles (tiled only), a multiple of 4.
//   ALIGNED_A, ALIGNED_B   the operand's offset, batch stride and leading dimension are
//                      multiples of 4, so 4 consecutive elements from a multiple of 4 are one
//                      vec4 load.
//   BIAS               true when C = alpha * op(A) op(B) + bias[column] (+ beta * C).
//
// A and B are bound as arrays of vec4 so that aligned runs of 4 elements are single loads;
// the host rounds their binding sizes up to 16 bytes, inside the pooled buffers (256-byte size
// classes). Reads past the last element of a vec4 run may fetch neighbouring data (the next
// row, or a robust-access value past the end of the buffer) only for rows or columns of C that
// are never stored.
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

@group(0) @binding(0) var<storage, read> a: array<vec4<f32>>;
@group(0) @binding(1) var<storage, read> b: array<vec4<f32>>;
@group(0) @binding(2) var<storage, read_write> c: array<f32>;
// bias: [N], read when BIAS is set; otherwise the host binds A here again (read-only aliasing
// is allowed, and every entry point keeps one bind group layout).
@group(0) @binding(3) var<storage, read> bias: array<f32>;
@group(0) @binding(4) var<uniform> params: Params;

const TILE_M = WG_Y * TM;
const TILE_N = WG_X * TN;
const THREADS = WG_X * WG_Y;

// ---- loads and stores --------------------------------------------------------------------------

fn a_at(index: u32) -> f32 {
  return a[index >> 2u][index & 3u];
}

fn b_at(index: u32) -> f32 {
  return b[index >> 2u][index & 3u];
}

// A[index .. index + 3] of the stored A.
fn a_run(index: u32) -> vec4<f32> {
  if (ALIGNED_A) { return a[index >> 2u]; }
  return vec4<f32>(a_at(index), a_at(index + 1u), a_at(index + 2u), a_at(index + 3u));
}

// B[index .. index + 3] of the stored B.
fn b_run(index: u32) -> vec4<f32> {
  if (ALIGNED_B) { return b[index >> 2u]; }
  return vec4<f32>(b_at(index), b_at(index + 1u), b_at(index + 2u), b_at(index + 3u));
}

// op(A)[i, kk] of the batch entry starting at `base`.
fn load_a(base: u32, i: u32, kk: u32) -> f32 {
  if (TRANS_A) { return a_at(base + kk * params.lda + i); }
  return a_at(base + i * params.lda + kk);
}

// op(B)[kk, j] of the batch entry starting at `base`.
fn load_b(base: u32, kk: u32, j: u32) -> f32 {
  if (TRANS_B) { return b_at(base + j * params.ldb + kk); }
  return b_at(base + kk * params.ldb + j);
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

// Stores row i of a micro-tile, columns j0 .. j0 + 3, skipping columns past N.
fn store_row4(base: u32, i: u32, j0: u32, row: vec4<f32>) {
  if (i >= params.m) { return; }
  for (var q = 0u; q < 4u; q++) {
    if (j0 + q < params.n) { store_c(base, i, j0 + q, row[q]); }
  }
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

// ---- register: micro-tiles straight from storage ----------------------------------------------
//
// Each thread holds C's TM x TN block (TM, TN in {4, 8}) as up to 4 mat4x4s, each with column r
// holding row r of a 4 x 4 sub-block, and consumes K in steps of 4: a 4 x 4 block of op(A) or
// op(B) is 4 vec4 loads, and acc += B_blk^T A_blk^T (= (A_blk B_blk)^T) is 64 FMAs. The
// sub-blocks are written out rather than indexed, because SwiftShader's JIT keeps private
// arrays in memory.

// A_blk^T for rows i0 .. i0 + 3 (clamped rows `rows` where a row is selected) and k .. k + 3.
fn register_a_block(base: u32, i0: u32, rows: vec4<u32>, kk: u32) -> mat4x4<f32> {
  let lda = params.lda;
  if (TRANS_A) {
    let p = base + kk * lda + i0;
    return transpose(mat4x4<f32>(a_run(p), a_run(p + lda), a_run(p + 2u * lda), a_run(p + 3u * lda)));
  }
  let p = base + kk;
  return mat4x4<f32>(a_run(p + rows.x * lda), a_run(p + rows.y * lda), a_run(p + rows.z * lda), a_run(p + rows.w * lda));
}

// B_blk^T for k .. k + 3 and columns j0 .. j0 + 3 (clamped columns `cols` where a row of the
// stored B is selected): column q is row k + q of op(B).
fn register_b_block(base: u32, j0: u32, cols: vec4<u32>, kk: u32) -> mat4x4<f32> {
  let ldb = params.ldb;
  if (TRANS_B) {
    let p = base + kk;
    return transpose(mat4x4<f32>(b_run(p + cols.x * ldb), b_run(p + cols.y * ldb), b_run(p + cols.z * ldb), b_run(p + cols.w * ldb)));
  }
  let p = base + kk * ldb + j0;
  return mat4x4<f32>(b_run(p), b_run(p + ldb), b_run(p + 2u * ldb), b_run(p + 3u * ldb));
}

// 4 indices from `first`, clamped to `last`: rows or columns past the edge compute duplicates
// that are never stored, which keeps bounds checks out of the K loop.
fn clamped4(first: u32, last: u32) -> vec4<u32> {
  return min(vec4<u32>(first, first + 1u, first + 2u, first + 3u), vec4<u32>(last));
}

// The last K % 4 steps of one 4 x 4 sub-block, one rank-1 update each.
fn register_tail(acc: mat4x4<f32>, a_base: u32, rows: vec4<u32>, b_base: u32, cols: vec4<u32>) -> mat4x4<f32> {
  var result = acc;
  for (var kk = params.k & ~3u; kk < params.k; kk++) {
    let av = vec4<f32>(load_a(a_base, rows.x, kk), load_a(a_base, rows.y, kk), load_a(a_base, rows.z, kk), load_a(a_base, rows.w, kk));
    let bv = vec4<f32>(load_b(b_base, kk, cols.x), load_b(b_base, kk, cols.y), load_b(b_base, kk, cols.z), load_b(b_base, kk, cols.w));
    result[0] = fma(vec4<f32>(av.x), bv, result[0]);
    result[1] = fma(vec4<f32>(av.y), bv, result[1]);
    result[2] = fma(vec4<f32>(av.z), bv, result[2]);
    result[3] = fma(vec4<f32>(av.w), bv, result[3]);
  }
  return result;
}

fn store_block(base: u32, i0: u32, j0: u32, acc: mat4x4<f32>) {
  store_row4(base, i0, j0, acc[0]);
  store_row4(base, i0 + 1u, j0, acc[1]);
  store_row4(base, i0 + 2u, j0, acc[2]);
  store_row4(base, i0 + 3u, j0, acc[3]);
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_register(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
                 @builtin(local_invocation_id) lid: vec3<u32>) {
  let tile = tile_of(wid, nwg);
  let i0 = tile.row0 + lid.y * TM;
  let j0 = tile.col0 + lid.x * TN;
  // No barriers in this variant, so threads past the edge may leave early.
  if (!tile.valid || i0 >= params.m || j0 >= params.n) { return; }
  let a_base = params.a_offset + tile.batch * params.a_batch_stride;
  let b_base = params.b_offset + tile.batch * params.b_batch_stride;
  let rows0 = clamped4(i0, params.m - 1u);
  let rows1 = clamped4(i0 + 4u, params.m - 1u);
  let cols0 = clamped4(j0, params.n - 1u);
  let cols1 = clamped4(j0 + 4u, params.n - 1u);

  // acc_rc: sub-block of rows i0 + 4r .. and columns j0 + 4c ..; the second row or column of
  // sub-blocks exists only when TM or TN is 8.
  var acc00 = mat4x4<f32>();
  var acc01 = mat4x4<f32>();
  var acc10 = mat4x4<f32>();
  var acc11 = mat4x4<f32>();
  let k4 = params.k & ~3u;
  for (var kk = 0u; kk < k4; kk += 4u) {
    let am0 = register_a_block(a_base, i0, rows0, kk);
    let bm0 = register_b_block(b_base, j0, cols0, kk);
    acc00 += bm0 * am0;
    if (TN == 8u) {
      let bm1 = register_b_block(b_base, j0 + 4u, cols1, kk);
      acc01 += bm1 * am0;
      if (TM == 8u) {
        let am1 = register_a_block(a_base, i0 + 4u, rows1, kk);
        acc10 += bm0 * am1;
        acc11 += bm1 * am1;
      }
    } else if (TM == 8u) {
      let am1 = register_a_block(a_base, i0 + 4u, rows1, kk);
      acc10 += bm0 * am1;
    }
  }

  let c_base = params.c_offset + tile.batch * params.c_batch_stride;
  store_block(c_base, i0, j0, register_tail(acc00, a_base, rows0, b_base, cols0));
  if (TN == 8u) { store_block(c_base, i0, j0 + 4u, register_tail(acc01, a_base, rows0, b_base, cols1)); }
  if (TM == 8u) { store_block(c_base, i0 + 4u, j0, register_tail(acc10, a_base, rows1, b_base, cols0)); }
  if (TM == 8u && TN == 8u) { store_block(c_base, i0 + 4u, j0 + 4u, register_tail(acc11, a_base, rows1, b_base, cols1)); }
}

// ---- tiled: workgroup-memory tiles and TM x TN micro-tiles -------------------------------------
//
// Per step of TILE_K, the workgroup stages a TILE_K x TILE_M slice of op(A) and a TILE_K x
// TILE_N slice of op(B) in workgroup memory, both k-major so that a thread reads its rows and
// columns as vec4s. A thread's TM rows are TM / 4 runs of 4 spaced TILE_M / (TM / 4) apart
// (likewise for columns), so neighbouring threads read neighbouring vec4s.

const TM4 = TM / 4u;
const TN4 = TN / 4u;
// Vec4 runs per tile row; at least 1 so that the module also compiles for the dot variant's
// one-row tiles (every entry point is validated, used or not).
const TILE_M4 = max(TILE_M / 4u, 1u);
const TILE_N4 = max(TILE_N / 4u, 1u);
var<workgroup> tile_a: array<vec4<f32>, TILE_K * TILE_M4>;   // [TILE_K][TILE_M / 4]
var<workgroup> tile_b: array<vec4<f32>, TILE_K * TILE_N4>;   // [TILE_K][TILE_N / 4]

// op(A)[i .. i + 3 along the run, kk] for staging: one vec4 when aligned and inside the matrix,
// otherwise element by element with zeros outside.
fn stage_a(base: u32, i: u32, kk: u32, along_k: bool) -> vec4<f32> {
  // along_k: the run covers kk .. kk + 3 of row i; otherwise rows i .. i + 3 at kk.
  if (along_k) {
    if (ALIGNED_A && i < params.m && kk + 3u < params.k) { return a_run(base + i * params.lda + kk); }
    var v = vec4<f32>();
    for (var q = 0u; q < 4u; q++) {
      if (i < params.m && kk + q < params.k) { v[q] = a_at(base + i * params.lda + kk + q); }
    }
    return v;
  }
  if (ALIGNED_A && i + 3u < params.m && kk < params.k) { return a_run(base + kk * params.lda + i); }
  var v = vec4<f32>();
  for (var q = 0u; q < 4u; q++) {
    if (i + q < params.m && kk < params.k) { v[q] = a_at(base + kk * params.lda + i + q); }
  }
  return v;
}

// op(B)[kk, j .. j + 3] (along_k false) or op(B)[kk .. kk + 3, j] (along_k true) for staging.
fn stage_b(base: u32, kk: u32, j: u32, along_k: bool) -> vec4<f32> {
  if (along_k) {
    if (ALIGNED_B && j < params.n && kk + 3u < params.k) { return b_run(base + j * params.ldb + kk); }
    var v = vec4<f32>();
    for (var q = 0u; q < 4u; q++) {
      if (j < params.n && kk + q < params.k) { v[q] = b_at(base + j * params.ldb + kk + q); }
    }
    return v;
  }
  if (ALIGNED_B && j + 3u < params.n && kk < params.k) { return b_run(base + kk * params.ldb + j); }
  var v = vec4<f32>();
  for (var q = 0u; q < 4u; q++) {
    if (j + q < params.n && kk < params.k) { v[q] = b_at(base + kk * params.ldb + j + q); }
  }
  return v;
}

@compute @workgroup_size(WG_X, WG_Y)
fn main_tiled(@builtin(workgroup_id) wid: vec3<u32>, @builtin(num_workgroups) nwg: vec3<u32>,
              @builtin(local_invocation_id) lid: vec3<u32>, @builtin(local_invocation_index) tid: u32) {
  let tile = tile_of(wid, nwg);
  // Every thread reaches every barrier, so a workgroup past the end returns as a whole.
  if (!tile.valid) { return; }
  let a_base = params.a_offset + tile.batch * params.a_batch_stride;
  let b_base = params.b_offset + tile.batch * params.b_batch_stride;

  var acc: array<vec4<f32>, TM * TN4>;   // acc[r * TN4 + q]: row r, columns of run q
  for (var k0 = 0u; k0 < params.k; k0 += TILE_K) {
    // Stage op(A): TILE_K x TILE_M as vec4 runs. Transposed A has rows contiguous, so a run
    // goes straight in; otherwise a run lies along k and is scattered into 4 k-rows.
    for (var v = tid; v < TILE_K * TILE_M4; v += THREADS) {
      if (TRANS_A) {
        let kk = v / TILE_M4;
        let i4 = v % TILE_M4;
        tile_a[kk * TILE_M4 + i4] = stage_a(a_base, tile.row0 + 4u * i4, k0 + kk, false);
      } else {
        let i = v / (TILE_K / 4u);
        let k4 = v % (TILE_K / 4u);
        let run = stage_a(a_base, tile.row0 + i, k0 + 4u * k4, true);
        for (var q = 0u; q < 4u; q++) { tile_a[(4u * k4 + q) * TILE_M4 + i / 4u][i % 4u] = run[q]; }
      }
    }
    // Stage op(B): TILE_K x TILE_N, likewise.
    for (var v = tid; v < TILE_K * TILE_N4; v += THREADS) {
      if (TRANS_B) {
        let j = v / (TILE_K / 4u);
        let k4 = v % (TILE_K / 4u);
        let run = stage_b(b_base, k0 + 4u * k4, tile.col0 + j, true);
        for (var q = 0u; q < 4u; q++) { tile_b[(4u * k4 + q) * TILE_N4 + j / 4u][j % 4u] = run[q]; }
      } else {
        let kk = v / TILE_N4;
        let j4 = v % TILE_N4;
        tile_b[kk * TILE_N4 + j4] = stage_b(b_base, k0 + kk, tile.col0 + 4u * j4, false);
      }
    }
    workgroupBarrier();

    for (var kk = 0u; kk < TILE_K; kk++) {
      var bv: array<vec4<f32>, TN4>;
      for (var q = 0u; q < TN4; q++) { bv[q] = tile_b[kk * TILE_N4 + q * WG_X + lid.x]; }
      for (var p = 0u; p < TM4; p++) {
        let av = tile_a[kk * TILE_M4 + p * WG_Y + lid.y];
        for (var r = 0u; r < 4u; r++) {
          for (var q = 0u; q < TN4; q++) {
            acc[(4u * p + r) * TN4 + q] = fma(vec4<f32>(av[r]), bv[q], acc[(4u * p + r) * TN4 + q]);
          }
        }
      }
    }
    workgroupBarrier();
  }

  let c_base = params.c_offset + tile.batch * params.c_batch_stride;
  for (var p = 0u; p < TM4; p++) {
    for (var r = 0u; r < 4u; r++) {
      let i = tile.row0 + 4u * (p * WG_Y + lid.y) + r;
      for (var q = 0u; q < TN4; q++) {
        store_row4(c_base, i, tile.col0 + 4u * (q * WG_X + lid.x), acc[(4u * p + r) * TN4 + q]);
      }
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
    var x: vec4<f32>;
    if (TRANS_A) {
      x = vec4<f32>(load_a(a_base, i, kk), load_a(a_base, i, kk + 1u), load_a(a_base, i, kk + 2u), load_a(a_base, i, kk + 3u));
    } else {
      x = a_run(a_base + i * params.lda + kk);
    }
    for (var q = 0u; q < TN; q++) {
      var y: vec4<f32>;
      if (TRANS_B) {
        y = b_run(b_base + cols[q] * params.ldb + kk);
      } else {
        let j = cols[q];
        y = vec4<f32>(load_b(b_base, kk, j), load_b(b_base, kk + 1u, j), load_b(b_base, kk + 2u, j), load_b(b_base, kk + 3u, j));
      }
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
