// Creates the engine once per test file, on the adapter chosen by ENGINE_ADAPTER (auto when
// unset), and destroys it when the file's tests end.
import { afterAll } from 'vitest';
import { createEngine } from '../../src/node.ts';

const engine = await createEngine({ log: false });
afterAll(() => engine.dispose());
