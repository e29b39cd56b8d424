import { register } from './register.ts';
import vit from '../suites/vit.ts';

register(vit);
