import type { Plugin } from 'vite';
export function wgsl(): Plugin;
