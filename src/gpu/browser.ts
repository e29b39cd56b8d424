/** Device acquisition in a browser, through `navigator.gpu`. */
import { Engine, getEngine, hasEngine, maximumLimits, profilingFeatures, setEngine } from './engine.ts';
import { WebGPUUnavailableError } from './errors.ts';
import { describeAdapter } from './describe.ts';

export const ENABLE_WEBGPU_HINT =
  'Use a recent Chrome or Edge (113 or newer) or Safari 26; in Firefox enable dom.webgpu.enabled; ' +
  'on Linux Chrome, start it with --enable-unsafe-webgpu --enable-features=Vulkan.';

/** Creates the engine on the page's WebGPU adapter; a page without WebGPU gets a readable error. */
export async function createBrowserEngine(options: { powerPreference?: GPUPowerPreference } = {}): Promise<Engine> {
  const gpu = (globalThis.navigator as Navigator | undefined)?.gpu;
  if (!gpu) {
    throw new WebGPUUnavailableError(`This browser does not expose WebGPU (navigator.gpu is missing). ${ENABLE_WEBGPU_HINT}`);
  }
  const adapter = await gpu.requestAdapter({ powerPreference: options.powerPreference ?? 'high-performance' });
  if (!adapter) {
    throw new WebGPUUnavailableError(`WebGPU is present but no adapter was found (blocked GPU or driver). ${ENABLE_WEBGPU_HINT}`);
  }
  const device = await adapter.requestDevice({ requiredLimits: maximumLimits(adapter), requiredFeatures: profilingFeatures(adapter) });
  // Disposing an older engine must not unset a newer current one.
  const engine: Engine = new Engine(device, describeAdapter(adapter, 'browser'), () => {
    if (hasEngine() && getEngine() === engine) setEngine(null);
  });
  setEngine(engine);
  console.info(`[engine] adapter: ${engine.adapter.name} (${engine.adapter.isSoftware ? 'software' : 'hardware'})`);
  return engine;
}
