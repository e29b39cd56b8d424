/**
 * Device acquisition under Node, through Dawn (the `webgpu` package).
 *
 * Choice `auto` takes the first hardware adapter; with none, a software Vulkan driver: Mesa
 * lavapipe (Dawn accepts it from Mesa 24 on) or else SwiftShader, whose driver Debian's
 * `chromium` package ships. The Vulkan loader reads `VK_ICD_FILENAMES` each time Dawn creates
 * an instance, so the choice can be made within one process. `ENGINE_ADAPTER` or the CLIs'
 * `--adapter` force `hardware`, `lavapipe`, `swiftshader` or an adapter whose name contains
 * the given text.
 */
import { existsSync, readdirSync } from 'node:fs';
import { create, globals } from 'webgpu';
import { Engine, getEngine, hasEngine, maximumLimits, profilingFeatures, setEngine, type AdapterDescription } from './engine.ts';
import { describeAdapter } from './describe.ts';
import { WebGPUUnavailableError } from './errors.ts';

export type AdapterChoice = 'auto' | 'hardware' | 'lavapipe' | 'swiftshader' | (string & {});

const ICD_DIRS = ['/usr/share/vulkan/icd.d', '/etc/vulkan/icd.d', '/usr/local/share/vulkan/icd.d'];
const SWIFTSHADER_ICDS = ['/usr/lib/chromium/vk_swiftshader_icd.json', '/usr/lib/chromium-browser/vk_swiftshader_icd.json'];

export function lavapipeIcd(): string | undefined {
  for (const dir of ICD_DIRS) {
    if (!existsSync(dir)) continue;
    const file = readdirSync(dir).find((name) => /^lvp_icd.*\.json$/.test(name));
    if (file) return `${dir}/${file}`;
  }
  return undefined;
}

export function swiftshaderIcd(): string | undefined {
  return SWIFTSHADER_ICDS.find((path) => existsSync(path));
}

// Dawn's instance must outlive every adapter and device made from it: once the `GPU` object is
// garbage collected, mapAsync on its devices aborts the process. Instances are kept here.
const instances: GPU[] = [];

async function requestWithIcd(icd: string | undefined): Promise<GPUAdapter | null> {
  if (icd !== undefined) process.env.VK_ICD_FILENAMES = icd;
  const gpu = create([]);
  instances.push(gpu);
  return gpu.requestAdapter({ powerPreference: 'high-performance' });
}

/** Finds the adapter for a choice; throws WebGPUUnavailableError with what was tried. */
export async function findAdapter(choice: AdapterChoice): Promise<GPUAdapter> {
  Object.assign(globalThis, globals);
  const userIcd = process.env.VK_ICD_FILENAMES;
  const tried: string[] = [];

  const attempt = async (label: string, icd: string | undefined, accept: (a: AdapterDescription) => boolean) => {
    const adapter = await requestWithIcd(icd);
    const description = adapter ? describeAdapter(adapter, 'node') : null;
    tried.push(`${label}: ${description ? description.name : 'no adapter'}`);
    return adapter && description && accept(description) ? adapter : null;
  };

  if (choice === 'auto') {
    // A driver the user selected with VK_ICD_FILENAMES is taken as it is.
    if (userIcd) {
      const adapter = await attempt(`VK_ICD_FILENAMES=${userIcd}`, undefined, () => true);
      if (adapter) return adapter;
    } else {
      const hardware = await attempt('system drivers', undefined, (a) => !a.isSoftware);
      if (hardware) return hardware;
      const lavapipe = lavapipeIcd();
      if (lavapipe) {
        const adapter = await attempt(`lavapipe (${lavapipe})`, lavapipe, () => true);
        if (adapter) return adapter;
      }
      const swiftshader = swiftshaderIcd();
      if (swiftshader) {
        const adapter = await attempt(`SwiftShader (${swiftshader})`, swiftshader, () => true);
        if (adapter) return adapter;
      }
    }
  } else if (choice === 'hardware') {
    const adapter = await attempt('system drivers', userIcd, (a) => !a.isSoftware);
    if (adapter) return adapter;
  } else if (choice === 'lavapipe' || choice === 'swiftshader') {
    const icd = choice === 'lavapipe' ? lavapipeIcd() : swiftshaderIcd();
    if (!icd) {
      const hint = choice === 'lavapipe' ? 'mesa-vulkan-drivers 24 or newer' : 'chromium';
      throw new WebGPUUnavailableError(`adapter ${choice} requested, but its Vulkan driver is not installed; run: sudo bash scripts/setup.sh (installs ${hint})`);
    }
    const adapter = await attempt(`${choice} (${icd})`, icd, () => true);
    if (adapter) return adapter;
  } else {
    const wanted = choice.toLowerCase();
    for (const [label, icd] of [['system drivers', userIcd], ['lavapipe', lavapipeIcd()], ['SwiftShader', swiftshaderIcd()]] as const) {
      if (label !== 'system drivers' && !icd) continue;
      const adapter = await attempt(label, icd, (a) => `${a.name} ${a.vendor} ${a.architecture}`.toLowerCase().includes(wanted));
      if (adapter) return adapter;
    }
  }
  throw new WebGPUUnavailableError(
    `no WebGPU adapter for choice "${choice}". Tried:\n  ${tried.join('\n  ') || '(nothing)'}\n` +
      'Install a software driver with: sudo bash scripts/setup.sh, or choose another with --adapter / ENGINE_ADAPTER ' +
      '(auto, hardware, lavapipe, swiftshader, or part of an adapter name).',
  );
}

export interface NodeEngineOptions {
  /** Adapter choice; defaults to `ENGINE_ADAPTER` or `auto`. */
  adapter?: AdapterChoice;
  /** Logs the chosen adapter to stderr; on by default. */
  log?: boolean;
}

/** Creates the engine on a Node adapter, makes it the current one and logs which it is. */
export async function createEngine(options: NodeEngineOptions = {}): Promise<Engine> {
  const choice = options.adapter ?? process.env.ENGINE_ADAPTER ?? 'auto';
  const adapter = await findAdapter(choice);
  const device = await adapter.requestDevice({ requiredLimits: maximumLimits(adapter), requiredFeatures: profilingFeatures(adapter) });
  const description = describeAdapter(adapter, 'node');
  if (options.log !== false) {
    console.error(`[engine] adapter: ${description.name} (${description.kind}, ${description.isSoftware ? 'software' : 'hardware'})`);
  }
  const engine = new Engine(device, description, () => {
    liveEngines.delete(engine);
    if (hasEngine() && getEngine() === engine) setEngine(null);
  });
  liveEngines.add(engine);
  installExitHook();
  setEngine(engine);
  return engine;
}

// Engines not yet disposed, destroyed by the exit hook.
const liveEngines = new Set<Engine>();
let exitHookInstalled = false;

/**
 * Destroys every engine's device when Node's event loop runs empty ('beforeExit'), so that a
 * program that never calls dispose() still exits, however the Dawn addon behaves. With webgpu
 * 0.6.2 on lavapipe and SwiftShader the process already exits without it
 * (tests/node/engine.test.ts spawns such a program); the hook keeps that true if a Dawn build
 * holds the loop open while a device lives. 'beforeExit' does not fire on process.exit() or a
 * fatal signal, where the OS reclaims the device anyway.
 */
function installExitHook(): void {
  if (exitHookInstalled) return;
  exitHookInstalled = true;
  process.on('beforeExit', () => {
    for (const engine of [...liveEngines]) engine.dispose();
  });
}
