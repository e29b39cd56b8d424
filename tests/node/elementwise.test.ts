import { register } from './register.ts';
import elementwise from '../suites/elementwise.ts';

register(elementwise);
