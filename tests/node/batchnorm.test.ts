import { register } from './register.ts';
import batchnorm from '../suites/batchnorm.ts';

register(batchnorm);
