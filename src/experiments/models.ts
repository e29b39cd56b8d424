/**
 * The study's two models built from a preset, their Grad-CAM heads and their summaries
 * (parameter count, feature size and tensor shapes through the pipeline).
 */
import { DenseNet } from '../nn/models/densenet.ts';
import { VisionTransformer } from '../nn/models/vit.ts';
import type { Tensor } from '../autograd/tensor.ts';
import { mean } from '../autograd/ops/reduce.ts';
import { relu } from '../autograd/ops/elementwise.ts';
import type { Classifier } from './evaluate.ts';
import type { ModelName, Preset } from './presets.ts';
import type { ModelSummary, ShapeRow } from './results.ts';

export const NUM_CLASSES = 10;

/** A DenseNet as Grad-CAM needs it: the final batchnorm's output and the classifier after it. */
export interface FeatureClassifier extends Classifier {
  forwardWithFeatures(x: Tensor): { features: Tensor; logits: Tensor };
  classifier: { forward(x: Tensor): Tensor };
}

/** Builds a model of the preset with seeded initial values. */
export function buildModel(name: ModelName, preset: Preset, seed: number): Classifier {
  if (name === 'densenet') {
    const d = preset.densenet;
    return new DenseNet({
      growthRate: d.growthRate, blockConfig: d.blockConfig, numInitFeatures: d.numInitFeatures, bnSize: d.bnSize,
      numClasses: NUM_CLASSES, inChannels: preset.channels, stem: d.stem, imageSize: preset.imageSize, seed,
    }) as unknown as Classifier;
  }
  const v = preset.vit;
  const model = new VisionTransformer({
    imageSize: preset.imageSize, patchSize: v.patchSize, inChannels: preset.channels, width: v.width, depth: v.depth,
    heads: v.heads, mlpDim: v.mlpDim, numClasses: NUM_CLASSES, dropout: v.dropout, seed,
  });
  // The ViT seeds each dropout mask from its seed plus a count of dropout calls. Setting that
  // count from (seed, update) before every update makes the masks a function of the update,
  // so a resumed run replays them.
  // NOTE: this writes the model's private `dropoutCalls` field; it has no public setter.
  return Object.assign(model, {
    setDropoutSeed(s: number) {
      (model as unknown as { dropoutCalls: number }).dropoutCalls = s;
    },
  }) as unknown as Classifier;
}

/**
 * Returns the head DenseNet applies to its final batchnorm output, as torchvision's forward
 * does: ReLU, global average pooling, then the linear classifier.
 */
export function denseNetHead(model: FeatureClassifier): (features: Tensor) => Tensor {
  return (features) => model.classifier.forward(mean(relu(features), [2, 3]));
}

/** Tensor shapes through DenseNet for one batch of `batch` images (torchvision's layer arithmetic). */
function denseNetShapes(preset: Preset, batch: number): { rows: ShapeRow[]; features: number } {
  const d = preset.densenet;
  let size = preset.imageSize;
  const rows: ShapeRow[] = [{ stage: 'input', shape: [batch, preset.channels, size, size] }];
  if (d.stem === 'imagenet') {
    size = Math.floor((size + 2 * 3 - 7) / 2) + 1;
    size = Math.floor((size + 2 * 1 - 3) / 2) + 1;
    rows.push({ stage: 'stem: conv 7x7 stride 2, BN, ReLU, max pool 3x3 stride 2', shape: [batch, d.numInitFeatures, size, size] });
  } else {
    rows.push({ stage: 'stem: conv 3x3 stride 1, BN, ReLU', shape: [batch, d.numInitFeatures, size, size] });
  }
  let channels = d.numInitFeatures;
  d.blockConfig.forEach((layers, i) => {
    channels += layers * d.growthRate;
    rows.push({ stage: `dense block ${i + 1} (${layers} layers, growth ${d.growthRate})`, shape: [batch, channels, size, size] });
    if (i < d.blockConfig.length - 1) {
      channels = Math.floor(channels / 2);
      size = Math.floor(size / 2);
      rows.push({ stage: `transition ${i + 1}: BN, ReLU, conv 1x1, avg pool 2x2`, shape: [batch, channels, size, size] });
    }
  });
  rows.push({ stage: 'final batchnorm (Grad-CAM features)', shape: [batch, channels, size, size] });
  rows.push({ stage: 'ReLU, global average pool', shape: [batch, channels] });
  rows.push({ stage: 'classifier (logits)', shape: [batch, NUM_CLASSES] });
  return { rows, features: channels };
}

function vitShapes(preset: Preset, batch: number): { rows: ShapeRow[]; features: number } {
  const v = preset.vit;
  const patches = (preset.imageSize / v.patchSize) ** 2;
  return {
    features: v.width,
    rows: [
      { stage: 'input', shape: [batch, preset.channels, preset.imageSize, preset.imageSize] },
      { stage: `patch embedding (${v.patchSize}x${v.patchSize} patches)`, shape: [batch, patches, v.width] },
      { stage: 'class token + position embedding', shape: [batch, patches + 1, v.width] },
      { stage: `${v.depth} pre-norm encoder blocks (${v.heads} heads, MLP ${v.mlpDim})`, shape: [batch, patches + 1, v.width] },
      { stage: 'layer norm, class token', shape: [batch, v.width] },
      { stage: 'head (logits)', shape: [batch, NUM_CLASSES] },
    ],
  };
}

/** Describes a model for the report. */
export function summarizeModel(name: ModelName, model: Classifier, preset: Preset, batch: number): ModelSummary {
  const shapes = name === 'densenet' ? denseNetShapes(preset, batch) : vitShapes(preset, batch);
  const { train, ...architecture } = name === 'densenet' ? preset.densenet : preset.vit;
  const title = name === 'densenet'
    ? (preset.densenet.growthRate === 32 && preset.densenet.stem === 'imagenet' ? 'DenseNet121' : `DenseNet121 topology (growth ${preset.densenet.growthRate}, ${preset.densenet.stem} stem)`)
    : `ViT (patch ${preset.vit.patchSize}, width ${preset.vit.width}, depth ${preset.vit.depth})`;
  return {
    name,
    title,
    parameters: model.parameterCount(),
    featureSize: shapes.features,
    shapes: shapes.rows,
    architecture: { ...architecture, optimizer: train.optimizer, lr: train.lr, weightDecay: train.weightDecay, schedule: train.schedule, epochs: train.epochs, batchSize: train.batchSize },
  };
}
