// The engine itself: buffer pool reuse and statistics, the pipeline cache across batch sizes,
// grid folding, device-limit and compile errors, the autograd tape's bookkeeping, and shape
// messages. Uses no Node APIs, so it also runs in the browser.
import { DeviceLimitError, ShaderCompileError, clearTape, getEngine, noGrad, ops, setFlags, tensor, tidy, type Tensor } from '../../src/index.ts';
import { Tensor as TensorClass, Storage, zeros } from '../../src/autograd/tensor.ts';
import { tapeLength } from '../../src/autograd/tape.ts';
import { accumulateInto, full, unary } from '../../src/kernels/elementwise.ts';
import { sizeClass } from '../../src/gpu/pool.ts';
import { assert, assertClose, assertEqual, assertThrows } from '../harness/assert.ts';
import { uniform } from '../harness/random.ts';
import { suite, type Case } from '../harness/suite.ts';
import { philox4x32 } from '../reference/philox.ts';

const cases: Case[] = [];

cases.push({
  name: 'pool stays flat over 1000 cycles',
  timeout: 120,
  run: async () => {
    const engine = getEngine();
    await engine.sync();
    const startLive = engine.stats().liveBytes;
    let afterFirst = -1;
    for (let cycle = 0; cycle < 1000; cycle++) {
      for (const batch of [64, 32, 16]) {
        // Both tensors are freed while the open encoder still uses them, so their buffers go
        // through the pending list before they can be reused.
        const x = full([batch, 784], cycle % 7);
        const y = unary('affine', x, 2, 1);
        x.dispose();
        y.dispose();
      }
      engine.flush();
      const stats = engine.stats();
      if (cycle === 0) afterFirst = stats.allocatedBytes;
      if (stats.allocatedBytes !== afterFirst) {
        throw new Error(`allocatedBytes grew from ${afterFirst} after cycle 1 to ${stats.allocatedBytes} after cycle ${cycle + 1}`);
      }
      if (cycle % 100 === 99) await engine.sync();
    }
    assertEqual(engine.stats().liveBytes, startLive, 'live bytes after the cycles');
  },
});

cases.push({
  name: 'pool reports live, pooled and peak bytes',
  run: async () => {
    const engine = getEngine();
    await engine.sync();
    engine.pool.resetPeak();
    const before = engine.stats();
    const bytes = sizeClass(1000 * 4);

    const a = zeros([1000]);
    const afterAllocate = engine.stats();
    assertEqual(afterAllocate.liveBytes - before.liveBytes, bytes, 'live bytes of a new tensor');
    assertEqual(afterAllocate.liveBuffers - before.liveBuffers, 1, 'live buffers of a new tensor');
    assert(afterAllocate.peakLiveBytes >= afterAllocate.liveBytes, 'peak is at least the live bytes');

    a.dispose();
    const afterFree = engine.stats();
    assertEqual(afterFree.liveBytes, before.liveBytes, 'live bytes after dispose');
    assertEqual(afterFree.pooledBytes - afterAllocate.pooledBytes, bytes, 'pooled bytes after dispose');
    assertEqual(afterFree.peakLiveBytes, afterAllocate.liveBytes, 'peak keeps the high-water mark');
    assertEqual(afterFree.allocatedBytes, afterFree.liveBytes + afterFree.pooledBytes, 'allocated = live + pooled');

    // Once the encoder that used it is submitted, a second tensor of the same size class
    // reuses the pooled buffer.
    engine.flush();
    const b = zeros([1000]);
    assertEqual(engine.stats().allocatedBytes, afterFree.allocatedBytes, 'allocated bytes after reuse');
    b.dispose();
  },
});

function smallGraph(batch: number): Promise<number> {
  const x = tensor(uniform(batch * 10, batch), [batch, 10], { requiresGrad: true, name: 'x' });
  const labels = Array.from({ length: batch }, (_, i) => i % 10);
  tidy(() => {
    const hidden = ops.relu(ops.add(ops.mul(x, x), x));
    const loss = ops.add(ops.crossEntropy(hidden, labels), ops.mean(ops.softmax(hidden)));
    loss.backward();
  });
  const result = x.grad!.data().then((values) => values[0]);
  x.grad!.dispose();
  x.dispose();
  return result;
}

cases.push({
  name: 'new batch size compiles nothing',
  run: async () => {
    const engine = getEngine();
    await smallGraph(4);
    const compiled = engine.stats().pipelines;
    await smallGraph(7);
    await smallGraph(1);
    assertEqual(engine.stats().pipelines, compiled, 'pipelines after batches 7 and 1');
  },
});

cases.push({
  name: 'elementwise over a folded grid',
  timeout: 120,
  run: async () => {
    const engine = getEngine();
    const n = 65535 * 256 + 1000;
    const grid = engine.grid(Math.ceil(n / 256), 'test');
    assert(grid[1] > 1, `${n} elements should need a folded grid, got ${grid.join('x')}`);

    const x = ops.randomUniform([n], 11);
    const y = ops.affine(x, 2, 1);
    const xs = await x.data();
    const ys = await y.data();
    x.dispose();
    y.dispose();

    // Every element, the last ones included, was computed from its own input.
    let bad = -1;
    for (let i = 0; i < n; i++) {
      if (ys[i] !== Math.fround(2 * xs[i] + 1)) {
        bad = i;
        break;
      }
    }
    assert(bad < 0, `element ${bad} of ${n}: got ${ys[bad]}, expected 2 * ${xs[bad]} + 1`);

    // The input matches the generator at blocks on both sides of the fold.
    for (const block of [0, 65535 * 64 - 1, 65535 * 64, Math.floor((n - 1) / 4)]) {
      const words = philox4x32([block, 0, 0, 0], [11, 0]);
      for (let j = 0; j < 4 && block * 4 + j < n; j++) {
        assertEqual(xs[block * 4 + j], (words[j] >>> 8) / 2 ** 24, `uniform value at ${block * 4 + j}`);
      }
    }
  },
});

cases.push({
  name: 'binding over the limit rejected',
  run: async () => {
    const engine = getEngine();
    const limit = engine.limits.maxStorageBufferBindingSize;
    const rows = Math.floor(limit / 4 / 1024) + 1;

    // A tensor whose shape claims more than the limit, backed by a small buffer: the check runs
    // on the binding size before anything reaches the GPU.
    const small = engine.allocate(1024, 'small');
    const big = new TensorClass([rows, 1024], 'f32', new Storage(small, rows * 1024 * 4), 'activations');
    const dispatches = engine.stats().dispatches;
    const live = engine.stats().liveBytes;
    const error = await assertThrows(
      // A reduction, so that the small output does not hit maxBufferSize first.
      () => tidy(() => ops.sum(big)),
      new RegExp(`activations \\[${rows}, 1024\\]: .*\\(${rows * 4096} bytes\\) exceeds this device's maxStorageBufferBindingSize of .*\\(${limit} bytes\\)`),
      'binding size',
    );
    assert(error instanceof DeviceLimitError, `expected a DeviceLimitError, got ${error.name}`);
    assertEqual(engine.stats().dispatches, dispatches, 'dispatches after the rejected op');
    assertEqual(engine.stats().liveBytes, live, 'live bytes after the rejected op (tidy frees its output)');
    big.dispose();

    // Allocation itself is checked against maxBufferSize.
    const maxBuffer = engine.limits.maxBufferSize;
    const huge = Math.floor(maxBuffer / 4) + 1;
    const allocationError = await assertThrows(
      () => TensorClass.empty([huge], 'f32', 'huge'),
      /huge \[\d+\]: .* exceeds this device's maxBufferSize of/,
      'buffer size',
    );
    assert(allocationError instanceof DeviceLimitError, `expected a DeviceLimitError, got ${allocationError.name}`);
  },
});

const BROKEN_WGSL = `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;

@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>) {
  out[id.x] = undefined_name * 2.0;
}
`;

function checkCompileError(error: Error, what: string): void {
  assert(error instanceof ShaderCompileError, `${what}: expected a ShaderCompileError, got ${error.name}`);
  const compileError = error as ShaderCompileError;
  const match = /error at (\d+):(\d+): /.exec(compileError.message);
  assert(match, `${what}: message lacks "error at line:col": ${compileError.message.slice(0, 300)}`);
  const line = compileError.source.split('\n')[Number(match[1]) - 1];
  assert(line.includes('undefined_name'), `${what}: line ${match[1]} is "${line}", not the broken one`);
  assert(compileError.message.indexOf('source:') > compileError.message.indexOf('error at'), `${what}: source should follow the messages`);
  assert(compileError.message.includes(`${match[1].padStart(4)} |   out[id.x] = undefined_name`), `${what}: source lines should be numbered`);
}

cases.push({
  name: 'compile error lists line:col',
  run: async () => {
    const engine = getEngine();
    const spec = { family: 'broken_check', source: BROKEN_WGSL, defines: { WORKGROUP: 64 } };
    const error = await assertThrows(() => engine.pipelines.check(spec), /WGSL compilation failed for pipeline broken_check/, 'check()');
    checkCompileError(error, 'check()');
  },
});

cases.push({
  name: 'compile error raised at readback',
  run: async () => {
    const engine = getEngine();
    const out = zeros([4], { name: 'out' });
    engine.dispatch({
      kernel: { family: 'broken_dispatch', source: BROKEN_WGSL, defines: { WORKGROUP: 64 } },
      bindings: [out.binding()],
      workgroups: 1,
    });
    const error = await assertThrows(() => out.data(), /WGSL compilation failed for pipeline broken_dispatch/, 'readback');
    checkCompileError(error, 'readback');
    out.dispose();

    // The engine keeps working after the failure.
    await engine.sync();
    const y = tidy(() => ops.exp(tensor([0], [1])));
    assertClose(await y.data(), [1], 'exp after a compile error');
    y.dispose();
  },
});

cases.push({
  name: 'sync check names the dispatch',
  run: async () => {
    const engine = getEngine();
    const previous = setFlags({ ENGINE_SYNC_CHECK: true });
    const out = zeros([4], { name: 'out' });
    try {
      // The kernel declares a uniform block at binding 1, but none is passed: the bind group is invalid.
      const source = `
struct Params { value: f32, _pad0: u32, _pad1: u32, _pad2: u32 }
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@group(0) @binding(1) var<uniform> params: Params;
@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>) { if (id.x < 4u) { out[id.x] = params.value; } }
`;
      engine.dispatch({ kernel: { family: 'missing_uniform', source, defines: { WORKGROUP: 64 } }, bindings: [out.binding()], workgroups: 1 });
      const error = await assertThrows(() => out.data(), /missing_uniform\.main \(dispatch \d+\): /, 'readback');
      assertEqual(error.name, 'GPUExecutionError', 'error class');
    } finally {
      setFlags(previous);
      out.dispose();
    }
    await engine.sync();
  },
});

cases.push({
  name: 'pipeline key with two sources rejected',
  run: async () => {
    const engine = getEngine();
    const source = (value: string) => `
@group(0) @binding(0) var<storage, read_write> out: array<f32>;
@compute @workgroup_size(WORKGROUP)
fn main(@builtin(global_invocation_id) id: vec3<u32>) { if (id.x < arrayLength(&out)) { out[id.x] = ${value}; } }
`;
    const out = zeros([2], { name: 'out' });
    engine.dispatch({ kernel: { family: 'two_sources', source: source('1.0'), defines: { WORKGROUP: 64 } }, bindings: [out.binding()], workgroups: 1 });
    await assertThrows(
      () => engine.dispatch({ kernel: { family: 'two_sources', source: source('2.0'), defines: { WORKGROUP: 64 } }, bindings: [out.binding()], workgroups: 1 }),
      /kernel two_sources\.main\(WORKGROUP=64\) was requested with a different WGSL source/,
      'second source',
    );
    assertClose(await out.data(), [1, 1], 'output of the first source');
    out.dispose();
  },
});

cases.push({
  name: 'tape accumulates across backward calls',
  run: async () => {
    const values = uniform(5, 21);
    const x = tensor(values, [5], { requiresGrad: true, name: 'x' });
    tidy(() => ops.sum(ops.mul(x, x)).backward());
    tidy(() => ops.sum(ops.scale(x, 3)).backward());
    assertClose(await x.grad!.data(), Array.from(Float32Array.from(values), (v) => 2 * v + 3), 'x.grad after two backward calls');
    x.grad!.dispose();
    x.dispose();
  },
});

cases.push({
  name: 'tape gradients do not alias',
  run: async () => {
    // add returns one gradient buffer for both operands; accumulating into one leaf's .grad
    // must not change the other's.
    const a = tensor([1, 2], [2], { requiresGrad: true, name: 'a' });
    const b = tensor([3, 4], [2], { requiresGrad: true, name: 'b' });
    tidy(() => ops.sum(ops.add(a, b)).backward());
    tidy(() => ops.sum(ops.scale(a, 2)).backward());
    assertClose(await a.grad!.data(), [3, 3], 'a.grad');
    assertClose(await b.grad!.data(), [1, 1], 'b.grad');

    // A tensor used twice in one op (x * x) gets both contributions.
    const x = tensor([1.5, -2], [2], { requiresGrad: true, name: 'x' });
    tidy(() => ops.sum(ops.add(x, x)).backward());
    assertClose(await x.grad!.data(), [2, 2], 'gradient of x + x');

    // A caller's output gradient is read, never written.
    const gradient = tensor([1, 1], [2], { name: 'gradient' });
    const y = tensor([1, 2], [2], { requiresGrad: true, name: 'y' });
    tidy(() => {
      const z = ops.add(ops.scale(y, 2), y);
      z.backward(gradient);
    });
    assertClose(await y.grad!.data(), [3, 3], 'y.grad with an explicit output gradient');
    assertClose(await gradient.data(), [1, 1], 'output gradient after backward');
    for (const t of [a, b, x, y]) {
      t.grad?.dispose();
      t.dispose();
    }
    gradient.dispose();
  },
});

cases.push({
  name: 'noGrad records nothing',
  run: async () => {
    const x = tensor([1, 2, 3], [3], { requiresGrad: true, name: 'x' });
    const before = tapeLength();
    const y = noGrad(() => tidy(() => ops.softmax(ops.mul(x, x))));
    assertEqual(tapeLength(), before, 'tape length inside noGrad');
    assert(!y.requiresGrad, 'an output computed under noGrad should not require a gradient');
    y.dispose();
    x.dispose();
  },
});

cases.push({
  name: 'backward frees saved tensors',
  run: async () => {
    const engine = getEngine();
    await engine.sync();
    const start = engine.stats().liveBytes;
    const x = tensor(uniform(24, 3), [4, 6], { requiresGrad: true, name: 'x' });
    const withX = engine.stats().liveBytes;

    const loss = tidy(() => {
      const h = ops.exp(ops.mul(x, ops.sigmoid(x)));
      const p = ops.slice(ops.concat([ops.softmax(h), ops.logSoftmax(x)], 1), [0, 2], [4, 8]);
      return ops.add(ops.crossEntropy(p, [0, 1, 2, 3]), ops.mean(ops.dropout(ops.permute(p, [1, 0]), 0.5, 3, true)));
    });
    assert(tapeLength() > 0, 'the forward pass should record nodes');
    loss.backward();
    loss.dispose();
    assertEqual(tapeLength(), 0, 'tape length after backward');
    x.grad!.dispose();
    assertEqual(engine.stats().liveBytes, withX, 'live bytes after backward, with x still alive');
    x.dispose();
    assertEqual(engine.stats().liveBytes, start, 'live bytes at the end');
  },
});

cases.push({
  name: 'backward twice on one graph rejected',
  run: async () => {
    const x = tensor([1, 2], [2], { requiresGrad: true, name: 'x' });
    const loss = ops.sum(ops.mul(x, x));
    loss.backward();
    await assertThrows(() => loss.backward(), /graph was already consumed/, 'second backward');
    loss.dispose();
    x.grad?.dispose();
    x.dispose();
  },
});

cases.push({
  name: 'shape mismatch names both shapes',
  run: async () => {
    const a = tensor(uniform(6, 1), [2, 3], { name: 'a' });
    const b = tensor(uniform(12, 2), [4, 3], { name: 'b' });
    await assertThrows(() => ops.add(a, b), /\[2, 3\] and \[4, 3\] cannot be broadcast/, 'add');
    await assertThrows(() => accumulateInto(a, b), /b \[4, 3\] does not match a \[2, 3\]/, 'accumulateInto');
    await assertThrows(() => ops.concat([a, b], 1), /b \[4, 3\] \(input 1\) does not match a \[2, 3\]/, 'concat');

    const w = tensor(uniform(6, 3), [2, 3], { requiresGrad: true, name: 'w' });
    const y = ops.softmax(w);
    const wrong: Tensor = tensor([1, 1, 1], [3], { name: 'gradient' });
    await assertThrows(() => y.backward(wrong), /gradient shape \[3\] does not match softmax \[2, 3\]/, 'backward gradient');
    clearTape();
    for (const t of [a, b, w, y, wrong]) t.dispose();
  },
});

export default suite('engine', cases);
