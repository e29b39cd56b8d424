/** Small DOM helpers shared by the demo's panels. */

/** Finds the element with `id`; throws when the page lacks it, so a renamed element fails loudly. */
export function byId<T extends HTMLElement = HTMLElement>(id: string): T {
  const element = document.getElementById(id);
  if (!element) throw new Error(`demo page: element #${id} is missing from index.html`);
  return element as T;
}

/** Sets a status line; errors are shown in red and logged with their stack. */
export function setStatus(element: HTMLElement, text: string, error?: unknown): void {
  element.textContent = text;
  element.classList.toggle('error', error !== undefined);
  if (error !== undefined) console.warn(text, error);
}

/** Draws a [size, size] byte image onto a canvas of the same size. */
export function drawBytes(canvas: HTMLCanvasElement, bytes: Uint8Array, size: number): void {
  const context = canvas.getContext('2d')!;
  const image = context.createImageData(size, size);
  for (let i = 0; i < size * size; i++) {
    image.data[4 * i] = image.data[4 * i + 1] = image.data[4 * i + 2] = bytes[i];
    image.data[4 * i + 3] = 255;
  }
  context.putImageData(image, 0, 0);
}

/** Returns the message of a thrown value. */
export function messageOf(error: unknown): string {
  return error instanceof Error ? error.message : String(error);
}
