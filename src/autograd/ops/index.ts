/** The differentiable ops, one module per family. */
export * from './elementwise.ts';
export * from './reduce.ts';
export * from './matmul.ts';
export * from './layernorm.ts';
export * from './attention.ts';
export * from './patch.ts';
export * from './softmax.ts';
export * from './conv.ts';
export * from './shape.ts';
export * from './dropout.ts';
export * from './batchnorm.ts';
export * from './pool.ts';
