// Every runner-agnostic suite, for the browser run (tests/browser).
import elementwise from './elementwise.ts';
import gemm from './gemm.ts';
import gradcam from './gradcam.ts';
import optim from './optim.ts';

export const suites = [elementwise, gemm, optim, gradcam];
