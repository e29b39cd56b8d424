import { register } from './register.ts';
import dataIdx from '../suites/data-idx.ts';

register(dataIdx);
