/**
 * TensorFlow.js's WebGPU backend as the benchmark peer, on the same Vulkan driver as the
 * engine: the engine's adapter choice has set VK_ICD_FILENAMES, and a Dawn GPU object made
 * after it becomes `navigator.gpu` before `@tensorflow/tfjs-backend-webgpu` is imported (the
 * backend registers itself only when `navigator.gpu` exists at import).
 */
import { create } from 'webgpu';
import type { Engine } from '../src/index.ts';

type Tf = typeof import('@tensorflow/tfjs-core');

export interface TfjsPeer {
  tf: Tf;
  /** `tfjs-webgpu VERSION`. */
  name: string;
  /** The adapter tfjs runs on, as its backend reports it. */
  adapter: string;
}

// Dawn aborts the process if a GPU object is collected while its devices live.
const instances: GPU[] = [];

/** Loads TensorFlow.js on WebGPU; returns null (with the reason on stderr) when it cannot. */
export async function loadTfjs(engine: Engine): Promise<TfjsPeer | null> {
  try {
    const gpu = create([]);
    instances.push(gpu);
    Object.defineProperty(globalThis, 'navigator', { value: { gpu }, configurable: true, writable: true });
    const tf = await import('@tensorflow/tfjs-core');
    await import('@tensorflow/tfjs-backend-webgpu');
    if (!(await tf.setBackend('webgpu'))) throw new Error('tf.setBackend("webgpu") returned false');
    await tf.ready();
    if (tf.getBackend() !== 'webgpu') throw new Error(`TensorFlow.js chose backend ${tf.getBackend()}, not webgpu`);

    const device = (tf.backend() as unknown as { device: GPUDevice }).device;
    const info = device.adapterInfo;
    const adapter = [info?.vendor, info?.architecture, info?.description].filter(Boolean).join(' ') || 'unknown';
    // The WebGPU backend is released together with tfjs-core and carries its version.
    const peer = { tf, name: `tfjs-webgpu ${tf.version_core}`, adapter };
    console.error(`[bench] peer: ${peer.name} on ${adapter} (engine: ${engine.adapter.name})`);
    return peer;
  } catch (error) {
    console.error(`[bench] TensorFlow.js WebGPU peer unavailable: ${error instanceof Error ? error.message : String(error)}`);
    return null;
  }
}
