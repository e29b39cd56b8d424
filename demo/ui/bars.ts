/** Probability bars for the ten classes; the most probable class is highlighted. */
import { CLASS_NAMES } from '../lib/sample.ts';

export function renderBars(list: HTMLOListElement, probabilities: ArrayLike<number> | null): void {
  list.replaceChildren();
  if (!probabilities) return;
  let top = 0;
  for (let k = 1; k < probabilities.length; k++) if (probabilities[k] > probabilities[top]) top = k;
  for (let k = 0; k < probabilities.length; k++) {
    const item = document.createElement('li');
    item.classList.toggle('top', k === top);
    const name = document.createElement('span');
    name.textContent = CLASS_NAMES[k] ?? `class ${k}`;
    const track = document.createElement('span');
    const bar = document.createElement('span');
    bar.className = 'bar';
    bar.style.display = 'block';
    bar.style.width = `${(100 * probabilities[k]).toFixed(2)}%`;
    track.append(bar);
    const value = document.createElement('span');
    value.className = 'value';
    value.textContent = `${(100 * probabilities[k]).toFixed(1)}%`;
    item.append(name, track, value);
    list.append(item);
  }
}
