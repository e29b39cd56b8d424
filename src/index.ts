/**
 * The engine's entry point for browsers and bundlers: everything except Node-only device
 * acquisition (import `createEngine` from `src/node.ts` in Node).
 */
export { Engine, getEngine, setEngine, hasEngine, type AdapterDescription } from './gpu/engine.ts';
export { createBrowserEngine, ENABLE_WEBGPU_HINT } from './gpu/browser.ts';
export { DeviceLimitError, ShaderCompileError, WebGPUUnavailableError, GPUExecutionError } from './gpu/errors.ts';
export { flags, setFlags } from './gpu/flags.ts';
export { Tensor, tensor, zeros, type DType, type Shape } from './autograd/tensor.ts';
export { tidy, keep } from './autograd/scope.ts';
export { noGrad, enableGrad, clearTape, tapeLength } from './autograd/tape.ts';
export { gradcheck } from './autograd/gradcheck.ts';
export * as ops from './autograd/ops/index.ts';
export * as data from './data/index.ts';
export { Adam, AdamW, SGD, Optimizer, type AdamOptions, type SGDOptions } from './nn/optim.ts';
export { makeSchedule, type Schedule, type ScheduleOptions } from './nn/schedule.ts';
export { gradCam, overlayHeatmap, type GradCamOptions, type GradCamResult } from './nn/gradcam.ts';
export { DenseNet, densenet121, type DenseNetOptions } from './nn/models/densenet.ts';
export { VisionTransformer, type VisionTransformerOptions } from './nn/models/vit.ts';
export { encodeSafetensors, decodeSafetensors, saveModel, loadModel } from './nn/safetensors.ts';
