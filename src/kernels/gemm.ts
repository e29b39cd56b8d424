/**
 * Batched GEMM (shaders/gemm.wgsl): C = alpha * op(A) op(B) + beta * C, with either operand
 * transposed, batch strides (0 broadcasts an operand) and element offsets, so that a kernel can
 * read and write channel slices of a larger buffer without copies.
 *
 * Dimension legend: M rows of C, N columns of C, K the inner dimension. op(A) is [M, K]; with
 * `transA` the stored A is [K, M]. op(B) is [K, N]; with `transB` the stored B is [N, K].
 *
 * Variants (entry points of the one shader), each with its tile sizes in one constant below:
 * - `tiled`: workgroup-memory tiles and a per-thread micro-tile, for real GPUs;
 * - `register`, `register8`: micro-tiles read straight from storage, without workgroup memory
 *   or barriers, for CPU adapters (on SwiftShader a barrier costs more than the loads it saves);
 * - `dot`: one row and a few columns per thread with a vectorised K loop, for M = 1 (GEMV).
 */
import gemmSource from '../../shaders/gemm.wgsl';
import { getEngine, type Binding } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape, sizeOf } from '../autograd/tensor.ts';

export type GemmVariant = 'tiled' | 'register' | 'register8' | 'dot';

interface VariantConfig {
  entry: string;
  /** Threads per workgroup along N and along M. */
  wgX: number;
  wgY: number;
  /** Rows and columns of C per thread. */
  tm: number;
  tn: number;
  /** Depth of the workgroup-memory tiles (read by the tiled variant only), a multiple of 4. */
  tileK: number;
}

/**
 * Tile sizes of every variant; the shader receives them as defines.
 * - tiled: 128 x 128 tiles, 8 x 8 per thread (as two runs of 4 in each direction), K in steps
 *   of 8 through 2 x 4 KiB of workgroup memory: 64 FMAs per 4 workgroup-memory vec4 reads.
 * - register: 4 x 4 per thread (one mat4x4), 8 x 8 threads, for lavapipe, whose 8 SIMD lanes
 *   hold one scalar of each thread per AVX register: 16 accumulators already fill them.
 * - register8: 8 x 8 per thread (four mat4x4s), for SwiftShader, where it halves the loads per
 *   FMA. Timed by process CPU time on 512 x 512 x 512 products (2-core AVX2 host, Mesa 25.0.7,
 *   SwiftShader 5.0.0), it did 1.6x the work of the 4 x 4 tile on SwiftShader and 0.7x on
 *   lavapipe.
 * - dot: 64 threads of one row and 4 columns each (tm must be 1).
 */
export const GEMM_VARIANTS: Record<GemmVariant, VariantConfig> = {
  tiled: { entry: 'main_tiled', wgX: 16, wgY: 16, tm: 8, tn: 8, tileK: 8 },
  register: { entry: 'main_register', wgX: 8, wgY: 8, tm: 4, tn: 4, tileK: 4 },
  register8: { entry: 'main_register', wgX: 8, wgY: 8, tm: 8, tn: 8, tileK: 4 },
  dot: { entry: 'main_dot', wgX: 64, wgY: 1, tm: 1, tn: 4, tileK: 4 },
};

/** Rejects tile sizes the shader cannot run, naming the variant and the rule. */
function checkConfig(variant: GemmVariant, config: VariantConfig): void {
  const problems: string[] = [];
  if (config.tileK % 4 !== 0 || config.tileK < 4) problems.push(`tileK ${config.tileK} must be a positive multiple of 4`);
  if (config.entry === 'main_tiled' && (config.tm % 4 !== 0 || config.tn % 4 !== 0)) problems.push(`tm ${config.tm} and tn ${config.tn} must be multiples of 4`);
  if (config.entry === 'main_register' && ![4, 8].includes(config.tm)) problems.push(`tm must be 4 or 8, got ${config.tm}`);
  if (config.entry === 'main_register' && ![4, 8].includes(config.tn)) problems.push(`tn must be 4 or 8, got ${config.tn}`);
  if (config.entry === 'main_dot' && config.tm !== 1) problems.push(`tm must be 1, got ${config.tm}`);
  const limits = getEngine().limits;
  if (config.wgX * config.wgY > limits.maxComputeInvocationsPerWorkgroup) {
    problems.push(`${config.wgX} x ${config.wgY} threads exceed maxComputeInvocationsPerWorkgroup ${limits.maxComputeInvocationsPerWorkgroup}`);
  }
  if (problems.length > 0) throw new Error(`gemm: invalid ${variant} tile configuration: ${problems.join('; ')}`);
}

let forcedVariant: GemmVariant | null = null;

/**
 * Forces one variant for every GEMM (tests run the same cases on each); null restores the
 * automatic choice. Returns the previous setting, for restoring in a `finally`.
 */
export function setGemmVariant(variant: GemmVariant | null): GemmVariant | null {
  if (variant !== null && !(variant in GEMM_VARIANTS)) {
    throw new Error(`setGemmVariant: unknown variant "${variant}"; expected one of ${Object.keys(GEMM_VARIANTS).join(', ')} or null`);
  }
  const previous = forcedVariant;
  forcedVariant = variant;
  return previous;
}

/**
 * Chooses the variant for a problem on the current adapter: `dot` for a single row, `register8`
 * on SwiftShader, `register` on lavapipe and other software adapters, and on GPUs `dot` below
 * 8 rows and `tiled` otherwise.
 */
export function chooseGemmVariant(m: number, _n: number, _k: number): GemmVariant {
  if (forcedVariant) return forcedVariant;
  if (m === 1) return 'dot';
  const adapter = getEngine().adapter;
  if (adapter.kind === 'swiftshader') return 'register8';
  if (adapter.isSoftware || adapter.kind === 'lavapipe') return 'register';
  // NOTE: the cut-off of 8 rows is an estimate (unmeasured on a GPU): below it a 128-row tile
  // would idle most of its threads, while the dot variant spreads the columns over threads.
  if (m < 8) return 'dot';
  return 'tiled';
}

export interface GemmIntoArgs {
  a: Tensor;
  b: Tensor;
  c: Tensor;
  m: number;
  n: number;
  k: number;
  batch?: number;
  transA?: boolean;
  transB?: boolean;
  /** Element offsets of the first matrix of each operand inside its tensor's buffer. */
  aOffset?: number;
  bOffset?: number;
  cOffset?: number;
  /** Elements between consecutive batch entries; 0 broadcasts A or B. Default: one matrix. */
  aBatchStride?: number;
  bBatchStride?: number;
  cBatchStride?: number;
  /** Row strides of the stored matrices. Default: contiguous rows (K or M for A, N or K for B, N for C). */
  lda?: number;
  ldb?: number;
  ldc?: number;
  alpha?: number;
  /** 0 overwrites C (never reading it); 1 accumulates. */
  beta?: number;
  /** Optional [N] values added to every row of C (at `biasOffset`). */
  bias?: Tensor;
  biasOffset?: number;
  /** Forces a variant for this call. */
  variant?: GemmVariant;
}

function checkInteger(value: number, what: string): void {
  if (!Number.isInteger(value) || value < 0) throw new Error(`gemm: ${what} must be a non-negative integer, got ${value}`);
}

/** Largest element index touched in a strided operand, plus one. */
function extent(offset: number, batchStride: number, batch: number, rows: number, ld: number, cols: number): number {
  if (rows === 0 || cols === 0 || batch === 0) return 0;
  return offset + (batch - 1) * batchStride + (rows - 1) * ld + cols;
}

/**
 * Returns the binding of a tensor read as `array<vec4<f32>>`. Its size is rounded up to 16
 * bytes so that the last partial run is addressable. Pooled buffers come in 256-byte size
 * classes, so the rounded size stays inside the buffer.
 */
function vec4Binding(t: Tensor): Binding {
  const binding = t.binding();
  const byteSize = Math.min(Math.ceil(binding.byteSize / 16) * 16, binding.entry.byteSize);
  return { ...binding, byteSize: Math.max(16, byteSize) };
}

/**
 * Records C = alpha * op(A) op(B) (+ bias) + beta * C on element offsets and strides inside the
 * tensors' buffers. Every access is checked against the tensors' sizes before dispatch.
 */
export function gemmInto(args: GemmIntoArgs): void {
  const { a, b, c, m, n, k } = args;
  const batch = args.batch ?? 1;
  const transA = args.transA ?? false;
  const transB = args.transB ?? false;
  const lda = args.lda ?? (transA ? m : k);
  const ldb = args.ldb ?? (transB ? k : n);
  const ldc = args.ldc ?? n;
  const aOffset = args.aOffset ?? 0;
  const bOffset = args.bOffset ?? 0;
  const cOffset = args.cOffset ?? 0;
  const aBatchStride = args.aBatchStride ?? m * k;
  const bBatchStride = args.bBatchStride ?? k * n;
  const cBatchStride = args.cBatchStride ?? m * n;
  const alpha = args.alpha ?? 1;
  const beta = args.beta ?? 0;
  const biasOffset = args.biasOffset ?? 0;

  const integers: [number, string][] = [
    [m, 'm'], [n, 'n'], [k, 'k'], [batch, 'batch'], [lda, 'lda'], [ldb, 'ldb'], [ldc, 'ldc'],
    [aOffset, 'aOffset'], [bOffset, 'bOffset'], [cOffset, 'cOffset'], [biasOffset, 'biasOffset'],
    [aBatchStride, 'aBatchStride'], [bBatchStride, 'bBatchStride'], [cBatchStride, 'cBatchStride'],
  ];
  for (const [value, what] of integers) checkInteger(value, what);
  for (const t of [a, b, c, ...(args.bias ? [args.bias] : [])]) {
    if (t.dtype !== 'f32') throw new Error(`gemm: needs f32 tensors; ${t.name} is ${t.dtype}`);
  }
  if (lda < (transA ? m : k)) throw new Error(`gemm: lda ${lda} is smaller than a row of the stored A (${transA ? m : k} elements)`);
  if (ldb < (transB ? k : n)) throw new Error(`gemm: ldb ${ldb} is smaller than a row of the stored B (${transB ? k : n} elements)`);
  if (ldc < n) throw new Error(`gemm: ldc ${ldc} is smaller than a row of C (${n} elements)`);

  // Every element the kernel may touch must lie inside its tensor.
  const bounds: [Tensor, number, string][] = [
    [a, extent(aOffset, aBatchStride, batch, transA ? k : m, lda, transA ? m : k), 'A'],
    [b, extent(bOffset, bBatchStride, batch, transB ? n : k, ldb, transB ? k : n), 'B'],
    [c, extent(cOffset, cBatchStride, batch, m, ldc, n), 'C'],
  ];
  if (args.bias) bounds.push([args.bias, m > 0 ? biasOffset + n : 0, 'bias']);
  for (const [t, needed, what] of bounds) {
    if (needed > t.size) {
      throw new Error(
        `gemm: ${what} (${t.name} ${formatShape(t.shape)}, ${t.size} elements) is too small for m=${m} n=${n} k=${k} batch=${batch} ` +
          `with its offset and strides, which reach element ${needed - 1}; check the offsets, strides and transposes`,
      );
    }
  }
  if (c.storage === a.storage || c.storage === b.storage || (args.bias && c.storage === args.bias.storage)) {
    throw new Error(`gemm: the output ${c.name} shares storage with an input; write into a separate tensor`);
  }
  if (m === 0 || n === 0 || batch === 0) return;

  const variant = args.variant ?? chooseGemmVariant(m, n, k);
  const config = GEMM_VARIANTS[variant];
  if (!config) throw new Error(`gemm: unknown variant "${variant}"; expected one of ${Object.keys(GEMM_VARIANTS).join(', ')}`);
  checkConfig(variant, config);
  const tileM = config.wgY * config.tm;
  const tileN = config.wgX * config.tn;
  const tilesM = Math.ceil(m / tileM);
  const tilesN = Math.ceil(n / tileN);
  const hasBias = args.bias !== undefined;
  // An operand is read in aligned vec4 runs when every matrix and row starts at a multiple of 4.
  const aligned = (offset: number, batchStride: number, ld: number) =>
    offset % 4 === 0 && (batch === 1 || batchStride % 4 === 0) && ld % 4 === 0;

  getEngine().dispatch({
    kernel: {
      family: 'gemm',
      source: gemmSource,
      entry: config.entry,
      defines: {
        TRANS_A: transA, TRANS_B: transB, BIAS: hasBias,
        ALIGNED_A: aligned(aOffset, aBatchStride, lda), ALIGNED_B: aligned(bOffset, bBatchStride, ldb),
        WG_X: config.wgX, WG_Y: config.wgY, TM: config.tm, TN: config.tn, TILE_K: config.tileK,
      },
    },
    // A stands in for the bias binding when there is none: every entry point keeps one layout.
    bindings: [vec4Binding(a), vec4Binding(b), c.binding(), (args.bias ?? a).binding()],
    uniforms: new Uniforms(20)
      .u32(m, n, k, batch, aOffset, aBatchStride, lda, bOffset, bBatchStride, ldb, cOffset, cBatchStride, ldc, tilesN, tilesM)
      .f32(alpha, beta)
      .u32(biasOffset)
      .finish(),
    workgroups: tilesM * tilesN * batch,
  });
}

export interface GemmOptions {
  transA?: boolean;
  transB?: boolean;
  name?: string;
  /** Optional [N] values added to every row of the result. */
  bias?: Tensor;
  variant?: GemmVariant;
}

/** Splits an operand's shape into its leading (batch) dimensions and the stored matrix's rows and columns. */
function splitBatch(t: Tensor, what: string): { lead: number[]; rows: number; cols: number } {
  if (t.rank < 2) throw new Error(`gemm: ${what} ${t.name} ${formatShape(t.shape)} must have rank 2 or more`);
  return { lead: t.shape.slice(0, -2), rows: t.shape[t.rank - 2], cols: t.shape[t.rank - 1] };
}

/**
 * Returns op(A) op(B) as a new tensor. A is [..., M, K] (or [..., K, M] with `transA`) and B is
 * [..., K, N] (or [..., N, K] with `transB`). The leading (batch) dimensions must be equal, or
 * one operand must have none or only size-1 ones, in which case it is broadcast; the result is
 * [..., M, N] with the longer set of leading dimensions.
 */
export function gemm(a: Tensor, b: Tensor, options: GemmOptions = {}): Tensor {
  const transA = options.transA ?? false;
  const transB = options.transB ?? false;
  const sa = splitBatch(a, 'A');
  const sb = splitBatch(b, 'B');
  const [m, ka] = transA ? [sa.cols, sa.rows] : [sa.rows, sa.cols];
  const [kb, n] = transB ? [sb.cols, sb.rows] : [sb.rows, sb.cols];
  const describe = () =>
    `A ${formatShape(a.shape)}${transA ? ' (transposed)' : ''} and B ${formatShape(b.shape)}${transB ? ' (transposed)' : ''}`;
  if (ka !== kb) throw new Error(`gemm: inner dimensions differ for ${describe()}: op(A) has K=${ka}, op(B) has K=${kb}`);

  const batchA = sizeOf(sa.lead);
  const batchB = sizeOf(sb.lead);
  let lead: number[];
  if (sa.lead.length === sb.lead.length && sa.lead.every((d, i) => d === sb.lead[i])) lead = sa.lead;
  else if (batchB === 1) lead = sa.lead.length >= sb.lead.length ? sa.lead : [...new Array(sb.lead.length - sa.lead.length).fill(1), ...sa.lead];
  else if (batchA === 1) lead = sb.lead.length >= sa.lead.length ? sb.lead : [...new Array(sa.lead.length - sb.lead.length).fill(1), ...sb.lead];
  else throw new Error(`gemm: batch dimensions of ${describe()} differ; they must be equal or one operand must have batch size 1`);
  const batch = sizeOf(lead);

  if (options.bias && (options.bias.rank !== 1 || options.bias.shape[0] !== n)) {
    throw new Error(`gemm: bias ${options.bias.name} ${formatShape(options.bias.shape)} must be [${n}] for ${describe()}`);
  }
  const c = Tensor.empty([...lead, m, n], 'f32', options.name ?? 'gemm');
  if (batchB === 1 && batch > 1 && !transA && batchA === batch) {
    // A shared B and row-major A stack into one [batch * M, K] x [K, N] product, which
    // wastes fewer edge tiles than `batch` separate ones.
    gemmInto({ a, b, c, m: batch * m, n, k: ka, transA, transB, bias: options.bias, variant: options.variant });
    return c;
  }
  gemmInto({
    a, b, c, m, n, k: ka, batch, transA, transB,
    aBatchStride: batchA === 1 ? 0 : m * ka,
    bBatchStride: batchB === 1 ? 0 : ka * n,
    bias: options.bias,
    variant: options.variant,
  });
  return c;
}
