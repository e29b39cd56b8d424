// A Vite plugin that imports `.wgsl` files as strings, as esbuild's `text` loader does, so the
// same `import source from '../../shaders/gemm.wgsl'` works in tests, the demo and bundles.
export function wgsl() {
  return {
    name: 'wgsl-as-string',
    transform(code, id) {
      if (!id.endsWith('.wgsl')) return null;
      return { code: `export default ${JSON.stringify(code)};`, map: null };
    },
  };
}
