import { register } from './register.ts';
import random from '../suites/random.ts';

register(random);
