/** The engine's entry point for Node: the browser entry plus Dawn device acquisition. */
export * from './index.ts';
export { createEngine, findAdapter, lavapipeIcd, swiftshaderIcd, type AdapterChoice, type NodeEngineOptions } from './gpu/node.ts';
export { loadFashionMnist, readFashionMnistDir, findFashionMnistDir, downloadFashionMnist, DataNotFoundError, type SourceOptions } from './data/node.ts';
