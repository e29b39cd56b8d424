import { register } from './register.ts';
import shape from '../suites/shape.ts';

register(shape);
