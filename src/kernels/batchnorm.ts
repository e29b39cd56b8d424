/**
 * Batchnorm over NCHW feature views, in three passes (shaders/batchnorm_*.wgsl): partial
 * Welford statistics per chunk of a channel, a per-channel merge that also updates the running
 * statistics and yields the affine map (scale, shift), and the elementwise normalisation with
 * an optional fused ReLU. Backward mirrors it: partial sums of the gradient, a per-channel merge
 * into dgamma, dbeta and the coefficients of dx, and an elementwise pass that can add into a
 * channel slice of a dense block's gradient buffer.
 */
import statsSource from '../../shaders/batchnorm_stats.wgsl';
import finalizeSource from '../../shaders/batchnorm_finalize.wgsl';
import applySource from '../../shaders/batchnorm_apply.wgsl';
import gradStatsSource from '../../shaders/batchnorm_grad_stats.wgsl';
import gradFinalizeSource from '../../shaders/batchnorm_grad_finalize.wgsl';
import gradInputSource from '../../shaders/batchnorm_grad_input.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape } from '../autograd/tensor.ts';
import { featureView, viewShape, type FeatureView } from './conv2d.ts';
import { serialReductions } from './strategy.ts';

const WORKGROUP = 256;
/** Values of one channel that one statistics workgroup reduces, unless that needs too many chunks. */
const CHUNK = 4096;
/** Values of one channel that one thread reduces in the serial statistics passes. */
const SERIAL_CHUNK = 256;
/** Threads per workgroup of the serial statistics passes. */
const SERIAL_WORKGROUP = 64;
/** Maximum chunks per channel, because the per-channel merge is sequential over them. */
const MAX_CHUNKS = 512;


interface StatisticsPlan {
  entry: 'main' | 'main_serial';
  workgroupSize: number;
  chunk: number;
  chunks: number;
  workgroups: number;
}

/**
 * Chooses how the elementwise passes (apply, input gradient) spread `values` values in `rows`
 * (image, channel) rows: a thread per value on GPUs, a thread per row on software adapters
 * (see the shaders' main_rows).
 */
function elementwisePlan(rows: number, values: number): { entry: string; workgroupSize: number; workgroups: number } {
  if (serialReductions()) return { entry: 'main_rows', workgroupSize: SERIAL_WORKGROUP, workgroups: Math.ceil(rows / SERIAL_WORKGROUP) };
  return { entry: 'main', workgroupSize: WORKGROUP, workgroups: Math.ceil(values / WORKGROUP) };
}

/**
 * Chooses the statistics variant (a workgroup or a thread per chunk, see strategy.ts) and
 * splits each channel of `total` values into chunks.
 */
function statisticsPlan(channels: number, total: number): StatisticsPlan {
  const serial = serialReductions();
  const chunk = Math.max(serial ? SERIAL_CHUNK : CHUNK, Math.ceil(total / MAX_CHUNKS));
  const chunks = Math.max(1, Math.ceil(total / chunk));
  if (serial) return { entry: 'main_serial', workgroupSize: SERIAL_WORKGROUP, chunk, chunks, workgroups: Math.ceil((channels * chunks) / SERIAL_WORKGROUP) };
  return { entry: 'main', workgroupSize: WORKGROUP, chunk, chunks, workgroups: channels * chunks };
}

export interface BatchnormParameters {
  gamma: Tensor;
  beta: Tensor;
  runningMean: Tensor;
  runningVar: Tensor;
}

function checkParameters(x: FeatureView, p: BatchnormParameters): void {
  for (const [name, t] of Object.entries(p) as [string, Tensor][]) {
    if (t.rank !== 1 || t.shape[0] !== x.channels) {
      throw new Error(`batchnorm: ${name} ${formatShape(t.shape)} does not match ${x.channels} channels of input [${viewShape(x).join(', ')}]`);
    }
  }
}

function checkSeparate(a: FeatureView, b: FeatureView, what: string): void {
  // NOTE: unlike conv2d, these kernels have no variant that reads and writes one buffer; a
  // dense block never needs one, because batchnorm reads the block's map and writes a new tensor.
  if (a.tensor.storage === b.tensor.storage) {
    throw new Error(`batchnorm: ${what} cannot share a buffer (${a.tensor.name} ${formatShape(a.tensor.shape)})`);
  }
}

/** Checks that a partial-statistics tensor has room for `channels` channels of `chunks` chunks. */
function checkPartial(partial: Tensor, channels: number, chunks: number): void {
  if (partial.rank !== 3 || partial.shape[0] < channels || partial.shape[1] !== chunks || partial.shape[2] !== 3) {
    throw new Error(`batchnorm: partial statistics ${formatShape(partial.shape)} do not fit ${channels} channels of ${chunks} chunks`);
  }
}

/** Returns an uninitialised tensor for the partial statistics of `channels` channels of `total` values each. */
export function emptyPartialStatistics(channels: number, total: number): Tensor {
  return Tensor.empty([channels, statisticsPlan(channels, total).chunks, 3], 'f32', 'batchnorm.partial');
}

/**
 * Writes the partial statistics of channels [first, x.channels) of `x` into `partial` (from
 * emptyPartialStatistics, with room for them), where the channels before `first` are left as
 * they are. A dense block's batchnorms share one such tensor per feature map (see
 * ops/batchnorm.ts), so each channel's statistics are computed once per forward pass.
 */
export function batchnormPartialStatistics(x: FeatureView, partial: Tensor, first = 0): void {
  const total = x.batch * x.height * x.width;
  const plan = statisticsPlan(x.channels, total);
  const chunks = plan.chunks;
  checkPartial(partial, x.channels, chunks);
  const channels = x.channels - first;
  if (channels <= 0 || total === 0) return;

  // The plan for the new channels alone: the same chunks, fewer workgroups.
  const pass = statisticsPlan(channels, total);
  getEngine().dispatch({
    kernel: { family: 'batchnorm_stats', source: statsSource, entry: pass.entry, defines: { WORKGROUP: pass.workgroupSize } },
    bindings: [x.tensor.binding(), partial.binding()],
    uniforms: new Uniforms()
      .u32(x.batch, channels, x.height * x.width, x.offset + first * x.height * x.width, x.batchStride, chunks, plan.chunk, 3 * first * chunks)
      .finish(),
    workgroups: pass.workgroups,
  });
}

/**
 * Computes per-channel statistics and the affine map of the normalisation: a new [C, 4]
 * tensor of (mean, invstd, scale, shift). In training mode the batch statistics are used
 * (biased variance) and, with `updateRunning`, the running ones are updated in place with
 * `momentum` and the unbiased variance; in eval mode the running statistics are used. In
 * training mode, `partial` gives the partial statistics of x's channels, already computed
 * (batchnormPartialStatistics), instead of computing them here.
 */
export function batchnormStatistics(
  x: FeatureView,
  p: BatchnormParameters,
  options: { training: boolean; updateRunning?: boolean; eps?: number; momentum?: number },
  partial?: Tensor,
): Tensor {
  checkParameters(x, p);
  const total = x.batch * x.height * x.width;
  if (options.training && total === 0) throw new Error(`batchnorm: cannot compute batch statistics of an empty input [${viewShape(x).join(', ')}]`);
  const engine = getEngine();
  const stats = Tensor.empty([x.channels, 4], 'f32', 'batchnorm.stats');
  if (x.channels === 0) return stats;

  const chunks = statisticsPlan(x.channels, total).chunks;
  let merged = partial;
  if (options.training && !merged) {
    merged = emptyPartialStatistics(x.channels, total);
    batchnormPartialStatistics(x, merged);
  } else if (options.training) {
    checkPartial(merged!, x.channels, chunks);
  }
  // The merge reads no partial results in eval mode, but its binding must still be filled.
  const bound = merged ?? Tensor.empty([1], 'f32', 'batchnorm.partial');
  engine.dispatch({
    kernel: { family: 'batchnorm_finalize', source: finalizeSource, defines: { WORKGROUP } },
    bindings: [bound.binding(), p.gamma.binding(), p.beta.binding(), p.runningMean.binding(), p.runningVar.binding(), stats.binding()],
    uniforms: new Uniforms()
      .u32(x.channels, options.training ? chunks : 0, options.training ? 1 : 0, options.training && options.updateRunning ? 1 : 0)
      .f32(options.eps ?? 1e-5, options.momentum ?? 0.1)
      .u32(0, 0)
      .finish(),
    workgroups: Math.ceil(x.channels / WORKGROUP),
  });
  if (bound !== partial) bound.dispose();
  return stats;
}

/** Normalises with the affine map in `stats` (ReLU after it when `relu`), into `out` or a new tensor. */
export function batchnormApply(x: FeatureView, stats: Tensor, relu: boolean, out?: FeatureView): Tensor {
  const shape = viewShape(x);
  const y = out ?? featureView(Tensor.empty(shape, 'f32', relu ? 'batchnorm_relu' : 'batchnorm'));
  if (viewShape(y).some((d, i) => d !== shape[i])) throw new Error(`batchnorm: output view [${viewShape(y).join(', ')}] does not match input [${shape.join(', ')}]`);
  checkSeparate(x, y, 'input and output');
  const n = x.batch * x.channels * x.height * x.width;
  if (n === 0) return y.tensor;
  const pass = elementwisePlan(x.batch * x.channels, n);
  getEngine().dispatch({
    kernel: { family: 'batchnorm_apply', source: applySource, entry: pass.entry, defines: { WORKGROUP: pass.workgroupSize } },
    bindings: [x.tensor.binding(), stats.binding(), y.tensor.binding()],
    uniforms: new Uniforms().u32(x.batch, x.channels, x.height * x.width, relu ? 1 : 0, x.offset, x.batchStride, y.offset, y.batchStride).finish(),
    workgroups: pass.workgroups,
  });
  return y.tensor;
}

/**
 * Backward of batchnorm (and of the fused ReLU when `relu`): returns dgamma and dbeta [C], and
 * writes dx into `dx` (`beta` 1 adds to it) unless `dx` is null.
 */
export function batchnormBackward(
  x: FeatureView,
  dy: FeatureView,
  stats: Tensor,
  gamma: Tensor,
  options: { relu: boolean; training: boolean },
  dx: FeatureView | null,
  beta = 0,
): { dgamma: Tensor; dbeta: Tensor } {
  const shape = viewShape(x);
  if (viewShape(dy).some((d, i) => d !== shape[i])) throw new Error(`batchnorm: output gradient [${viewShape(dy).join(', ')}] does not match input [${shape.join(', ')}]`);
  const engine = getEngine();
  const dgamma = Tensor.empty([x.channels], 'f32', 'batchnorm.dgamma');
  const dbeta = Tensor.empty([x.channels], 'f32', 'batchnorm.dbeta');
  if (x.channels === 0) return { dgamma, dbeta };
  const plane = x.height * x.width;
  const total = x.batch * plane;
  const plan = statisticsPlan(x.channels, total);
  const chunks = plan.chunks;

  const partial = Tensor.empty([x.channels, chunks, 2], 'f32', 'batchnorm.grad partial');
  engine.dispatch({
    kernel: { family: 'batchnorm_grad_stats', source: gradStatsSource, entry: plan.entry, defines: { WORKGROUP: plan.workgroupSize } },
    bindings: [x.tensor.binding(), dy.tensor.binding(), stats.binding(), partial.binding()],
    uniforms: new Uniforms().u32(x.batch, x.channels, plane, options.relu ? 1 : 0, x.offset, x.batchStride, dy.offset, dy.batchStride, chunks, plan.chunk, 0, 0).finish(),
    workgroups: plan.workgroups,
  });
  const coeffs = Tensor.empty([x.channels, 3], 'f32', 'batchnorm.grad coefficients');
  engine.dispatch({
    kernel: { family: 'batchnorm_grad_finalize', source: gradFinalizeSource, defines: { WORKGROUP } },
    bindings: [partial.binding(), gamma.binding(), stats.binding(), dgamma.binding(), dbeta.binding(), coeffs.binding()],
    uniforms: new Uniforms().u32(x.channels, chunks, options.training ? 1 : 0, total).finish(),
    workgroups: Math.ceil(x.channels / WORKGROUP),
  });
  partial.dispose();

  if (dx && total > 0) {
    if (viewShape(dx).some((d, i) => d !== shape[i])) throw new Error(`batchnorm: input gradient view [${viewShape(dx).join(', ')}] does not match input [${shape.join(', ')}]`);
    checkSeparate(x, dx, 'input and input gradient');
    checkSeparate(dy, dx, 'output gradient and input gradient');
    const pass = elementwisePlan(x.batch * x.channels, x.channels * total);
    engine.dispatch({
      kernel: { family: 'batchnorm_grad_input', source: gradInputSource, entry: pass.entry, defines: { WORKGROUP: pass.workgroupSize } },
      bindings: [x.tensor.binding(), dy.tensor.binding(), stats.binding(), coeffs.binding(), dx.tensor.binding()],
      uniforms: new Uniforms()
        .u32(x.batch, x.channels, plane, options.relu ? 1 : 0, x.offset, x.batchStride, dy.offset, dy.batchStride, dx.offset, dx.batchStride)
        .f32(beta)
        .u32(0)
        .finish(),
      workgroups: pass.workgroups,
    });
  }
  coeffs.dispose();
  return { dgamma, dbeta };
}
