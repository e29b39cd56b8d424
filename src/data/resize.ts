/**
 * Bilinear resize of f32 tensors [..., H, W] on the GPU, matching PyTorch's
 * `interpolate(mode='bilinear', align_corners=False)` (antialias off). Not differentiable:
 * it serves data preparation and figures (class-mean images, Grad-CAM maps).
 */
import resizeSource from '../../shaders/resize.wgsl';
import { getEngine } from '../gpu/engine.ts';
import { Uniforms } from '../gpu/uniforms.ts';
import { Tensor, formatShape } from '../autograd/tensor.ts';

const WORKGROUP = 256;

/** Checks an output size and returns it as [height, width]. */
export function outputSize(size: number | readonly [number, number], what: string): [number, number] {
  const [h, w] = typeof size === 'number' ? [size, size] : size;
  for (const d of [h, w]) {
    if (!Number.isInteger(d) || d < 1) throw new Error(`${what}: output size ${JSON.stringify(size)} must be positive integers`);
  }
  return [h, w];
}

/** Resizes the last two dimensions of `x` [..., H, W] to `size` (one number for a square). */
export function resizeBilinear(x: Tensor, size: number | readonly [number, number]): Tensor {
  const [outH, outW] = outputSize(size, 'resizeBilinear');
  if (x.dtype !== 'f32') throw new Error(`resizeBilinear needs an f32 tensor; ${x.name} is ${x.dtype}`);
  if (x.rank < 2) throw new Error(`resizeBilinear needs a tensor [..., H, W]; ${x.name} has shape ${formatShape(x.shape)}`);
  const inH = x.shape[x.rank - 2];
  const inW = x.shape[x.rank - 1];
  if (inH === 0 || inW === 0) throw new Error(`resizeBilinear: ${x.name} ${formatShape(x.shape)} has an empty image`);

  const out = Tensor.empty([...x.shape.slice(0, -2), outH, outW], 'f32', 'resize');
  if (out.size === 0) return out;
  getEngine().dispatch({
    kernel: { family: 'resize', source: resizeSource, defines: { WORKGROUP } },
    bindings: [x.binding(), out.binding()],
    uniforms: new Uniforms().u32(out.size, inH, inW, outH, outW).f32(inH / outH, inW / outW).u32(0).finish(),
    workgroups: Math.ceil(out.size / WORKGROUP),
  });
  return out;
}
