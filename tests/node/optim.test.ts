import { register } from './register.ts';
import optim from '../suites/optim.ts';

register(optim);
