// Grad-CAM on a tiny model (ReLU, global average pooling and a linear head over a feature map)
// against a float64 computation of the same steps with the gradient derived by hand.
import { ops, tensor, noGrad, type Tensor } from '../../src/index.ts';
import { gradCam, jet, normaliseMax, overlayHeatmap, resizeBilinear } from '../../src/nn/gradcam.ts';
import { assert, assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite } from '../harness/suite.ts';

const B = 2;
const C = 5;
const H = 3;
const W = 4;
const K = 3;

/** logits[b, k] = sum_c weight[c, k] * mean_ij relu(f[b, c, i, j]) + bias[k], as [B, K, 1]. */
function tinyHead(weight: Tensor, bias: Tensor): (f: Tensor) => Tensor {
  return (f) => {
    const pooled = ops.mean(ops.relu(f), [2, 3], true); // [B, C, 1, 1]
    const products = ops.mul(pooled, weight); // [B, C, K, 1]
    return ops.add(ops.sum(products, 1), bias); // [B, K, 1]
  };
}

/** Grad-CAM in float64 with the gradient of the tiny head written out. */
function reference(f: ArrayLike<number>, weight: ArrayLike<number>, classes: number[], outH: number, outW: number): { alpha: number[][]; maps: Float64Array[] } {
  const plane = H * W;
  const alphas: number[][] = [];
  const maps: Float64Array[] = [];
  for (let b = 0; b < B; b++) {
    const k = classes[b];
    const alpha: number[] = [];
    const cam = new Float64Array(plane);
    for (let c = 0; c < C; c++) {
      // d score / d f[b,c,i,j] = weight[c,k] / (H W) where f > 0, else 0.
      let g = 0;
      for (let i = 0; i < plane; i++) if (f[(b * C + c) * plane + i] > 0) g += weight[c * K + k] / plane;
      alpha.push(g / plane);
    }
    for (let i = 0; i < plane; i++) {
      let s = 0;
      for (let c = 0; c < C; c++) s += alpha[c] * f[(b * C + c) * plane + i];
      cam[i] = Math.max(0, s);
    }
    alphas.push(alpha);
    // Independent bilinear upsampling with half-pixel centres.
    const up = new Float64Array(outH * outW);
    for (let y = 0; y < outH; y++) {
      for (let x = 0; x < outW; x++) {
        const sy = Math.min(Math.max((y + 0.5) * (H / outH) - 0.5, 0), H - 1);
        const sx = Math.min(Math.max((x + 0.5) * (W / outW) - 0.5, 0), W - 1);
        const y0 = Math.floor(sy), x0 = Math.floor(sx);
        const y1 = Math.min(y0 + 1, H - 1), x1 = Math.min(x0 + 1, W - 1);
        const at = (yy: number, xx: number) => cam[yy * W + xx];
        up[y * outW + x] = (1 - (sy - y0)) * ((1 - (sx - x0)) * at(y0, x0) + (sx - x0) * at(y0, x1)) + (sy - y0) * ((1 - (sx - x0)) * at(y1, x0) + (sx - x0) * at(y1, x1));
      }
    }
    const max = Math.max(...up);
    maps.push(up.map((v) => (max > 0 ? v / max : 0)));
  }
  return { alpha: alphas, maps };
}

export default suite('gradcam', [
  {
    name: 'gradcam matches float64 reference',
    run: async () => {
      const fValues = f32(uniform(B * C * H * W, 5, -1, 2));
      const wValues = f32(uniform(C * K, 6, -1, 1));
      const features = tensor(fValues, [B, C, H, W], { name: 'features' });
      const weight = tensor(wValues, [C, K, 1], { name: 'weight', requiresGrad: true });
      const bias = tensor([0.1, -0.2, 0.3], [K, 1], { name: 'bias', requiresGrad: true });
      const classes = [2, 0];
      const result = await noGrad(() => gradCam({ features, head: tinyHead(weight, bias), classes, size: [7, 9] }));
      const ref = reference(fValues, wValues, classes, 7, 9);
      assertEqual(result.classes, classes, 'classes');
      for (let b = 0; b < B; b++) {
        assertClose(result.weights[b], ref.alpha[b], `channel weights of image ${b}`, { atol: 1e-7, rtol: 1e-5 });
        assertClose(result.maps[b], ref.maps[b], `upsampled map of image ${b}`, { atol: 1e-6, rtol: 1e-5 });
      }
      assert(result.maps.every((m) => m.length === 63), 'maps have the requested size');
      for (const t of [features, weight, bias]) {
        t.grad?.dispose();
        t.dispose();
      }
    },
  },
  {
    name: 'gradcam defaults to predicted class',
    run: async () => {
      const fValues = f32(uniform(B * C * H * W, 15, -1, 2));
      const wValues = f32(uniform(C * K, 16, -1, 1));
      const features = tensor(fValues, [B, C, H, W], { name: 'features' });
      const weight = tensor(wValues, [C, K, 1], { name: 'weight' });
      const bias = tensor([0, 0, 0], [K, 1], { name: 'bias' });
      const result = await gradCam({ features, head: tinyHead(weight, bias), size: [H, W] });
      for (let b = 0; b < B; b++) {
        const row = Array.from(result.logits.slice(b * K, b * K + K));
        assertEqual(result.classes[b], row.indexOf(Math.max(...row)), `predicted class of image ${b}`);
      }
      const ref = reference(fValues, wValues, result.classes, H, W);
      for (let b = 0; b < B; b++) assertClose(result.maps[b], ref.maps[b], `map of image ${b}`, { atol: 1e-6, rtol: 1e-5 });
      for (const t of [features, weight, bias]) t.dispose();
    },
  },
  {
    name: 'gradcam zero map stays zero',
    run: async () => {
      // Every feature is negative, so ReLU passes no gradient and the map is all zeros.
      const features = tensor(new Array(B * C * H * W).fill(-1), [B, C, H, W], { name: 'features' });
      const weight = tensor(f32(uniform(C * K, 7)), [C, K, 1], { name: 'weight' });
      const bias = tensor([0, 0, 0], [K, 1], { name: 'bias' });
      const result = await gradCam({ features, head: tinyHead(weight, bias), classes: [0, 1], size: [6, 8] });
      for (const map of result.maps) {
        assert(map.every((v) => v === 0), 'map is all zeros, with no NaN');
      }
      for (const t of [features, weight, bias]) t.dispose();
    },
  },
  {
    name: 'gradcam rejects bad input',
    run: async () => {
      const features = tensor(new Array(6).fill(1), [2, 3], { name: 'features' });
      await assertThrows(() => gradCam({ features, head: (f) => f, size: [2, 2] }), /must be \[B, C, h, w\]; got \[2, 3\]/, 'rank 2 features');
      features.dispose();
      const f4 = tensor(new Array(B * C * H * W).fill(1), [B, C, H, W], { name: 'features' });
      const weight = tensor(f32(uniform(C * K, 7)), [C, K, 1], { name: 'weight' });
      const bias = tensor([0, 0, 0], [K, 1], { name: 'bias' });
      await assertThrows(() => gradCam({ features: f4, head: tinyHead(weight, bias), classes: [0, 3], size: [2, 2] }), /class 3 for image 1 is outside \[0, 3\)/, 'class out of range');
      for (const t of [f4, weight, bias]) t.dispose();
    },
  },
  {
    name: 'resize and overlay helpers',
    run: () => {
      // Upsampling a constant map keeps it constant; a 1x2 ramp to 1x4 follows half-pixel centres.
      assertClose(resizeBilinear([2, 2, 2, 2], 2, 2, 3, 5), new Array(15).fill(2), 'constant map');
      assertClose(resizeBilinear([0, 1], 1, 2, 1, 4), [0, 0.25, 0.75, 1], 'ramp');
      assertClose(normaliseMax(Float64Array.from([0, 2, 4])), [0, 0.5, 1], 'normalise');
      assertEqual(jet(0), [0, 0, 128], 'jet at 0');
      assertEqual(jet(1), [128, 0, 0], 'jet at 1');
      const rgba = overlayHeatmap([1, 0], [0, 1], 0.5);
      assertEqual(Array.from(rgba), [128, 128, 192, 255, 64, 0, 0, 255], 'overlay');
    },
  },
]);
