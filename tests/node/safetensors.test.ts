// safetensors: the byte format, dtypes, malformed files, and model checkpoints by name,
// including a torchvision-named DenseNet121 file whose 1000-class head is replaced.
import { describe, expect, it } from 'vitest';
import { DenseNet, densenet121 } from '../../src/nn/models/densenet.ts';
import { decodeSafetensors, encodeSafetensors, loadModel, saveModel, type SafetensorsEntry } from '../../src/nn/safetensors.ts';

function header(bytes: Uint8Array): Record<string, { dtype: string; shape: number[]; data_offsets: number[] }> {
  const length = Number(new DataView(bytes.buffer, bytes.byteOffset).getBigUint64(0, true));
  return JSON.parse(new TextDecoder().decode(bytes.subarray(8, 8 + length)));
}

function small(seed: number, numClasses = 10): DenseNet {
  return new DenseNet({ growthRate: 4, blockConfig: [2, 1], numInitFeatures: 8, numClasses, inChannels: 1, stem: 'small', seed });
}

describe('safetensors', () => {
  it('encodes the documented layout', () => {
    const bytes = encodeSafetensors(new Map<string, SafetensorsEntry>([
      ['a', { dtype: 'f32', shape: [2, 3], values: [1, 2, 3, 4, 5, 6] }],
      ['b', { dtype: 'I64', shape: [], values: [7] }],
    ]), { format: 'pt' });
    const length = Number(new DataView(bytes.buffer).getBigUint64(0, true));
    expect(length % 8).toBe(0);
    const h = header(bytes);
    expect(h.a).toEqual({ dtype: 'F32', shape: [2, 3], data_offsets: [0, 24] });
    expect(h.b).toEqual({ dtype: 'I64', shape: [], data_offsets: [24, 32] });
    expect(bytes.length).toBe(8 + length + 32);
    const { tensors, metadata } = decodeSafetensors(bytes);
    expect(metadata).toEqual({ format: 'pt' });
    expect(Array.from(tensors.get('a')!.values)).toEqual([1, 2, 3, 4, 5, 6]);
    expect(tensors.get('b')!.values).toEqual(Int32Array.from([7]));
  });

  it('decodes F16, BF16, F64 and integer types', () => {
    // Built by hand: F16 [1, -2, 0.5], BF16 [1.5], F64 [0.1], I8 [-3], U8 [200].
    const h = JSON.stringify({
      f16: { dtype: 'F16', shape: [3], data_offsets: [0, 6] },
      bf16: { dtype: 'BF16', shape: [1], data_offsets: [6, 8] },
      f64: { dtype: 'F64', shape: [1], data_offsets: [8, 16] },
      i8: { dtype: 'I8', shape: [1], data_offsets: [16, 17] },
      u8: { dtype: 'U8', shape: [1], data_offsets: [17, 18] },
    });
    const json = new TextEncoder().encode(h);
    const bytes = new Uint8Array(8 + json.length + 18);
    const view = new DataView(bytes.buffer);
    view.setBigUint64(0, BigInt(json.length), true);
    bytes.set(json, 8);
    const base = 8 + json.length;
    [0x3c00, 0xc000, 0x3800].forEach((bits, i) => view.setUint16(base + 2 * i, bits, true));
    view.setUint16(base + 6, 0x3fc0, true);
    view.setFloat64(base + 8, 0.1, true);
    view.setInt8(base + 16, -3);
    view.setUint8(base + 17, 200);
    const { tensors } = decodeSafetensors(bytes, 'hand-made.safetensors');
    expect(Array.from(tensors.get('f16')!.values)).toEqual([1, -2, 0.5]);
    expect(Array.from(tensors.get('bf16')!.values)).toEqual([1.5]);
    expect(tensors.get('f64')!.values[0]).toBeCloseTo(0.1, 7);
    expect(tensors.get('i8')!.values[0]).toBe(-3);
    expect(tensors.get('u8')!.values[0]).toBe(200);
  });

  it('rejects malformed files with the file name', () => {
    const good = encodeSafetensors(new Map([['w', { dtype: 'F32', shape: [4], values: [1, 2, 3, 4] }]]));
    expect(() => decodeSafetensors(good.subarray(0, 5), 'x.safetensors')).toThrow(/x\.safetensors: 5 bytes is too short/);
    expect(() => decodeSafetensors(good.subarray(0, good.length - 4), 'x.safetensors')).toThrow(/x\.safetensors: w F32 \[4\] needs 16 bytes/);
    const huge = good.slice();
    new DataView(huge.buffer).setBigUint64(0, 1n << 40n, true);
    expect(() => decodeSafetensors(huge, 'x.safetensors')).toThrow(/header length .* does not fit/);
    const extra = new Uint8Array(good.length + 4);
    extra.set(good);
    expect(() => decodeSafetensors(extra, 'x.safetensors')).toThrow(/cover 16 of 20 data bytes/);
  });

  it('saves and loads a model with running statistics', async () => {
    const a = small(1);
    const b = small(2);
    try {
      a.namedBuffers().find(([n]) => n === 'features.norm0.running_mean')![1].write(new Float32Array(8).fill(0.25));
      const bytes = await saveModel(a, { note: 'test' });
      const names = Object.keys(header(bytes)).filter((n) => n !== '__metadata__');
      expect(names).toContain('features.denseblock1.denselayer2.conv2.weight');
      expect(names).toContain('features.norm0.num_batches_tracked');
      loadModel(b, bytes);
      const loaded = [...b.stateDict()];
      for (const [i, [name, t]] of [...a.stateDict()].entries()) {
        expect(loaded[i][0]).toBe(name);
        expect(Array.from(await loaded[i][1].data()), name).toEqual(Array.from(await t.data()));
      }
    } finally {
      a.dispose();
      b.dispose();
    }
  });

  it('reports missing, extra and mis-shaped tensors by name', async () => {
    const model = small(3);
    try {
      const { tensors } = decodeSafetensors(await saveModel(model));
      const entries = new Map<string, SafetensorsEntry>([...tensors]);
      entries.delete('features.norm5.running_var');
      entries.set('features.extra.weight', { dtype: 'F32', shape: [1], values: [0] });
      entries.set('features.conv0.weight', { dtype: 'F32', shape: [8, 1, 5, 5], values: new Float32Array(200) });
      const error = (() => {
        try {
          loadModel(model, encodeSafetensors(entries), { source: 'edited.safetensors' });
        } catch (e) {
          return (e as Error).message;
        }
        return '';
      })();
      expect(error).toMatch(/^edited\.safetensors: /);
      expect(error).toMatch(/missing features\.norm5\.running_var \[\d+\]/);
      expect(error).toMatch(/unexpected features\.extra\.weight/);
      expect(error).toMatch(/features\.conv0\.weight: shape \[8, 1, 5, 5\] in the file, \[8, 1, 3, 3\] in the model/);
    } finally {
      model.dispose();
    }
  });

  it('loads a torchvision DenseNet121 file with a new head', async () => {
    // A 1000-class DenseNet121 replaces torchvision's ImageNet weights: the same names and
    // shapes, num_batches_tracked as I64 as PyTorch writes it.
    const imagenet = densenet121({ numClasses: 1000, seed: 5 });
    const bytes = await saveModel(imagenet);
    const conv0 = Array.from(await imagenet.namedParameters()[0][1].data());
    imagenet.dispose();
    expect(header(bytes)['features.norm0.num_batches_tracked'].dtype).toBe('I64');
    expect(header(bytes)['classifier.weight'].shape).toEqual([1000, 1024]);

    const model = densenet121({ numClasses: 10, seed: 6 });
    try {
      expect(() => loadModel(model, bytes, { source: 'densenet121.safetensors' })).toThrow(
        /classifier\.weight: shape \[1000, 1024\] in the file, \[10, 1024\] in the model/,
      );
      loadModel(model, bytes, { skip: ['classifier.'] });
      expect(Array.from(await model.namedParameters()[0][1].data())).toEqual(conv0);
    } finally {
      model.dispose();
    }
  }, 300_000);
});
