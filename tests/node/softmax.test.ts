import { register } from './register.ts';
import softmax from '../suites/softmax.ts';

register(softmax);
