import { register } from './register.ts';
import gradcam from '../suites/gradcam.ts';

register(gradcam);
