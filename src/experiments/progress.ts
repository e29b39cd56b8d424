/**
 * Training progress: a cli-progress bar with loss, accuracy, images per second and time left
 * when stdout is a terminal, and plain lines (about ten per epoch) when it is not, so that
 * logs of non-interactive runs stay readable.
 */
import cliProgress from 'cli-progress';

export interface ProgressValues {
  loss: number;
  accuracy: number;
  imagesPerSecond: number;
}

export interface Progress {
  update(done: number, values: ProgressValues): void;
  stop(): void;
}

function formatSeconds(seconds: number): string {
  if (!Number.isFinite(seconds)) return '?';
  const s = Math.max(0, Math.round(seconds));
  return s >= 60 ? `${Math.floor(s / 60)}m${String(s % 60).padStart(2, '0')}s` : `${s}s`;
}

/**
 * Starts a progress display for `total` steps labelled `label` (e.g. "densenet epoch 1/3").
 * The time left covers this epoch's remaining steps plus `stepsAfter` steps of later epochs.
 */
export function startProgress(label: string, total: number, stepSize: number, log: (line: string) => void, interactive = process.stdout.isTTY === true, stepsAfter = 0): Progress {
  if (interactive) {
    const bar = new cliProgress.SingleBar(
      {
        format: `${label} [{bar}] {value}/{total} | loss {loss} | acc {acc} | {ips} img/s | left {left}`,
        barsize: 24,
        hideCursor: true,
        clearOnComplete: false,
      },
      cliProgress.Presets.shades_classic,
    );
    bar.start(total, 0, { loss: '-', acc: '-', ips: '-', left: '-' });
    return {
      update(done, v) {
        const left = v.imagesPerSecond > 0 ? ((total - done + stepsAfter) * stepSize) / v.imagesPerSecond : Infinity;
        bar.update(done, { loss: v.loss.toFixed(4), acc: `${(100 * v.accuracy).toFixed(1)}%`, ips: v.imagesPerSecond.toFixed(0), left: formatSeconds(left) });
      },
      stop() {
        bar.stop();
      },
    };
  }
  const every = Math.max(1, Math.ceil(total / 10));
  return {
    update(done, v) {
      if (done % every !== 0 && done !== total) return;
      const left = v.imagesPerSecond > 0 ? ((total - done + stepsAfter) * stepSize) / v.imagesPerSecond : Infinity;
      log(`${label} ${done}/${total} | loss ${v.loss.toFixed(4)} | acc ${(100 * v.accuracy).toFixed(1)}% | ${v.imagesPerSecond.toFixed(0)} img/s | left ${formatSeconds(left)}`);
    },
    stop() {},
  };
}
