/** A black canvas to draw on in white with the mouse, a pen or a finger. */

export interface DrawingPad {
  clear(): void;
  /** The drawing as RGBA pixels. */
  pixels(): { rgba: Uint8ClampedArray; width: number; height: number };
  /** True once something was drawn since the last clear. */
  isEmpty(): boolean;
}

export function createDrawingPad(canvas: HTMLCanvasElement, brushWidth = 22): DrawingPad {
  const context = canvas.getContext('2d', { willReadFrequently: true })!;
  let empty = true;
  let last: { x: number; y: number } | null = null;

  const clear = () => {
    context.fillStyle = 'black';
    context.fillRect(0, 0, canvas.width, canvas.height);
    empty = true;
  };
  // Pointer coordinates in canvas pixels, whatever size CSS gives the element.
  const position = (event: PointerEvent) => {
    const rect = canvas.getBoundingClientRect();
    return { x: ((event.clientX - rect.left) * canvas.width) / rect.width, y: ((event.clientY - rect.top) * canvas.height) / rect.height };
  };
  const strokeTo = (point: { x: number; y: number }) => {
    context.strokeStyle = 'white';
    context.lineWidth = brushWidth;
    context.lineCap = context.lineJoin = 'round';
    context.beginPath();
    context.moveTo((last ?? point).x, (last ?? point).y);
    context.lineTo(point.x, point.y);
    context.stroke();
    last = point;
    empty = false;
  };

  canvas.addEventListener('pointerdown', (event) => {
    canvas.setPointerCapture(event.pointerId);
    last = null;
    strokeTo(position(event));
  });
  canvas.addEventListener('pointermove', (event) => {
    if (last) strokeTo(position(event));
  });
  const end = () => (last = null);
  canvas.addEventListener('pointerup', end);
  canvas.addEventListener('pointercancel', end);

  clear();
  return {
    clear,
    pixels: () => ({ rgba: context.getImageData(0, 0, canvas.width, canvas.height).data, width: canvas.width, height: canvas.height }),
    isEmpty: () => empty,
  };
}
