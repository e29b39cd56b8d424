/**
 * Turns a picture (an upload or a drawing, as RGBA pixels) into a 28x28 byte image in
 * Fashion-MNIST's style: a light object on a black background. As in the dataset, the object
 * is trimmed to its bounding box, scaled so that its longer side spans 28 pixels, and centred.
 * The study's transforms (resize, three channels, normalisation) then run on these bytes.
 */
import { IMAGE_SIZE } from './sample.ts';

export interface ToFashionMnistOptions {
  /** Invert light-on-dark: `auto` inverts when the border is brighter than mid-grey. */
  invert?: 'auto' | boolean;
  /** Pixels at or below this value (0..255, after inversion) count as background when trimming. */
  threshold?: number;
}

/** Luminance (ITU-R BT.601 weights) of RGBA pixels composited over white, in 0..255. */
export function grayscale(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number): Float32Array {
  if (rgba.length !== width * height * 4) throw new Error(`grayscale: ${rgba.length} bytes for a ${width}x${height} RGBA image (expects ${width * height * 4})`);
  const gray = new Float32Array(width * height);
  for (let i = 0; i < gray.length; i++) {
    const alpha = rgba[4 * i + 3] / 255;
    const luminance = 0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2];
    gray[i] = luminance * alpha + 255 * (1 - alpha);
  }
  return gray;
}

function borderMean(gray: Float32Array, width: number, height: number): number {
  let sum = 0;
  let n = 0;
  for (let x = 0; x < width; x++) {
    sum += gray[x] + gray[(height - 1) * width + x];
    n += 2;
  }
  for (let y = 1; y < height - 1; y++) {
    sum += gray[y * width] + gray[y * width + width - 1];
    n += 2;
  }
  return sum / n;
}

/**
 * Area-averages the box [x0, x0 + w) x [y0, y0 + h) of `source` into the box
 * [tx, tx + tw) x [ty, ty + th) of `target`. A source pixel counts by the area it covers.
 */
function resampleBox(
  source: Float32Array, sourceWidth: number, x0: number, y0: number, w: number, h: number,
  target: Float32Array, targetWidth: number, tx: number, ty: number, tw: number, th: number,
): void {
  const scaleX = w / tw;
  const scaleY = h / th;
  for (let oy = 0; oy < th; oy++) {
    const top = y0 + oy * scaleY;
    const bottom = top + scaleY;
    for (let ox = 0; ox < tw; ox++) {
      const left = x0 + ox * scaleX;
      const right = left + scaleX;
      let sum = 0;
      for (let sy = Math.floor(top); sy < Math.ceil(bottom); sy++) {
        const wy = Math.min(bottom, sy + 1) - Math.max(top, sy);
        for (let sx = Math.floor(left); sx < Math.ceil(right); sx++) {
          const wx = Math.min(right, sx + 1) - Math.max(left, sx);
          sum += source[sy * sourceWidth + sx] * wx * wy;
        }
      }
      target[(ty + oy) * targetWidth + tx + ox] = sum / (scaleX * scaleY);
    }
  }
}

/** Converts RGBA pixels to a [28, 28] byte image in Fashion-MNIST's style; all zeros when the picture is blank. */
export function toFashionMnist(rgba: Uint8ClampedArray | Uint8Array, width: number, height: number, options: ToFashionMnistOptions = {}): Uint8Array {
  const gray = grayscale(rgba, width, height);
  const invert = options.invert === 'auto' || options.invert === undefined ? borderMean(gray, width, height) > 127.5 : options.invert;
  if (invert) for (let i = 0; i < gray.length; i++) gray[i] = 255 - gray[i];

  // Trim to the bounding box of the object.
  const threshold = options.threshold ?? 24;
  let minX = width, minY = height, maxX = -1, maxY = -1;
  for (let y = 0; y < height; y++) {
    for (let x = 0; x < width; x++) {
      if (gray[y * width + x] > threshold) {
        minX = Math.min(minX, x);
        maxX = Math.max(maxX, x);
        minY = Math.min(minY, y);
        maxY = Math.max(maxY, y);
      }
    }
  }
  const out = new Uint8Array(IMAGE_SIZE * IMAGE_SIZE);
  if (maxX < 0) return out;
  const boxWidth = maxX - minX + 1;
  const boxHeight = maxY - minY + 1;

  // Scale the longer side to 28 pixels and centre the shorter one.
  const scale = IMAGE_SIZE / Math.max(boxWidth, boxHeight);
  const targetWidth = Math.max(1, Math.round(boxWidth * scale));
  const targetHeight = Math.max(1, Math.round(boxHeight * scale));
  const canvas = new Float32Array(IMAGE_SIZE * IMAGE_SIZE);
  resampleBox(
    gray, width, minX, minY, boxWidth, boxHeight,
    canvas, IMAGE_SIZE, (IMAGE_SIZE - targetWidth) >> 1, (IMAGE_SIZE - targetHeight) >> 1, targetWidth, targetHeight,
  );
  for (let i = 0; i < out.length; i++) out[i] = Math.round(Math.min(255, Math.max(0, canvas[i])));
  return out;
}
