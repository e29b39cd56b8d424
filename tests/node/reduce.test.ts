import { register } from './register.ts';
import reduce from '../suites/reduce.ts';

register(reduce);
