import { register } from './register.ts';
import gemm from '../suites/gemm.ts';

register(gemm);
