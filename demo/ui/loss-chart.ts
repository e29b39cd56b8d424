/** A live line chart of training loss per step, with the test accuracy after each epoch. */

export interface LossChart {
  addLoss(step: number, loss: number): void;
  addAccuracy(step: number, accuracy: number): void;
  reset(): void;
}

export function createLossChart(canvas: HTMLCanvasElement): LossChart {
  const context = canvas.getContext('2d')!;
  let losses: [number, number][] = [];
  let accuracies: [number, number][] = [];
  const margin = { left: 48, right: 48, top: 14, bottom: 28 };

  const draw = () => {
    const { width, height } = canvas;
    const plotWidth = width - margin.left - margin.right;
    const plotHeight = height - margin.top - margin.bottom;
    const foreground = getComputedStyle(canvas).color || '#888';
    context.clearRect(0, 0, width, height);
    context.font = '11px system-ui, sans-serif';
    context.fillStyle = foreground;
    context.strokeStyle = 'rgba(127, 127, 127, 0.5)';
    context.strokeRect(margin.left, margin.top, plotWidth, plotHeight);
    if (losses.length === 0) {
      context.fillText('Loss per step appears here while training.', margin.left + 10, margin.top + 20);
      return;
    }
    const maxStep = losses[losses.length - 1][0];
    const maxLoss = Math.max(...losses.map(([, l]) => l)) * 1.05;
    // Steps count from 1, which sits on the left edge.
    const x = (step: number) => margin.left + ((step - 1) / Math.max(1, maxStep - 1)) * plotWidth;
    const yLoss = (loss: number) => margin.top + plotHeight - (loss / maxLoss) * plotHeight;
    const yAccuracy = (accuracy: number) => margin.top + plotHeight - accuracy * plotHeight;

    context.textAlign = 'right';
    for (const fraction of [0, 0.5, 1]) context.fillText((maxLoss * fraction).toFixed(2), margin.left - 4, yLoss(maxLoss * fraction) + 4);
    context.textAlign = 'center';
    context.fillText(`step ${maxStep}`, margin.left + plotWidth, height - 8);
    context.fillText('loss (blue), test accuracy (orange)', margin.left + plotWidth / 2, height - 8);

    context.strokeStyle = '#2f6fdf';
    context.lineWidth = 1.5;
    context.beginPath();
    losses.forEach(([step, loss], i) => (i === 0 ? context.moveTo(x(step), yLoss(loss)) : context.lineTo(x(step), yLoss(loss))));
    context.stroke();

    if (accuracies.length > 0) {
      context.textAlign = 'left';
      for (const fraction of [0, 0.5, 1]) context.fillText(`${fraction * 100}%`, margin.left + plotWidth + 4, yAccuracy(fraction) + 4);
      context.strokeStyle = context.fillStyle = '#e0562b';
      context.beginPath();
      accuracies.forEach(([step, accuracy], i) => (i === 0 ? context.moveTo(x(step), yAccuracy(accuracy)) : context.lineTo(x(step), yAccuracy(accuracy))));
      context.stroke();
      for (const [step, accuracy] of accuracies) context.fillRect(x(step) - 2, yAccuracy(accuracy) - 2, 4, 4);
    }
  };

  draw();
  return {
    addLoss(step, loss) {
      losses.push([step, loss]);
      draw();
    },
    addAccuracy(step, accuracy) {
      accuracies.push([step, accuracy]);
      draw();
    },
    reset() {
      losses = [];
      accuracies = [];
      draw();
    },
  };
}
