// Tiled GEMM core shared by the three conv2d kernels (implicit GEMM: no im2col buffer).
//
// Each kernel views its convolution as C[M, N] = A[M, K] B[K, N] and supplies three functions:
//   load_a(m, k) -> f32    element of A; called only with k < K, returns 0 when m >= M
//   load_b(k, n) -> f32    element of B, gathered from an image; returns 0 out of range
//   store(m, n, v)         writes one result; ignores m >= M or n >= N
// The core walks K in steps of TILE_K through workgroup memory. A workgroup of WG x WG threads
// computes a TILE_M x TILE_N block of C; thread (x, y) owns rows y + WG * i and columns
// x + WG * j, so that neighbouring threads store neighbouring columns.
//
// Host defines (src/kernels/conv2d.ts): WG, TILE_M, TILE_N, TILE_K, THREAD_M = TILE_M / WG,
// THREAD_N = TILE_N / WG, B_K_FASTEST (load B tiles with k, not n, varying fastest between
// threads, where k is the contiguous direction in memory).

const THREADS = WG * WG;

var<workgroup> tile_a: array<f32, TILE_K * TILE_M>; // [k][m]
var<workgroup> tile_b: array<f32, TILE_K * TILE_N>; // [k][n]

fn gemm_tile(m0: u32, n0: u32, k_begin: u32, k_end: u32, lx: u32, ly: u32) -> array<array<f32, THREAD_N>, THREAD_M> {
  var acc: array<array<f32, THREAD_N>, THREAD_M>;
  let tid = ly * WG + lx;
  for (var k0 = k_begin; k0 < k_end; k0 += TILE_K) {
    // A tiles are loaded with k fastest: every A operand is contiguous along k.
    for (var i = 0u; i < (TILE_K * TILE_M) / THREADS; i++) {
      let idx = tid + i * THREADS;
      let kk = idx % TILE_K;
      let mm = idx / TILE_K;
      var v = 0.0;
      if (k0 + kk < k_end) { v = load_a(m0 + mm, k0 + kk); }
      tile_a[kk * TILE_M + mm] = v;
    }
    for (var i = 0u; i < (TILE_K * TILE_N) / THREADS; i++) {
      let idx = tid + i * THREADS;
      var kk: u32;
      var nn: u32;
      if (B_K_FASTEST) {
        kk = idx % TILE_K;
        nn = idx / TILE_K;
      } else {
        nn = idx % TILE_N;
        kk = idx / TILE_N;
      }
      var v = 0.0;
      if (k0 + kk < k_end) { v = load_b(k0 + kk, n0 + nn); }
      tile_b[kk * TILE_N + nn] = v;
    }
    workgroupBarrier();

    for (var kk = 0u; kk < TILE_K; kk++) {
      var a: array<f32, THREAD_M>;
      var b: array<f32, THREAD_N>;
      for (var i = 0u; i < THREAD_M; i++) { a[i] = tile_a[kk * TILE_M + ly + WG * i]; }
      for (var j = 0u; j < THREAD_N; j++) { b[j] = tile_b[kk * TILE_N + lx + WG * j]; }
      for (var i = 0u; i < THREAD_M; i++) {
        for (var j = 0u; j < THREAD_N; j++) { acc[i][j] = fma(a[i], b[j], acc[i][j]); }
      }
    }
    workgroupBarrier();
  }
  return acc;
}

fn store_tile(m0: u32, n0: u32, lx: u32, ly: u32, acc: array<array<f32, THREAD_N>, THREAD_M>) {
  for (var i = 0u; i < THREAD_M; i++) {
    for (var j = 0u; j < THREAD_N; j++) { store(m0 + ly + WG * i, n0 + lx + WG * j, acc[i][j]); }
  }
}
