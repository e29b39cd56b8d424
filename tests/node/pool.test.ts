import { register } from './register.ts';
import pool from '../suites/pool.ts';

register(pool);
