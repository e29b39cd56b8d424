import { register } from './register.ts';
import gelu from '../suites/gelu.ts';

register(gelu);
