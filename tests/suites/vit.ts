// The ViT and its token ops: the study model's parameter count and timm's names, patch
// embedding against a direct convolution, the class-token and token-selection gradients, and
// a forward and backward pass that reaches every parameter.
import { getEngine, gradcheck, ops, tensor, tidy, type Tensor } from '../../src/index.ts';
import { Adam } from '../../src/nn/optim.ts';
import { VisionTransformer, vitStudy } from '../../src/nn/models/vit.ts';
import { decodeSafetensors, loadModel, saveModel } from '../../src/nn/safetensors.ts';
import { assert, assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { f32, uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';

/** Computes a P x P, stride-P convolution in float64: images [B, C, H, W], weight [D, C, P, P] -> [B, N, D]. */
function patchConvReference(x: Float64Array, shape: number[], w: Float64Array, bias: Float64Array, width: number, p: number): Float64Array {
  const [batch, channels, height, imageWidth] = shape;
  const px = imageWidth / p;
  const patches = (height / p) * px;
  const out = new Float64Array(batch * patches * width);
  for (let b = 0; b < batch; b++) {
    for (let n = 0; n < patches; n++) {
      const y0 = Math.floor(n / px) * p;
      const x0 = (n % px) * p;
      for (let d = 0; d < width; d++) {
        let sum = bias[d];
        for (let c = 0; c < channels; c++) {
          for (let ky = 0; ky < p; ky++) {
            for (let kx = 0; kx < p; kx++) {
              sum += w[((d * channels + c) * p + ky) * p + kx] * x[((b * channels + c) * height + y0 + ky) * imageWidth + x0 + kx];
            }
          }
        }
        out[(b * patches + n) * width + d] = sum;
      }
    }
  }
  return out;
}

function disposeAll(...ts: Tensor[]): void {
  for (const t of ts) {
    t.grad?.dispose();
    t.dispose();
  }
}

const TIMM_BLOCK_NAMES = [
  'norm1.weight', 'norm1.bias', 'attn.qkv.weight', 'attn.qkv.bias', 'attn.proj.weight', 'attn.proj.bias',
  'norm2.weight', 'norm2.bias', 'mlp.fc1.weight', 'mlp.fc1.bias', 'mlp.fc2.weight', 'mlp.fc2.bias',
];

const cases: Case[] = [
  {
    name: 'study model parameter count',
    run: () => {
      const model = vitStudy();
      try {
        assertEqual(model.parameterCount(), 1_314_954, 'parameters of the 224x224, patch 16, width 128, depth 6, MLP 512 ViT');
        assertEqual(model.patchCount, 196, 'patches of a 224x224 image with patch 16');
      } finally {
        model.dispose();
      }
    },
  },
  {
    name: 'parameter names follow timm',
    run: () => {
      const model = new VisionTransformer({ imageSize: 28, patchSize: 7, inChannels: 1, width: 16, depth: 2, heads: 2, mlpDim: 32 });
      try {
        const expected = [
          ['cls_token', [1, 1, 16]],
          ['pos_embed', [1, 17, 16]],
          ['patch_embed.proj.weight', [16, 1, 7, 7]],
          ['patch_embed.proj.bias', [16]],
          ...[0, 1].flatMap((i) => TIMM_BLOCK_NAMES.map((n) => [`blocks.${i}.${n}`, null])),
          ['norm.weight', [16]],
          ['norm.bias', [16]],
          ['head.weight', [10, 16]],
          ['head.bias', [10]],
        ] as [string, number[] | null][];
        const actual = model.namedParameters();
        assertEqual(actual.map(([n]) => n), expected.map(([n]) => n), 'parameter names');
        for (const [i, [name, shape]] of expected.entries()) {
          if (shape) assertEqual([...actual[i][1].shape], shape, `shape of ${name}`);
        }
        assertEqual([...model.stateDict().get('blocks.1.attn.qkv.weight')!.shape], [48, 16], 'shape of blocks.1.attn.qkv.weight');
      } finally {
        model.dispose();
      }
    },
  },
  {
    name: 'patch embedding equals a convolution',
    run: async () => {
      const shape = [2, 3, 12, 8];
      const p = 4;
      const width = 5;
      const x = f32(uniform(2 * 3 * 12 * 8, 400));
      const w = f32(uniform(width * 3 * p * p, 401));
      const b = f32(uniform(width, 402));
      const xt = tensor(x, shape, { requiresGrad: true, name: 'images' });
      const wt = tensor(w, [width, 3, p, p], { requiresGrad: true, name: 'weight' });
      const bt = tensor(b, [width], { requiresGrad: true, name: 'bias' });
      try {
        const out = tidy(() => ops.patchEmbed(xt, wt, bt, p));
        assertEqual([...out.shape], [2, 6, width], 'patch embedding shape');
        assertClose(await out.data(), patchConvReference(x, shape, w, b, width, p), 'patch embedding', { atol: 1e-5, rtol: 1e-5 });
        out.dispose();
        await gradcheck((xi: Tensor, wi: Tensor, bi: Tensor) => ops.patchEmbed(xi, wi, bi, p), [xt, wt, bt], { maxElements: 20 });
      } finally {
        disposeAll(xt, wt, bt);
      }
    },
  },
  {
    name: 'class token and selection gradients',
    run: async () => {
      const emb = tensor(uniform(2 * 3 * 4, 410), [2, 3, 4], { requiresGrad: true, name: 'emb' });
      const cls = tensor(uniform(4, 411), [1, 1, 4], { requiresGrad: true, name: 'cls' });
      const pos = tensor(uniform(16, 412), [1, 4, 4], { requiresGrad: true, name: 'pos' });
      try {
        const tokens = tidy(() => ops.addClassToken(emb, cls, pos));
        const values = await tokens.data();
        const e = await emb.data();
        const c = await cls.data();
        const q = await pos.data();
        // Token 0 is cls + pos[0]; token 2 of batch 1 is emb[1, 1] + pos[2].
        assertClose(values.slice(0, 4), [0, 1, 2, 3].map((i) => c[i] + q[i]), 'class token row', { atol: 1e-6 });
        assertClose(values.slice(24, 28), [0, 1, 2, 3].map((i) => e[16 + i] + q[8 + i]), 'batch 1, token 2', { atol: 1e-6 });
        tokens.dispose();
        await gradcheck((a: Tensor, b: Tensor, d: Tensor) => ops.selectTokens(ops.addClassToken(a, b, d), 1, 2), [emb, cls, pos]);
      } finally {
        disposeAll(emb, cls, pos);
      }
    },
  },
  {
    name: 'forward and backward reach every parameter',
    run: async () => {
      const model = new VisionTransformer({ imageSize: 28, patchSize: 7, inChannels: 1, width: 32, depth: 2, heads: 2, mlpDim: 64, numClasses: 10, seed: 3 });
      const images = tensor(uniform(3 * 28 * 28, 420, 0, 1), [3, 1, 28, 28], { name: 'images' });
      try {
        const logits = tidy(() => {
          const out = model.forward(images);
          ops.crossEntropy(out, [1, 5, 9]).backward();
          return out;
        });
        assertEqual([...logits.shape], [3, 10], 'logits shape');
        const values = await logits.data();
        assert(values.every(Number.isFinite), 'logits are finite');
        logits.dispose();
        for (const [name, p] of model.namedParameters()) {
          assert(p.grad !== null, `${name} received a gradient`);
          const g = await p.grad.data();
          assert(g.every(Number.isFinite), `gradient of ${name} is finite`);
        }
      } finally {
        model.dispose();
        images.dispose();
      }
    },
  },
  {
    name: 'safetensors checkpoint round trip',
    run: async () => {
      const options = { imageSize: 8, patchSize: 4, inChannels: 1, width: 8, depth: 2, heads: 2, mlpDim: 16 };
      const source = new VisionTransformer({ ...options, seed: 11 });
      const target = new VisionTransformer({ ...options, seed: 12 });
      const images = tensor(uniform(64, 440, 0, 1), [1, 1, 8, 8], { name: 'images' });
      try {
        const bytes = await saveModel(source);
        const names = [...decodeSafetensors(bytes).tensors.keys()];
        assertEqual(names.includes('blocks.1.attn.qkv.weight'), true, 'file has blocks.1.attn.qkv.weight');
        assertEqual(names.includes('patch_embed.proj.weight'), true, 'file has patch_embed.proj.weight');
        loadModel(target, bytes);
        source.eval();
        target.eval();
        const a = tidy(() => source.forward(images));
        const b = tidy(() => target.forward(images));
        assertClose(await b.data(), await a.data(), 'logits after loading', { atol: 0, rtol: 0 });
        a.dispose();
        b.dispose();
      } finally {
        source.dispose();
        target.dispose();
        images.dispose();
      }
    },
  },
  {
    name: 'dropout only in training mode',
    run: async () => {
      const model = new VisionTransformer({ imageSize: 8, patchSize: 4, inChannels: 1, width: 8, depth: 1, heads: 2, mlpDim: 16, dropout: 0.5, seed: 5 });
      const images = tensor(uniform(2 * 64, 430, 0, 1), [2, 1, 8, 8], { name: 'images' });
      try {
        const run = async () => {
          const logits = tidy(() => model.forward(images));
          const values = Array.from(await logits.data());
          logits.dispose();
          return values;
        };
        model.eval();
        const first = await run();
        assertClose(await run(), first, 'eval-mode logits of two calls', { atol: 0, rtol: 0 });
        model.train();
        const trainA = await run();
        const trainB = await run();
        assert(trainA.some((v, i) => v !== first[i]), 'training-mode logits differ from eval mode');
        assert(trainA.some((v, i) => v !== trainB[i]), 'two training-mode calls draw different masks');
        model.setDropoutSeed(7);
        const replayA = await run();
        model.setDropoutSeed(7);
        assertClose(await run(), replayA, 'logits after resetting the dropout seed', { atol: 0, rtol: 0 });
      } finally {
        model.dispose();
        images.dispose();
      }
    },
  },
  {
    name: 'training steps leak no buffers',
    run: async () => {
      const model = new VisionTransformer({ imageSize: 8, patchSize: 4, inChannels: 1, width: 8, depth: 2, heads: 2, mlpDim: 16, dropout: 0.1, seed: 6 });
      const images = tensor(uniform(3 * 64, 450, 0, 1), [3, 1, 8, 8], { name: 'images' });
      const optimizer = new Adam(model.namedParameters(), { lr: 1e-3 });
      const step = async () => {
        optimizer.zeroGrad();
        const loss = tidy(() => {
          const l = ops.crossEntropy(model.forward(images), [0, 4, 9]);
          l.backward();
          return l;
        });
        optimizer.step();
        await loss.data();
        loss.dispose();
      };
      try {
        // The first step allocates Adam's moments and the parameters' gradients.
        await step();
        const before = getEngine().stats();
        await step();
        await step();
        const after = getEngine().stats();
        assertEqual(after.liveBuffers, before.liveBuffers, 'live buffers after two more steps');
        assertEqual(after.liveBytes, before.liveBytes, 'live bytes after two more steps');
      } finally {
        optimizer.dispose();
        model.dispose();
        images.dispose();
      }
    },
  },
  {
    name: 'rejects mismatched options and input',
    run: async () => {
      await assertThrows(() => new VisionTransformer({ imageSize: 28, patchSize: 5 }), /imageSize 28 is not a multiple of patchSize 5/, 'patch size check');
      await assertThrows(() => new VisionTransformer({ width: 30, heads: 4 }), /width 30 is not a multiple of heads 4/, 'heads check');
      const model = new VisionTransformer({ imageSize: 28, patchSize: 7, inChannels: 1, width: 8, depth: 1, heads: 2, mlpDim: 8 });
      const images = tensor(new Float32Array(2 * 3 * 28 * 28), [2, 3, 28, 28], { name: 'images' });
      try {
        await assertThrows(() => model.forward(images), /input \[2, 3, 28, 28\] does not match \[batch, 1, 28, 28\]/, 'input check');
      } finally {
        model.dispose();
        images.dispose();
      }
    },
  },
];

export default suite('vit', cases);
