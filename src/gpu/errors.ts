/** Error classes raised by the GPU layer; messages name the value at fault and the fix. */

/** A tensor or buffer is larger than a device limit. */
export class DeviceLimitError extends Error {
  override name = 'DeviceLimitError';
}

/** WebGPU is missing (no `navigator.gpu`, no adapter, or a refused device). */
export class WebGPUUnavailableError extends Error {
  override name = 'WebGPUUnavailableError';
}

/** A compilation message from `GPUShaderModule.getCompilationInfo()`. */
export interface CompilationMessage {
  type: string;
  lineNum: number;
  linePos: number;
  message: string;
}

/** A WGSL module failed to compile: each message with line and column, then the source. */
export class ShaderCompileError extends Error {
  override name = 'ShaderCompileError';

  constructor(
    readonly key: string,
    readonly messages: CompilationMessage[],
    readonly source: string,
  ) {
    super(formatCompileError(key, messages, source));
  }
}

function formatCompileError(key: string, messages: CompilationMessage[], source: string): string {
  const lines = [`WGSL compilation failed for pipeline ${key}:`];
  for (const m of messages) lines.push(`  ${m.type} at ${m.lineNum}:${m.linePos}: ${m.message}`);
  lines.push('source:');
  source.split('\n').forEach((text, i) => lines.push(`${String(i + 1).padStart(4)} | ${text}`));
  return lines.join('\n');
}

/** A WebGPU validation or out-of-memory error reported asynchronously by the device. */
export class GPUExecutionError extends Error {
  override name = 'GPUExecutionError';
}
