import { register } from './register.ts';
import dataTransforms from '../suites/data-transforms.ts';

register(dataTransforms);
