// Creates a WebGPU device on the adapter that the tests and CLIs will use (ENGINE_ADAPTER, or
// auto), prints its name and exits 1 with the reason when there is none. Run by scripts/setup.sh.
// It imports only the GPU layer, so that a broken op or model elsewhere cannot fail the check.
import { createEngine } from '../src/gpu/node.ts';

try {
  const engine = await createEngine({ log: false });
  const { name, kind, isSoftware } = engine.adapter;
  console.log(`[setup] WebGPU adapter: ${name} (${kind}, ${isSoftware ? 'software' : 'hardware'})`);
  engine.dispose();
} catch (error) {
  console.error(`[setup] error: ${error instanceof Error ? error.message : String(error)}`);
  process.exit(1);
}
