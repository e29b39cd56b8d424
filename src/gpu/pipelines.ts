/**
 * Pipeline cache. A kernel is a WGSL family source plus `defines`: constants the host prepends
 * as `const NAME = value;`, so that tile sizes and variant flags come from one place (the
 * TypeScript wrapper) and every value that changes the generated code is part of the cache key.
 * Shapes are never defines: they travel in uniforms, so a new batch size compiles nothing.
 */
import commonSource from '../../shaders/common.wgsl';
import { flags } from './flags.ts';
import { ShaderCompileError, type CompilationMessage } from './errors.ts';

/** A define's value: numbers become `u32` literals unless given as WGSL text, e.g. `'1e-5'`. */
export type DefineValue = number | boolean | string;

export interface KernelSpec {
  /** Family name, the stem of the WGSL file (`gemm`, `elementwise`, ...). */
  family: string;
  /** The family's WGSL source. */
  source: string;
  /** Entry point; `main` when omitted. */
  entry?: string;
  defines?: Record<string, DefineValue>;
}

function formatDefine(name: string, value: DefineValue): string {
  if (typeof value === 'boolean') return `const ${name} = ${value};`;
  if (typeof value === 'number') {
    if (!Number.isInteger(value) || value < 0) {
      throw new Error(`define ${name}=${value} must be a non-negative integer; pass other values as WGSL text`);
    }
    return `const ${name} = ${value}u;`;
  }
  return `const ${name} = ${value};`;
}

export function kernelKey(spec: KernelSpec): string {
  const defines = Object.entries(spec.defines ?? {})
    .sort(([a], [b]) => (a < b ? -1 : 1))
    .map(([k, v]) => `${k}=${v}`)
    .join(',');
  return `${spec.family}.${spec.entry ?? 'main'}(${defines})`;
}

export function kernelSource(spec: KernelSpec): string {
  const defines = Object.entries(spec.defines ?? {}).map(([k, v]) => formatDefine(k, v));
  return [...defines, commonSource, spec.source].join('\n');
}

export class PipelineCache {
  private readonly pipelines = new Map<string, GPUComputePipeline>();
  /** The WGSL source each key was compiled from, to catch two sources under one key. */
  private readonly sources = new Map<string, string>();
  /** Compilation failures found asynchronously, raised at the next synchronisation point. */
  readonly compileErrors: ShaderCompileError[] = [];
  private pendingInfo: Promise<void>[] = [];
  compiled = 0;

  constructor(private readonly device: GPUDevice) {}

  get size(): number {
    return this.pipelines.size;
  }

  get(spec: KernelSpec): GPUComputePipeline {
    const key = kernelKey(spec);
    const cached = this.pipelines.get(key);
    if (cached) {
      // The key covers the family, entry and defines but not the source text, so a family
      // whose source is assembled per call must not change it under the same defines.
      if (this.sources.get(key) !== spec.source) {
        throw new Error(
          `kernel ${key} was requested with a different WGSL source than the one compiled under that key; ` +
            'give each source its own family name or a define that tells them apart',
        );
      }
      return cached;
    }

    const source = kernelSource(spec);
    if (flags.ENGINE_PRINT_WGSL && (flags.ENGINE_PRINT_WGSL === '*' || key.includes(flags.ENGINE_PRINT_WGSL))) {
      console.log(`// ---- ${key}\n${source}`);
    }
    const module = this.device.createShaderModule({ code: source, label: key });
    // WebGPU reports compile errors asynchronously; they are collected here and raised by the
    // engine at the next readback, with line and column and the full source.
    this.pendingInfo.push(
      module.getCompilationInfo().then((info) => {
        const errors = info.messages.filter((m) => m.type === 'error');
        if (errors.length > 0) this.compileErrors.push(new ShaderCompileError(key, errors.map(toMessage), source));
      }),
    );
    const pipeline = this.device.createComputePipeline({
      label: key,
      layout: 'auto',
      compute: { module, entryPoint: spec.entry ?? 'main' },
    });
    this.pipelines.set(key, pipeline);
    this.sources.set(key, spec.source);
    this.compiled++;
    if (flags.ENGINE_VERBOSE) console.log(`[engine] compiled ${key}`);
    return pipeline;
  }

  /** Waits for the compilation messages of every pipeline created so far. */
  async settle(): Promise<void> {
    const pending = this.pendingInfo;
    this.pendingInfo = [];
    await Promise.all(pending);
  }

  /** Compiles a kernel and waits for its compilation messages; raises ShaderCompileError on failure. */
  async check(spec: KernelSpec): Promise<void> {
    const source = kernelSource(spec);
    // The scope captures the module's validation error, which is reported here as a
    // ShaderCompileError; uncaptured, it would also surface at the next readback.
    this.device.pushErrorScope('validation');
    const module = this.device.createShaderModule({ code: source, label: kernelKey(spec) });
    const scope = this.device.popErrorScope();
    const info = await module.getCompilationInfo();
    await scope;
    const errors = info.messages.filter((m) => m.type === 'error');
    if (errors.length > 0) throw new ShaderCompileError(kernelKey(spec), errors.map(toMessage), source);
  }
}

function toMessage(m: GPUCompilationMessage): CompilationMessage {
  return { type: m.type, lineNum: m.lineNum, linePos: m.linePos, message: m.message };
}
