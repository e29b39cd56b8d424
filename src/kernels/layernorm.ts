/**
 * LayerNorm over the last axis (shaders/layernorm*.wgsl). The forward pass returns per-row
 * statistics beside the output, so that the backward pass reads them instead of recomputing
 * them: the reciprocal standard deviation, and the mean as a shift from the row's first
 * element (which keeps rows with a large mean precise in f32).
 *
 * Legend: N rows (every leading dimension flattened), C features (the last dimension).
 */
import forwardSource from '../../shaders/layernorm.wgsl';
import backwardSource from '../../shaders/layernorm_backward.wgsl';
import paramsSource from '../../shaders/layernorm_params.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape } from '../autograd/tensor.ts';
import { reduce } from './reduce.ts';
import { serialReductions } from './strategy.ts';

/** Threads per row; rows of C <= 64 (small test models) waste fewer threads with 64. */
function rowWorkgroup(features: number): number {
  return features > 64 ? 128 : 64;
}

/** Rows per workgroup of the serial variants, one thread each. */
const SERIAL_WORKGROUP = 64;

/** Entry point, workgroup size and workgroup count of a pass over `rows` rows. */
function rowPlan(rows: number, features: number): { entry: string; workgroup: number; workgroups: number } {
  if (serialReductions()) return { entry: 'main_serial', workgroup: SERIAL_WORKGROUP, workgroups: Math.ceil(rows / SERIAL_WORKGROUP) };
  return { entry: 'main', workgroup: rowWorkgroup(features), workgroups: rows };
}

/** Features per workgroup of the parameter-gradient kernel (one feature per thread). */
const PARAMS_WORKGROUP = 64;
/** Rows each workgroup of the parameter-gradient kernel sums before the host-side reduction. */
const ROWS_PER_CHUNK = 64;

export interface LayerNormForward {
  /** [..., C] */
  y: Tensor;
  /** [N], each row's mean minus its first element. */
  shift: Tensor;
  /** [N] */
  rstd: Tensor;
}

function checkInputs(x: Tensor, weight: Tensor, bias: Tensor): { rows: number; features: number } {
  if (x.rank < 1) throw new Error(`layerNorm: input ${x.name} must have at least one dimension; got ${formatShape(x.shape)}`);
  for (const t of [x, weight, bias]) {
    if (t.dtype !== 'f32') throw new Error(`layerNorm: ${t.name} must be f32; got ${t.dtype}`);
  }
  const features = x.shape[x.rank - 1];
  for (const t of [weight, bias]) {
    if (t.rank !== 1 || t.shape[0] !== features) {
      throw new Error(
        `layerNorm: ${t.name} ${formatShape(t.shape)} does not match the last dimension of input ${formatShape(x.shape)} (expects [${features}])`,
      );
    }
  }
  return { rows: x.size / Math.max(1, features), features };
}

/** Normalises each row of `x` over its last axis, then scales by `weight` and shifts by `bias`. */
export function layerNormForward(x: Tensor, weight: Tensor, bias: Tensor, eps: number): LayerNormForward {
  const { rows, features } = checkInputs(x, weight, bias);
  if (!(eps > 0)) throw new Error(`layerNorm: eps must be positive; got ${eps}`);
  const y = Tensor.empty(x.shape, 'f32', 'layerNorm');
  const shift = Tensor.empty([rows], 'f32', 'layerNorm.shift');
  const rstd = Tensor.empty([rows], 'f32', 'layerNorm.rstd');
  if (x.size === 0) return { y, shift, rstd };

  const plan = rowPlan(rows, features);
  getEngine().dispatch({
    kernel: { family: 'layernorm', source: forwardSource, entry: plan.entry, defines: { WORKGROUP: plan.workgroup } },
    bindings: [x.binding(), weight.binding(), bias.binding(), y.binding(), shift.binding(), rstd.binding()],
    uniforms: new Uniforms().u32(rows, features).f32(eps).u32(0).finish(),
    workgroups: plan.workgroups,
  });
  return { y, shift, rstd };
}

/** Computes the gradient with respect to the input from the saved statistics. */
export function layerNormBackwardInput(x: Tensor, weight: Tensor, shift: Tensor, rstd: Tensor, dy: Tensor): Tensor {
  const features = x.shape[x.rank - 1];
  const rows = x.size / Math.max(1, features);
  const dx = Tensor.empty(x.shape, 'f32', 'layerNorm.dx');
  if (x.size === 0) return dx;
  const plan = rowPlan(rows, features);
  getEngine().dispatch({
    kernel: { family: 'layernorm_backward', source: backwardSource, entry: plan.entry, defines: { WORKGROUP: plan.workgroup } },
    bindings: [x.binding(), weight.binding(), shift.binding(), rstd.binding(), dy.binding(), dx.binding()],
    uniforms: new Uniforms().u32(rows, features, 0, 0).finish(),
    workgroups: plan.workgroups,
  });
  return dx;
}

/** Computes the gradients with respect to weight and bias: sums over rows of dy * xhat and of dy. */
export function layerNormBackwardParams(x: Tensor, shift: Tensor, rstd: Tensor, dy: Tensor): { dweight: Tensor; dbias: Tensor } {
  const features = x.shape[x.rank - 1];
  const rows = x.size / Math.max(1, features);
  const engine = getEngine();

  // Chunks run along grid y, which has the same per-dimension limit as x: past it, each chunk
  // takes more rows.
  const maxChunks = engine.limits.maxComputeWorkgroupsPerDimension;
  const rowsPerChunk = Math.max(ROWS_PER_CHUNK, Math.ceil(rows / maxChunks));
  const chunks = Math.max(1, Math.ceil(rows / rowsPerChunk));
  const dweightPartial = Tensor.empty([chunks, features], 'f32', 'layerNorm.dweight.partial');
  const dbiasPartial = Tensor.empty([chunks, features], 'f32', 'layerNorm.dbias.partial');
  engine.dispatch({
    kernel: { family: 'layernorm_params', source: paramsSource, defines: { WORKGROUP: PARAMS_WORKGROUP } },
    bindings: [x.binding(), shift.binding(), rstd.binding(), dy.binding(), dweightPartial.binding(), dbiasPartial.binding()],
    uniforms: new Uniforms().u32(rows, features, rowsPerChunk, 0).finish(),
    workgroups: [Math.ceil(features / PARAMS_WORKGROUP), chunks, 1],
  });

  const dweight = reduce('sum', dweightPartial, [0]);
  const dbias = reduce('sum', dbiasPartial, [0]);
  dweightPartial.dispose();
  dbiasPartial.dispose();
  return { dweight, dbias };
}
