/** The bundled sample as a grid of clickable 28x28 thumbnails. */
import { CLASS_NAMES, IMAGE_SIZE, sampleImage, type Sample } from '../lib/sample.ts';
import { drawBytes } from './dom.ts';

export function renderGallery(container: HTMLElement, sample: Sample, onSelect: (index: number) => void): void {
  container.replaceChildren();
  for (let i = 0; i < sample.count; i++) {
    const canvas = document.createElement('canvas');
    canvas.width = canvas.height = IMAGE_SIZE;
    canvas.dataset.sampleIndex = String(i);
    canvas.title = `${CLASS_NAMES[sample.labels[i]]} (test image ${sample.testIndices[i]})`;
    canvas.setAttribute('role', 'button');
    canvas.setAttribute('aria-selected', 'false');
    drawBytes(canvas, sampleImage(sample, i), IMAGE_SIZE);
    canvas.addEventListener('click', () => {
      for (const other of Array.from(container.querySelectorAll('canvas'))) other.setAttribute('aria-selected', String(other === canvas));
      onSelect(i);
    });
    container.append(canvas);
  }
}
