import { register } from './register.ts';
import layernorm from '../suites/layernorm.ts';

register(layernorm);
