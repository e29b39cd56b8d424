/** Draws a Grad-CAM heat map over the input image, both upsampled to the map's size. */
import { overlayHeatmap, resizeBilinear } from '../../src/nn/gradcam.ts';
import { IMAGE_SIZE } from '../lib/sample.ts';

/** `map` is [size, size] in [0, 1]; `bytes` is the [28, 28] input. */
export function renderGradCam(canvas: HTMLCanvasElement, bytes: Uint8Array, map: ArrayLike<number>, size: number): void {
  const grey = resizeBilinear(Array.from(bytes, (v) => v / 255), IMAGE_SIZE, IMAGE_SIZE, size, size);
  const rgba = overlayHeatmap(grey, map);
  canvas.width = canvas.height = size;
  canvas.getContext('2d')!.putImageData(new ImageData(new Uint8ClampedArray(rgba.buffer as ArrayBuffer), size, size), 0, 0);
}
