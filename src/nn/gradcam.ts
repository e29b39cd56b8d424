/**
 * Grad-CAM (Selvaraju et al., "Grad-CAM: Visual Explanations from Deep Networks via
 * Gradient-based Localization", ICCV 2017) on a convolutional feature map.
 *
 * For image b with chosen class k and feature map A [C, h, w] (for DenseNet, the final
 * batchnorm's output):
 *   alpha_c = mean over (i, j) of d score_k / d A[c, i, j]    (global average pooling)
 *   cam     = ReLU(sum_c alpha_c A[c])                        [h, w]
 * then the map is upsampled bilinearly to the image (half-pixel centres, as PyTorch's
 * interpolate with align_corners=False) and divided by its maximum. A map whose maximum is 0
 * stays all zeros instead of becoming 0/0 = NaN.
 *
 * The gradient comes from the engine's tape: the feature map is re-entered as a leaf that
 * requires a gradient, the model's head maps it to logits, and `backward()` runs on the sum of
 * the chosen scores. The weighting, ReLU and upsampling run on the host in float64 (a few
 * images of C x h x w values).
 */
import { enableGrad, noGrad } from '../autograd/tape.ts';
import { tidy } from '../autograd/scope.ts';
import { tensor, formatShape, type Tensor } from '../autograd/tensor.ts';
import { mul } from '../autograd/ops/elementwise.ts';
import { sum } from '../autograd/ops/reduce.ts';

export interface GradCamOptions {
  /** Feature map [B, C, h, w], computed without gradient. */
  features: Tensor;
  /** Maps a feature map [B, C, h, w] to logits [B, classes] with differentiable ops. */
  head: (features: Tensor) => Tensor;
  /** Class explained for each image; the predicted class where omitted. */
  classes?: ArrayLike<number>;
  /** Size of the upsampled map, normally the input image's [H, W]. */
  size: [number, number];
}

export interface GradCamResult {
  /** Upsampled maps [B, H, W] in [0, 1]. */
  maps: Float64Array[];
  /** Maps at the feature resolution [B, h, w], before normalisation (ReLU applied). */
  raw: Float64Array[];
  /** Class explained for each image. */
  classes: number[];
  /** Channel weights alpha [B, C]. */
  weights: Float64Array[];
  /** The logits the head computed [B * classes]. */
  logits: Float32Array;
}

/** Computes Grad-CAM maps for every image in the batch. */
export async function gradCam(options: GradCamOptions): Promise<GradCamResult> {
  const { features, head, size } = options;
  if (features.rank !== 4) throw new Error(`gradCam: features must be [B, C, h, w]; got ${formatShape(features.shape)}`);
  const [batch, channels, h, w] = features.shape;

  // The feature map re-enters as a leaf: a view shares storage and has no creator on the tape.
  const leaf = features.view(features.shape, 'gradcam.features');
  leaf.requiresGrad = true;
  try {
    // Forward through the head with recording on, even inside an evaluation's noGrad.
    const logits = enableGrad(() => tidy(() => head(leaf)));
    const logitValues = (await logits.data()) as Float32Array;
    const numClasses = logits.size / batch;
    if (logits.shape[0] !== batch || !Number.isInteger(numClasses) || logits.shape.slice(2).some((d) => d !== 1)) {
      logits.dispose();
      throw new Error(`gradCam: head returned logits ${formatShape(logits.shape)}; expected [${batch}, classes]`);
    }

    const classes: number[] = [];
    for (let b = 0; b < batch; b++) {
      let k: number;
      if (options.classes) {
        k = options.classes[b];
        if (!Number.isInteger(k) || k < 0 || k >= numClasses) {
          logits.dispose();
          throw new Error(`gradCam: class ${k} for image ${b} is outside [0, ${numClasses})`);
        }
      } else {
        k = 0;
        for (let c = 1; c < numClasses; c++) if (logitValues[b * numClasses + c] > logitValues[b * numClasses + k]) k = c;
      }
      classes.push(k);
    }

    // The score of each image depends only on its own features, so one backward pass on the
    // sum of the chosen scores gives every image's gradient.
    const oneHot = new Float32Array(logits.size);
    classes.forEach((k, b) => (oneHot[b * numClasses + k] = 1));
    enableGrad(() => {
      tidy(() => {
        const score = sum(mul(logits, tensor(oneHot, logits.shape, { name: 'gradcam.onehot' })));
        score.backward();
      });
    });
    logits.dispose();
    if (!leaf.grad) throw new Error('gradCam: the head does not depend on the feature map, so it has no gradient');
    const gradValues = await leaf.grad.data();
    const featureValues = await noGrad(() => features.data());

    // Channel weights, the weighted sum, ReLU, upsampling and normalisation, per image.
    const plane = h * w;
    const result: GradCamResult = { maps: [], raw: [], classes, weights: [], logits: logitValues };
    for (let b = 0; b < batch; b++) {
      const base = b * channels * plane;
      const alpha = new Float64Array(channels);
      for (let c = 0; c < channels; c++) {
        let s = 0;
        for (let i = 0; i < plane; i++) s += gradValues[base + c * plane + i];
        alpha[c] = s / plane;
      }
      const cam = new Float64Array(plane);
      for (let c = 0; c < channels; c++) {
        if (alpha[c] === 0) continue;
        for (let i = 0; i < plane; i++) cam[i] += alpha[c] * featureValues[base + c * plane + i];
      }
      for (let i = 0; i < plane; i++) cam[i] = Math.max(0, cam[i]);
      result.weights.push(alpha);
      result.raw.push(cam);
      result.maps.push(normaliseMax(resizeBilinear(cam, h, w, size[0], size[1])));
    }
    return result;
  } finally {
    leaf.grad?.dispose();
    leaf.grad = null;
    leaf.dispose();
  }
}

/** Bilinear resize of a [h, w] map to [H, W] with half-pixel centres (align_corners=False). */
export function resizeBilinear(src: ArrayLike<number>, h: number, w: number, outH: number, outW: number): Float64Array {
  const out = new Float64Array(outH * outW);
  const scaleY = h / outH;
  const scaleX = w / outW;
  for (let y = 0; y < outH; y++) {
    const sy = Math.max(0, (y + 0.5) * scaleY - 0.5);
    const y0 = Math.min(h - 1, Math.floor(sy));
    const y1 = Math.min(h - 1, y0 + 1);
    const fy = sy - y0;
    for (let x = 0; x < outW; x++) {
      const sx = Math.max(0, (x + 0.5) * scaleX - 0.5);
      const x0 = Math.min(w - 1, Math.floor(sx));
      const x1 = Math.min(w - 1, x0 + 1);
      const fx = sx - x0;
      const top = src[y0 * w + x0] * (1 - fx) + src[y0 * w + x1] * fx;
      const bottom = src[y1 * w + x0] * (1 - fx) + src[y1 * w + x1] * fx;
      out[y * outW + x] = top * (1 - fy) + bottom * fy;
    }
  }
  return out;
}

/** Divides by the maximum; an all-zero (or non-positive) map stays all zeros. */
export function normaliseMax(values: Float64Array): Float64Array {
  let max = 0;
  for (const v of values) if (v > max) max = v;
  if (max > 0) for (let i = 0; i < values.length; i++) values[i] /= max;
  else values.fill(0);
  return values;
}

/** Maps t in [0, 1] to the jet colour map's [r, g, b] bytes. */
export function jet(t: number): [number, number, number] {
  const clamp = (x: number) => Math.round(255 * Math.min(1, Math.max(0, x)));
  const v = Math.min(1, Math.max(0, t));
  return [clamp(1.5 - Math.abs(4 * v - 3)), clamp(1.5 - Math.abs(4 * v - 2)), clamp(1.5 - Math.abs(4 * v - 1))];
}

/**
 * Blends a heat map over a grey image, both [H, W] with values in [0, 1], into RGBA bytes:
 * `alpha` of the jet colour over `1 - alpha` of the image.
 */
export function overlayHeatmap(image: ArrayLike<number>, heat: ArrayLike<number>, alpha = 0.45): Uint8Array {
  if (image.length !== heat.length) throw new Error(`overlayHeatmap: image has ${image.length} pixels, heat map ${heat.length}`);
  const out = new Uint8Array(image.length * 4);
  for (let i = 0; i < image.length; i++) {
    const grey = 255 * Math.min(1, Math.max(0, image[i]));
    const [r, g, b] = jet(heat[i]);
    out[4 * i] = Math.round((1 - alpha) * grey + alpha * r);
    out[4 * i + 1] = Math.round((1 - alpha) * grey + alpha * g);
    out[4 * i + 2] = Math.round((1 - alpha) * grey + alpha * b);
    out[4 * i + 3] = 255;
  }
  return out;
}
