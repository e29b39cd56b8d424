// Every runner-agnostic suite, for the browser run (tests/browser).
import elementwise from './elementwise.ts';
import gemm from './gemm.ts';
import gradcam from './gradcam.ts';
import optim from './optim.ts';
import layernorm from './layernorm.ts';
import gelu from './gelu.ts';
import attention from './attention.ts';
import vit from './vit.ts';
import dataIdx from './data-idx.ts';
import dataTransforms from './data-transforms.ts';
import softmax from './softmax.ts';
import shape from './shape.ts';
import random from './random.ts';
import engine from './engine.ts';
import conv2d from './conv2d.ts';
import batchnorm from './batchnorm.ts';
import pool from './pool.ts';
import reduce from './reduce.ts';

export const suites = [elementwise, gemm, optim, gradcam, layernorm, gelu, attention, vit, dataIdx, dataTransforms, softmax, shape, random, engine, conv2d, batchnorm, pool, reduce];
