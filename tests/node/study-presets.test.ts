// The presets build the models they describe: the paper preset's parameter counts match the
// study's models, and the shape table of every preset agrees with the models' own shapes.
import { describe, expect, it } from 'vitest';
import { buildModel, summarizeModel } from '../../src/experiments/models.ts';
import { PRESETS, getPreset } from '../../src/experiments/presets.ts';
import type { DenseNet } from '../../src/nn/models/densenet.ts';

describe('study presets', () => {
  it('paper preset parameter counts', () => {
    const preset = getPreset('paper');
    const densenet = buildModel('densenet', preset, 0);
    const vit = buildModel('vit', preset, 0);
    // torchvision's densenet121(num_classes=10) and the study's ViT.
    expect(densenet.parameterCount()).toBe(6_964_106);
    expect(vit.parameterCount()).toBe(1_314_954);
    densenet.dispose();
    vit.dispose();
  });

  for (const name of Object.keys(PRESETS)) {
    it(`${name} shape table matches model`, () => {
      const preset = getPreset(name);
      const model = buildModel('densenet', preset, 0);
      const summary = summarizeModel('densenet', model, preset, 4);
      const expected = (model as unknown as DenseNet).outputShapes(4, preset.imageSize);
      const features = summary.shapes.find((r) => r.stage.startsWith('final batchnorm'));
      expect(features?.shape).toEqual(expected.features);
      expect(summary.featureSize).toBe(expected.features[1]);
      expect(summary.shapes[summary.shapes.length - 1].shape).toEqual(expected.logits);
      model.dispose();
    });
  }

  it('unknown preset lists the presets', () => {
    expect(() => getPreset('huge')).toThrow(/unknown preset "huge"; choose one of paper, default, tiny/);
  });
});
