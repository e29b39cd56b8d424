/** The differentiable ops, one module per family. */
export * from './elementwise.ts';
export * from './reduce.ts';
export * from './matmul.ts';
