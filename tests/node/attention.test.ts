import { register } from './register.ts';
import attention from '../suites/attention.ts';

register(attention);
