/**
 * Profiles training steps and an evaluation batch of one study model: GPU time per kernel from
 * timestamp queries (ENGINE_PROFILE=1) and wall time per step.
 *
 *   ENGINE_PROFILE=1 node scripts/run.mjs bench/profile-step.ts --preset default --model densenet --batch 32
 */
import { parseArgs } from 'node:util';
import { createEngine } from '../src/gpu/node.ts';
import { getEngine } from '../src/gpu/engine.ts';
import { formatProfile } from '../src/gpu/profiler.ts';
import { setFlags } from '../src/gpu/flags.ts';
import { tensor } from '../src/autograd/tensor.ts';
import { tidy } from '../src/autograd/scope.ts';
import { noGrad } from '../src/autograd/tape.ts';
import { crossEntropy } from '../src/autograd/ops/softmax.ts';
import { buildModel } from '../src/experiments/models.ts';
import { makeOptimizer } from '../src/experiments/train.ts';
import { getPreset, MODEL_NAMES, type ModelName } from '../src/experiments/presets.ts';
import { fillValues } from './harness.ts';

const { values } = parseArgs({
  options: {
    preset: { type: 'string', default: 'default' },
    model: { type: 'string', default: 'densenet' },
    batch: { type: 'string' },
    steps: { type: 'string', default: '3' },
    adapter: { type: 'string' },
    'wall-only': { type: 'boolean', default: false },
  },
});
const modelName = values.model as ModelName;
if (!MODEL_NAMES.includes(modelName)) throw new Error(`unknown --model "${values.model}"; choose one of ${MODEL_NAMES.join(', ')}`);
const preset = getPreset(values.preset!);
const settings = preset[modelName].train;
const batch = Number(values.batch ?? settings.batchSize);
const steps = Number(values.steps);

// Timestamps give each dispatch its own pass, which slows the run: --wall-only times steps alone.
const profiling = !values['wall-only'];
setFlags({ ENGINE_PROFILE: profiling });
const engine = await createEngine({ adapter: values.adapter as never });
const model = buildModel(modelName, preset, 1);
const optimizer = makeOptimizer(model, settings);
const shape = [batch, preset.channels, preset.imageSize, preset.imageSize];
const x = tensor(fillValues(shape.reduce((a, b) => a * b, 1), 3), shape);
const labels = Int32Array.from({ length: batch }, (_, i) => i % 10);

async function trainStep(): Promise<void> {
  const loss = tidy(() => {
    const l = crossEntropy(model.forward(x), labels);
    l.backward();
    optimizer.step();
    optimizer.zeroGrad();
    return l;
  });
  await loss.data();
  loss.dispose();
}

// The first step compiles the pipelines.
await trainStep();
if (profiling) await engine.profile(true);
const start = performance.now();
for (let i = 0; i < steps; i++) await trainStep();
const seconds = (performance.now() - start) / 1000;
const dispatches = engine.stats().dispatches;
const mode = profiling ? 'with profiling' : 'without profiling';
console.log(`${modelName} (${values.preset}) training step, batch ${batch}: ${(seconds / steps).toFixed(3)} s wall per step ${mode}, ${((batch * steps) / seconds).toFixed(1)} images/s`);
if (profiling) console.log(formatProfile(await engine.profile(true), 30));

model.train(false);
const evalStart = performance.now();
const logits = noGrad(() => model.forward(x));
await logits.data();
logits.dispose();
console.log(`\nevaluation forward, batch ${batch}: ${((performance.now() - evalStart) / 1000).toFixed(3)} s wall ${mode}`);
if (profiling) console.log(formatProfile(await engine.profile(true), 20));
console.log(`dispatches in all: ${dispatches}`);
getEngine().dispose();
