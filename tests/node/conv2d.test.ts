import { register } from './register.ts';
import conv2d from '../suites/conv2d.ts';

register(conv2d);
