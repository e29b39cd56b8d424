// WGSL sources are imported as strings: Vite and Vitest through the wgsl plugin in
// vitest.config.ts and demo/vite.config.ts, esbuild through its `text` loader.
declare module '*.wgsl' {
  const source: string;
  export default source;
}
