/**
 * The training loop: epochs over a seeded loader, Adam or AdamW with a learning-rate schedule,
 * an evaluation after each epoch and an atomic checkpoint after it. A run resumed from its last
 * checkpoint makes the same updates as an uninterrupted one, because everything random is a
 * function of the seed and the counters stored in the checkpoint. The data order and
 * augmentation of epoch e come from (seed, e), and dropout of update t from (seed, t).
 */
import { existsSync } from 'node:fs';
import { tidy } from '../autograd/scope.ts';
import { crossEntropy } from '../autograd/ops/softmax.ts';
import type { Tensor } from '../autograd/tensor.ts';
import type { DataLoader } from '../data/loader.ts';
import { hashKey } from '../data/transforms.ts';
import { Adam, AdamW, type Optimizer } from '../nn/optim.ts';
import { makeSchedule, type Schedule } from '../nn/schedule.ts';
import { CHECKPOINT_FORMAT, loadCheckpoint, saveCheckpoint, type EpochRecord } from './checkpoint.ts';
import { accuracyAndLoss, predict, type Classifier } from './evaluate.ts';
import { argmaxRows } from './metrics.ts';
import type { TrainPreset } from './presets.ts';
import { startProgress } from './progress.ts';

/** A model with dropout takes a seed per update, so that its masks can be replayed on resume. */
interface SeededDropout {
  setDropoutSeed(seed: number): void;
}

export interface TrainOptions {
  /** Model name in logs and checkpoints (`densenet`, `vit`). */
  name: string;
  model: Classifier;
  settings: TrainPreset;
  trainLoader: DataLoader;
  /** Data of the evaluation after each epoch; none skips it. */
  evalLoader: DataLoader | null;
  seed: number;
  /** Path of the checkpoint written after each epoch; null writes none. */
  checkpointPath: string | null;
  /** Continue from the checkpoint at `checkpointPath` when it exists. */
  resume: boolean;
  /** Stored in the checkpoint's metadata. */
  config: unknown;
  log: (line: string) => void;
  /** Stop after this many epochs in total (simulates an interruption in tests). */
  stopAfterEpoch?: number;
  interactive?: boolean;
}

export interface TrainResult {
  history: EpochRecord[];
  steps: number;
  epochs: number;
  /** Seconds spent training in this process (a resumed run counts only its own part). */
  seconds: number;
  optimizer: Optimizer;
}

/** Builds the preset's optimizer over the model's named parameters. */
export function makeOptimizer(model: Classifier, settings: TrainPreset): Optimizer {
  const params = model.namedParameters();
  const options = { lr: settings.lr, weightDecay: settings.weightDecay };
  return settings.optimizer === 'adamw' ? new AdamW(params, options) : new Adam(params, options);
}

function makeRunSchedule(settings: TrainPreset, stepsPerEpoch: number): Schedule {
  const totalSteps = settings.epochs * stepsPerEpoch;
  return makeSchedule({
    name: settings.schedule,
    lr: settings.lr,
    totalSteps,
    warmupSteps: Math.min(totalSteps - 1, Math.round(settings.warmupFraction * totalSteps)),
  });
}

/** Trains the model; returns its history and the optimizer (whose state the caller may free). */
export async function train(options: TrainOptions): Promise<TrainResult> {
  const { name, model, settings, trainLoader, evalLoader, seed, log } = options;
  const optimizer = makeOptimizer(model, settings);
  const stepsPerEpoch = trainLoader.batchesPerEpoch;
  const schedule = makeRunSchedule(settings, stepsPerEpoch);
  let history: EpochRecord[] = [];
  let epoch = 0;

  // ---- resume ------------------------------------------------------------------------------
  if (options.resume && options.checkpointPath && existsSync(options.checkpointPath)) {
    const meta = loadCheckpoint(options.checkpointPath, model, optimizer);
    if (meta.rng.seed !== seed) {
      throw new Error(`${options.checkpointPath} was written with seed ${meta.rng.seed}, not ${seed}; resume with --seed ${meta.rng.seed} or start over with --force`);
    }
    epoch = meta.epoch;
    history = meta.history;
    log(`${name}: resumed from ${options.checkpointPath} after epoch ${epoch} (update ${meta.step})`);
  }

  const start = performance.now();
  const lastEpoch = Math.min(settings.epochs, options.stopAfterEpoch ?? settings.epochs);
  for (; epoch < lastEpoch; epoch++) {
    // ---- one epoch -------------------------------------------------------------------------
    model.train();
    const epochStart = performance.now();
    const stepsAfter = (lastEpoch - epoch - 1) * stepsPerEpoch;
    const progress = startProgress(`${name} epoch ${epoch + 1}/${settings.epochs}`, stepsPerEpoch, trainLoader.batchSize, log, options.interactive, stepsAfter);
    let seen = 0;
    let lossSum = 0;
    let correct = 0;
    let done = 0;
    for (const batch of trainLoader.batches(epoch)) {
      optimizer.lr = schedule(optimizer.stepCount);
      if (typeof (model as unknown as Partial<SeededDropout>).setDropoutSeed === 'function') {
        (model as unknown as SeededDropout).setDropoutSeed(hashKey(seed, optimizer.stepCount));
      }
      const [loss, logits] = tidy(() => {
        const out = model.forward(batch.images);
        const l = crossEntropy(out, batch.labels, { reduction: 'mean' });
        l.backward();
        return [l, out] as Tensor[];
      });
      optimizer.step();
      optimizer.zeroGrad();
      batch.images.dispose();
      batch.labels.dispose();

      // The loss and the logits are the only values read back per update.
      const lossValue = (await loss.data())[0];
      const predicted = argmaxRows(await logits.data(), logits.shape[1]);
      loss.dispose();
      logits.dispose();
      if (!Number.isFinite(lossValue)) throw new Error(`${name}: the loss became ${lossValue} at update ${optimizer.stepCount}; lower the learning rate`);
      const n = batch.indices.length;
      seen += n;
      lossSum += lossValue * n;
      for (let i = 0; i < n; i++) if (predicted[i] === trainLoader.split.labels[batch.indices[i]]) correct++;
      done++;
      const elapsed = (performance.now() - epochStart) / 1000;
      progress.update(done, { loss: lossSum / seen, accuracy: correct / seen, imagesPerSecond: seen / elapsed });
    }
    progress.stop();
    const trainSeconds = (performance.now() - epochStart) / 1000;

    // ---- evaluation ------------------------------------------------------------------------
    let evalAccuracy = NaN;
    let evalLoss = NaN;
    if (evalLoader) {
      ({ accuracy: evalAccuracy, loss: evalLoss } = accuracyAndLoss(await predict(model, evalLoader)));
    }
    const record: EpochRecord = {
      epoch: epoch + 1,
      trainLoss: lossSum / Math.max(1, seen),
      trainAccuracy: correct / Math.max(1, seen),
      evalAccuracy,
      evalLoss,
      seconds: trainSeconds,
      imagesPerSecond: seen / trainSeconds,
      lr: optimizer.lr,
    };
    history.push(record);
    log(
      `${name} epoch ${epoch + 1}/${settings.epochs}: train loss ${record.trainLoss.toFixed(4)}, acc ${(100 * record.trainAccuracy).toFixed(2)}%` +
        (evalLoader ? `; eval loss ${evalLoss.toFixed(4)}, acc ${(100 * evalAccuracy).toFixed(2)}%` : '') +
        `; ${record.imagesPerSecond.toFixed(0)} img/s, ${trainSeconds.toFixed(1)} s`,
    );

    // ---- checkpoint ------------------------------------------------------------------------
    if (options.checkpointPath) {
      await saveCheckpoint(options.checkpointPath, model, optimizer, {
        format: CHECKPOINT_FORMAT,
        model: name,
        config: options.config,
        epoch: epoch + 1,
        step: optimizer.stepCount,
        rng: { seed, epoch: epoch + 1, step: optimizer.stepCount },
        history,
      });
    }
  }

  return { history, steps: optimizer.stepCount, epochs: epoch, seconds: (performance.now() - start) / 1000, optimizer };
}
