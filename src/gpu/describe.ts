/** Turns a GPUAdapter's info into the description every program logs. */
import type { AdapterDescription } from './engine.ts';

export function describeAdapter(adapter: GPUAdapter, runtime: 'node' | 'browser'): AdapterDescription {
  const info = adapter.info;
  const text = `${info.vendor} ${info.architecture} ${info.device} ${info.description}`.toLowerCase();
  const kind = text.includes('swiftshader') ? 'swiftshader' : text.includes('llvmpipe') || text.includes('lavapipe') ? 'lavapipe' : 'hardware';
  const fallback = (info as GPUAdapterInfo & { isFallbackAdapter?: boolean }).isFallbackAdapter === true;
  const isSoftware = fallback || kind !== 'hardware' || /warp|software|cpu/.test(text);
  const name = info.description || [info.vendor, info.architecture, info.device].filter(Boolean).join(' ') || 'unknown adapter';
  return {
    name,
    vendor: info.vendor,
    architecture: info.architecture,
    description: info.description,
    isSoftware,
    kind: runtime === 'browser' && kind === 'hardware' && !isSoftware ? 'hardware' : kind,
    runtime,
  };
}
