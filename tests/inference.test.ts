/**
 * The inference layer against real onnxruntime sessions on real worker threads:
 * equality with a direct session.run, order, hot swap under load, shadow scoring,
 * typed errors for corrupt models and shape mismatches, retry then dead letters,
 * backpressure, and the batching policies.
 */
import { copyFileSync, mkdirSync, mkdtempSync, readFileSync, writeFileSync, cpSync, symlinkSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchOf } from '../src/batch.js';
import { OrderSchema } from '../src/contracts.js';
import { generateOrderFlow, orderRow } from '../apps/demo/orderflow.js';
import { ConfigError } from '../src/errors.js';
import { LatencyModel, MicroBatcher, resolvePolicy } from '../src/inference/batcher.js';
import { InferenceCode, ModelLoadError, ModelShapeError } from '../src/inference/errors.js';
import { InferencePool, planThreads } from '../src/inference/pool.js';
import { ModelRegistry, modelFromFile } from '../src/inference/registry.js';
import { ModelSlot } from '../src/inference/slot.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { TopologyBuilder } from '../src/topology.js';
import { OperatorHarness } from '../src/harness.js';
import { OrderSequenceEncoder } from '../apps/surveillance/order-sequence.js';
import { columnsEncoder, score } from '../operators/score.js';
import { inputBatch } from '../src/inference/arrow-batch.js';
import { inlineShareNow, resolveInlineSmall as resolveSmall } from '../src/inference/inline-small.js';

const registry = new ModelRegistry();
const fixtures = new ModelRegistry(new URL('../../tests/fixtures/models', import.meta.url).pathname);
const OPTS = { workers: 1, warmup: [1, 8, 32] };

function orderRows(n: number, seed = 7) {
  return [...generateOrderFlow({ seed, events: n })].map(orderRow);
}

/** encode rows exactly as the scoring stage will, for a direct session.run */
function encodeAll(rows: ReturnType<typeof orderRows>): Float32Array {
  const enc = new OrderSequenceEncoder();
  const w = enc.widths[0];
  const b = batchOf(OrderSchema, rows);
  const out = new Float32Array(rows.length * w);
  for (let i = 0; i < rows.length; i++) enc.encode(b, i, [out], i);
  return out;
}

async function directScores(version: string, x: Float32Array, n: number): Promise<Float32Array> {
  const ref = registry.load('participant-profile', version);
  const s = await ort.InferenceSession.create(ref.path, { intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all', executionMode: 'sequential' });
  const out = await s.run({ events: new ort.Tensor('float32', x, [n, 32, 16]) });
  await s.release();
  return out.score.data as Float32Array;
}

test('pool scores equal a direct session.run on the same inputs, at several batch sizes', async () => {
  const rows = orderRows(300);
  const x = encodeAll(rows);
  const want = await directScores('1', x.slice(), rows.length);
  const pool = await InferencePool.open(registry.load('participant-profile', '1'), OPTS);
  try {
    for (const [start, n] of [[0, 1], [1, 7], [8, 32], [40, 260]]) {
      const data = x.slice(start * 512, (start + n) * 512);
      const r = await pool.run({ events: { data, dims: [n, 32, 16] } });
      assert.is(data.byteLength, 0, 'input buffer was transferred, not copied');
      const got = r.outputs.score.data as Float32Array;
      assert.is(got.length, n);
      for (let i = 0; i < n; i++) assert.ok(Math.abs(got[i] - want[start + i]) < 1e-5, `row ${start + i}: pool ${got[i]} vs direct ${want[start + i]}`);
      assert.equal(r.outputs.logits.dims, [n, 3]);
    }
  } finally { await pool.close(); }
});

test('small batches run on the calling thread while no worker is busy, with the workers\' scores; larger ones, a busy pool and a spent share go to the workers', async () => {
  const rows = orderRows(80);
  const x = encodeAll(rows);
  const want = await directScores('1', x.slice(), rows.length);
  const ref = registry.load('participant-profile', '1');
  const specs = ref.manifest.inputs;
  const wire = (start: number, n: number) => inputBatch(specs, [x.slice(start * 512, (start + n) * 512)], n);
  const near = (got: Float32Array, start: number, what: string) => { for (let i = 0; i < got.length; i++) assert.ok(Math.abs(got[i] - want[start + i]) < 1e-5, `${what} row ${start + i}: ${got[i]} vs direct ${want[start + i]}`); };
  const pool = await InferencePool.open(ref, OPTS);
  const workersOnly = await InferencePool.open(ref, { ...OPTS, inlineSmallBatches: false });
  // a share no run fits under once any inline run has been timed (the share is the thread's, over every pool)
  const stingy = await InferencePool.open(ref, { ...OPTS, inlineSmallBatches: { share: 1e-9 } });
  try {
    assert.ok(pool.inlineSmall, 'a stateless CPU pool keeps a session on this thread');
    assert.is(workersOnly.inlineSmall, null, 'false: none');
    for (const n of [1, 2, 3, 4]) {
      const before = pool.inlineBatches;
      const r = await pool.runBatch(wire(n, n));
      assert.is(pool.inlineBatches, before + 1, `${n} rows ran here`);
      near(r.outputs.score.data as Float32Array, n, 'inline');
      assert.equal(r.outputs.logits.dims, [n, 3]);
      near((await workersOnly.runBatch(wire(n, n))).outputs.score.data as Float32Array, n, 'worker');
    }
    assert.is(workersOnly.inlineBatches, 0);
    const inline = pool.inlineBatches;
    near((await pool.runBatch(wire(10, 5))).outputs.score.data as Float32Array, 10, 'five rows');
    assert.is(pool.inlineBatches, inline, 'five rows (over maxRows 4) went to a worker');
    // a worker task running: the next small batch queues behind it rather than block this thread
    const big = pool.runBatch(wire(16, 64));
    const small = pool.runBatch(wire(0, 1));
    near((await small).outputs.score.data as Float32Array, 0, 'behind a busy worker');
    await big;
    assert.is(pool.inlineBatches, inline, 'a small batch sent while a worker ran went to the workers');
    assert.ok(inlineShareNow() > 0, 'inline runs count against this thread\'s time');
    for (let i = 0; i < 5; i++) await stingy.runBatch(wire(i, 1));
    assert.ok(stingy.inlineBatches <= 1, `once the thread's share is spent, batches go to the workers (${stingy.inlineBatches} ran here)`);
    assert.throws(() => resolveSmall({ share: 0 }), (e: unknown) => e instanceof ConfigError && /share/.test((e as Error).message));
    assert.throws(() => resolveSmall({ maxRows: 0 }), (e: unknown) => e instanceof ConfigError && /maxRows/.test((e as Error).message));
    assert.throws(() => resolveSmall({ maxUs: -1 }), (e: unknown) => e instanceof ConfigError && /maxUs/.test((e as Error).message));
  } finally { await pool.close(); await workersOnly.close(); await stingy.close(); }
});

test('scoring stage: every record once, in arrival order, with the direct session.run score', async () => {
  const rows = orderRows(2000);
  const want = await directScores('1', encodeAll(rows), rows.length);
  const slot = await ModelSlot.open(registry.load('participant-profile', '1'), OPTS);
  try {
    const t = new TopologyBuilder('score-order');
    const sink = collectSink<never>();
    const scored = t.source('orders', memorySource(OrderSchema, [rows], { batchSize: 50 }))
      .via('score', score({ slot, encoder: new OrderSequenceEncoder(), classOutput: 'logits', policy: { kind: 'deadline', budgetMs: 2, maxBatch: 32 } }));
    scored.to('out', sink as never);
    scored.side('dead').to('dead-letters', collectSink<never>() as never);
    await new Runtime(t.build()).run();
    const out = sink.rows() as unknown as { orderId: string; type: string; score: number; label: string; labelProb: number; model: string; shadowScore: number }[];
    assert.is(out.length, rows.length);
    for (let i = 0; i < rows.length; i++) {
      assert.is(out[i].orderId + out[i].type, rows[i].orderId + rows[i].type, `record ${i} in order`);
      assert.ok(Math.abs(out[i].score - want[i]) < 1e-5, `record ${i}: ${out[i].score} vs ${want[i]}`);
      assert.is(out[i].model, 'participant-profile@1');
      assert.ok(['market-maker', 'hft', 'institution'].includes(out[i].label));
      assert.ok(Math.abs(out[i].labelProb - out[i].score) < 1e-5, 'score is the top class probability');
      assert.ok(Number.isNaN(out[i].shadowScore));
    }
  } finally { await slot.close(); }
});

test('hot swap under load: nothing lost, nothing scored twice, each record scored by the version live when it left', async () => {
  const rows = orderRows(6000, 11);
  const x = encodeAll(rows);
  const [v1, v2] = [await directScores('1', x.slice(), rows.length), await directScores('2', x.slice(), rows.length)];
  const slot = await ModelSlot.open(registry.load('participant-profile', '1'), OPTS, registry);
  try {
    const t = new TopologyBuilder('swap');
    const sink = collectSink<never>();
    let swapped: Promise<void> | undefined;
    const scored = t.source('orders', memorySource(OrderSchema, [rows], { batchSize: 20 }))
      // start the swap once a sixth of the records have passed: it happens while records flow
      .filter('trigger', (c, i) => { if (c.seq[i] > 1000 && !swapped) swapped = slot.swap('2'); return true; })
      .via('score', score({ slot, encoder: new OrderSequenceEncoder(), policy: { kind: 'deadline', maxBatch: 16 } }));
    scored.to('out', sink as never);
    scored.side('dead').to('dead-letters', collectSink<never>() as never);
    const summary = await new Runtime(t.build(), { sourceBatchSize: 20 }).run();
    await swapped;
    const out = sink.rows() as unknown as { orderId: string; type: string; score: number; model: string }[];
    assert.is(out.length, rows.length, 'nothing lost or duplicated');
    let firstV2 = out.findIndex((r) => r.model === 'participant-profile@2');
    assert.ok(firstV2 > 0 && firstV2 < rows.length - 100, `switched mid-stream (first v2 record at ${firstV2}); run took ${summary.wallMs.toFixed(0)} ms`);
    for (let i = 0; i < out.length; i++) {
      assert.is(out[i].orderId + out[i].type, rows[i].orderId + rows[i].type);
      const v = out[i].model === 'participant-profile@1' ? v1 : v2;
      if (i >= firstV2) assert.is(out[i].model, 'participant-profile@2', `no v1 score after the first v2 (record ${i})`);
      assert.ok(Math.abs(out[i].score - v[i]) < 1e-5, `record ${i} scored by ${out[i].model}`);
    }
    assert.ok(v1.some((s, i) => Math.abs(s - v2[i]) > 1e-3), 'the two versions really differ');
    assert.is(slot.swaps, 1);
  } finally { await slot.close(); }
});

test('shadow: a candidate version scores the same records beside the live one', async () => {
  const rows = orderRows(500, 3);
  const want2 = await directScores('2', encodeAll(rows), rows.length);
  const slot = await ModelSlot.open(registry.load('participant-profile', '1'), OPTS, registry);
  await slot.startShadow('2');
  try {
    const t = new TopologyBuilder('shadow');
    const sink = collectSink<never>();
    const scored = t.source('orders', memorySource(OrderSchema, [rows], { batchSize: 64 }))
      .via('score', score({ slot, encoder: new OrderSequenceEncoder() }));
    scored.to('out', sink as never);
    scored.side('dead').to('dead-letters', collectSink<never>() as never);
    await new Runtime(t.build()).run();
    const out = sink.rows() as unknown as { score: number; model: string; shadowScore: number; shadowModel: string }[];
    assert.is(out.length, rows.length);
    out.forEach((r, i) => {
      assert.is(r.model, 'participant-profile@1');
      assert.is(r.shadowModel, 'participant-profile@2');
      assert.ok(Math.abs(r.shadowScore - want2[i]) < 1e-5, `shadow score of record ${i}`);
    });
  } finally { await slot.close(); }
});

function tmpModelCopy(): { dir: string; reg: ModelRegistry; manifestPath: string; modelPath: string } {
  const root = mkdtempSync(join(tmpdir(), 'sluice-models-'));
  const dir = join(root, 'participant-profile', '1');
  mkdirSync(dir, { recursive: true });
  cpSync(join(registry.root, 'participant-profile', '1'), dir, { recursive: true });
  return { dir, reg: new ModelRegistry(root), manifestPath: join(dir, 'manifest.json'), modelPath: join(dir, 'model.onnx') };
}

test('a corrupt model file is refused with a typed error, by checksum and by the runtime', async () => {
  const { reg, modelPath, manifestPath } = tmpModelCopy();
  const bytes = readFileSync(modelPath);
  writeFileSync(modelPath, bytes.subarray(0, bytes.length >> 1)); // truncated download
  try { reg.load('participant-profile', '1'); assert.unreachable('loaded a truncated model'); } catch (e) {
    assert.instance(e, ModelLoadError);
    assert.is((e as ModelLoadError).code, InferenceCode.MODEL_LOAD);
    assert.match((e as Error).message, /corrupt/);
  }
  // a manifest that vouches for the broken file: onnxruntime itself refuses it, still typed
  const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const { createHash } = await import('node:crypto');
  m.sha256 = createHash('sha256').update(readFileSync(modelPath)).digest('hex');
  try { await InferencePool.open(modelFromFile(modelPath, m), OPTS); assert.unreachable('opened a truncated model'); } catch (e) {
    assert.instance(e, ModelLoadError);
    assert.is((e as ModelLoadError).code, 'SLUICE_ERR_MODEL_LOAD');
  }
});

test('a manifest cannot point outside its folder: ../, absolute paths and symlinks out are refused', () => {
  const { dir, reg, manifestPath, modelPath } = tmpModelCopy();
  const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const outside = join(dir, '..', '..', 'outside.onnx');
  cpSync(modelPath, outside);
  for (const file of ['../../outside.onnx', outside]) {
    writeFileSync(manifestPath, JSON.stringify({ ...m, file }));
    try { reg.load('participant-profile', '1'); assert.unreachable(`loaded ${file}`); } catch (e) {
      assert.instance(e, ModelLoadError);
      assert.match((e as Error).message, /file/);
    }
  }
  symlinkSync(outside, join(dir, 'link.onnx'));
  writeFileSync(manifestPath, JSON.stringify({ ...m, file: 'link.onnx' }));
  try { reg.load('participant-profile', '1'); assert.unreachable('followed a symlink out'); } catch (e) {
    assert.instance(e, ModelLoadError);
    assert.match((e as Error).message, /inside/);
  }
  writeFileSync(manifestPath, JSON.stringify(m));
  assert.is(reg.load('participant-profile', '1').path, modelPath, 'the plain manifest still loads');
});

test('shape mismatches are typed errors: manifest vs graph, feeds vs manifest, encoder vs model', async () => {
  const { manifestPath, modelPath } = tmpModelCopy();
  const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
  const bad = { ...m, inputs: [{ name: 'events', dtype: 'float32', shape: [-1, 32, 15] }], features: { events: m.features.events.slice(0, 15) } };
  try { await InferencePool.open(modelFromFile(modelPath, bad), OPTS); assert.unreachable(); } catch (e) {
    assert.instance(e, ModelLoadError);
    assert.match((e as Error).message, /axis 2 is 16 in the graph, 15 in the manifest/);
  }
  const slot = await ModelSlot.open(registry.load('participant-profile', '1'), OPTS);
  try {
    try { await slot.live.run({ events: { data: new Float32Array(31 * 16), dims: [1, 31, 16] } }); assert.unreachable(); } catch (e) {
      assert.instance(e, ModelShapeError);
      assert.is((e as ModelShapeError).code, InferenceCode.SHAPE);
    }
    try { await slot.live.run({ x: { data: new Float32Array(512), dims: [1, 32, 16] } } as never); assert.unreachable(); } catch (e) {
      assert.instance(e, ModelShapeError);
      assert.match((e as Error).message, /missing input 'events'/);
    }
    assert.throws(() => score({ slot, encoder: new OrderSequenceEncoder({ length: 16 }) }), (e: Error) => e instanceof ModelShapeError && /encoder writes rows of \[256\]/.test(e.message));
  } finally { await slot.close(); }
});

test('a failing batch is retried once, then its records go to dead letters; the stage keeps running', async () => {
  const slot = await ModelSlot.open(fixtures.load('lookup', '1'), { workers: 1, warmup: [1, 4] });
  try {
    const S = { a: 'f64', b: 'f64', c: 'f64', d: 'f64' } as const;
    const rows = Array.from({ length: 200 }, (_, i) => ({ a: i % 50 === 7 ? 99 : i % 10, b: i, c: 0, d: 0 }));
    const t = new TopologyBuilder('dead');
    const sink = collectSink<never>();
    const dead = collectSink<never>();
    const scored = t.source('in', memorySource(S, [rows], { batchSize: 10 }))
      .via('score', score({ slot, encoder: columnsEncoder(slot.live.model.manifest), policy: { kind: 'deadline', maxBatch: 1 } }));
    scored.to('out', sink as never);
    scored.side('dead').to('dead-letters', dead as never);
    await new Runtime(t.build()).run();
    const out = sink.rows() as unknown as { a: number; b: number; score: number }[];
    const dl = dead.rows() as unknown as { code: string; reason: string; payload: string; stage: string }[];
    assert.is(dl.length, 4, 'the four bad records');
    assert.is(out.length, 196, 'every other record scored');
    assert.ok(dl.every((d) => d.code === 'SLUICE_ERR_INFERENCE' && d.stage === 'score' && /inference failed/.test(d.reason)), JSON.stringify(dl[0]));
    assert.equal(dl.map((d) => JSON.parse(d.payload).b), [7, 57, 107, 157]);
    assert.ok(out.every((r) => Math.abs(r.score - r.a / 10) < 1e-6));
    assert.ok(out.every((r, i, a) => i === 0 || a[i - 1].b < r.b), 'order kept around the dead letters');
  } finally { await slot.close(); }
});

test('a worker thread that dies mid-batch is replaced; its batch is retried on the new worker; nothing is lost', async () => {
  // the thread ends itself when its 50th batch arrives (SLUICE_TEST_THREAD_EXIT_AT, read when
  // a thread starts: the replacement, started later, runs normally). Not terminate() from
  // outside: that can land inside onnxruntime's run(), which aborts the whole process.
  process.env.SLUICE_TEST_THREAD_EXIT_AT = '50';
  let slot: ModelSlot;
  // every batch to the worker (small ones would otherwise run on this thread: inline-small.ts)
  try { slot = await ModelSlot.open(fixtures.load('lookup', '1'), { workers: 1, warmup: [1, 4], inlineSmallBatches: false }); } finally { delete process.env.SLUICE_TEST_THREAD_EXIT_AT; }
  try {
    const S = { a: 'f64', b: 'f64', c: 'f64', d: 'f64' } as const;
    const rows = Array.from({ length: 2000 }, (_, i) => ({ a: i % 10, b: i, c: 0, d: 0 }));
    const threadIds = () => (slot.live as unknown as { lanes: { threads: { threadId: number }[] }[] }).lanes[0].threads.map((w) => w.threadId);
    const before = threadIds();
    const t = new TopologyBuilder('crash');
    const sink = collectSink<never>();
    const dead = collectSink<never>();
    const scored = t.source('in', memorySource(S, [rows], { batchSize: 10 }))
      .via('score', score({ slot, encoder: columnsEncoder(slot.live.model.manifest), policy: { kind: 'deadline', maxBatch: 4 } }));
    scored.to('out', sink as never);
    scored.side('dead').to('dead-letters', dead as never);
    await new Runtime(t.build()).run();
    const after = threadIds();
    assert.equal(after.length, 1, 'the pool is back to its one worker');
    assert.not.equal(after[0], before[0], 'the first worker thread died with a batch in flight and was replaced');
    const out = sink.rows() as unknown as { a: number; b: number; score: number }[];
    assert.is(dead.rows().length, 0, 'the failed batch was retried, not dead-lettered');
    assert.is(out.length, rows.length, 'every record scored');
    assert.ok(out.every((r) => Math.abs(r.score - r.a / 10) < 1e-6), 'with the right scores');
    assert.ok(out.every((r, i) => r.b === i), 'in order');
  } finally { await slot.close(); }
});

test('score with an encoder factory keeps keyed state per partition: it needs keyBy before it, and snapshots per partition', async () => {
  const slot = await ModelSlot.open(registry.load('participant-profile', '1'), OPTS);
  try {
    const def = score({ slot, encoder: () => new OrderSequenceEncoder() });
    assert.is(def.keyed, true);
    const bare = new TopologyBuilder('unkeyed');
    // the types refuse it too: cast through unknown to reach the runtime check
    const s = bare.source('orders', memorySource(OrderSchema, [orderRows(10, 1)])).via('score', def as unknown as ReturnType<typeof score<typeof OrderSchema>> & { keyed: false });
    s.to('out', collectSink<never>() as never); s.side('dead').to('dead', collectSink<never>() as never);
    assert.throws(() => bare.build(), /keeps per-key state and needs keyed input: put keyBy before it/);
    // two source partitions: one encoder each, the stage's state one snapshot per partition
    const rows = orderRows(200, 3);
    const h = new OperatorHarness(def as never);
    h.push(rows.slice(0, 100) as never, { partition: 0 }).push(rows.slice(100) as never, { partition: 1 });
    await h.settle();
    const snap = h.snapshot() as Record<string, { keys: { '@keyed': unknown[] } }>;
    assert.equal(Object.keys(snap).sort(), ['partition-0', 'partition-1']);
    assert.ok(snap['partition-0'].keys['@keyed'].length > 0 && snap['partition-1'].keys['@keyed'].length > 0);
    const op = h.op as unknown as { drop(name: string): void };
    op.drop('partition-0');
    assert.equal(Object.keys(h.snapshot() as object), ['partition-1'], 'a dropped partition is not saved again');
  } finally { await slot.close(); }
});

test('backpressure: a full scoring queue stops its input; nothing is dropped', async () => {
  const rows = orderRows(3000, 5);
  const slot = await ModelSlot.open(registry.load('participant-profile', '1'), OPTS);
  try {
    const t = new TopologyBuilder('bp');
    const sink = collectSink<never>();
    const scored = t.source('orders', memorySource(OrderSchema, [rows], { batchSize: 50 }))
      .filter('pass', () => true)
      .via('score', score({ slot, encoder: new OrderSequenceEncoder(), maxPending: 64, policy: { kind: 'deadline', maxBatch: 16 } }));
    scored.to('out', sink as never);
    scored.side('dead').to('dead-letters', collectSink<never>() as never);
    const summary = await new Runtime(t.build(), { queueCapacity: 200, sourceBatchSize: 50 }).run();
    assert.is(sink.rows().length, rows.length);
    const pass = summary.stages.find((s) => s.name === 'pass')!;
    assert.ok(pass.backpressuredMs > 0, 'the stage feeding the scorer waited for it');
    assert.ok(summary.maxQueuedRecords <= 250, `queues bounded (${summary.maxQueuedRecords})`);
  } finally { await slot.close(); }
});

test('cuda requested without CUDA: one clear log line, then CPU', async () => {
  const lines: string[] = [];
  const pool = await InferencePool.open(registry.load('participant-profile', '1'), { ...OPTS, provider: 'cuda', log: (l) => lines.push(l) });
  try {
    if (pool.provider === 'cpu') {
      assert.is(lines.length, 1);
      assert.match(lines[0], /CUDA execution provider unavailable .*running on CPU/);
    } else assert.is(lines.length, 0);
    const r = await pool.run({ events: { data: new Float32Array(512), dims: [1, 32, 16] } });
    assert.is(r.outputs.score.data.length, 1);
  } finally { await pool.close(); }
});

test('thread budget: workers × intra-op threads may not exceed the cores', () => {
  assert.equal(planThreads({}, 2), { workers: 1, intraOpThreads: 1, cores: 2 });
  assert.equal(planThreads({}, 16), { workers: 15, intraOpThreads: 1, cores: 16 });
  assert.throws(() => planThreads({ workers: 2, intraOpThreads: 2 }, 2), (e: Error) => e instanceof ConfigError && /4 threads on 2 cores/.test(e.message));
  assert.equal(planThreads({ workers: 2, intraOpThreads: 2, allowOversubscription: true }, 2).workers, 2);
});

test('registry: latest version by number; manifests are validated', () => {
  assert.equal(registry.versions('participant-profile').slice(0, 2), ['1', '2']);
  assert.is(registry.load('participant-profile').version, registry.versions('participant-profile').at(-1));
  const { reg, manifestPath } = tmpModelCopy();
  const m = JSON.parse(readFileSync(manifestPath, 'utf8'));
  writeFileSync(manifestPath, JSON.stringify({ ...m, inputs: [] }));
  assert.throws(() => reg.load('participant-profile', '1'), (e: Error) => e instanceof ModelLoadError && /manifest invalid/.test(e.message));
  copyFileSync(manifestPath, manifestPath + '.bak');
});

test('latency model: interpolates, extrapolates, learns; largestWithin respects the budget', () => {
  const lm = new LatencyModel({ 1: 100, 8: 500, 32: 2000 }, 0.5);
  assert.is(lm.estimate(1), 100);
  assert.is(lm.estimate(4), 100 + (400 * 3) / 7);
  assert.is(lm.estimate(64), 2000 + (1500 / 24) * 32);
  assert.is(lm.largestWithin(500, 64), 8);
  assert.is(lm.largestWithin(50, 64), 0);
  assert.is(lm.largestWithin(1e9, 64), 64);
  lm.observe(8, 900);
  assert.is(lm.estimate(8), 700);
});

test('deadline policy: sends to free workers at once, sized by the oldest row\'s remaining budget', () => {
  let now = 0, idle = 1;
  const sent: number[] = [];
  const b = new MicroBatcher(resolvePolicy({ kind: 'deadline', budgetMs: 2, marginMs: 0, maxBatch: 64 }), new LatencyModel({ 1: 100, 8: 500, 32: 2000 }), {
    now: () => now, idleWorkers: () => idle, dispatch: (n) => { sent.push(n); idle--; },
  });
  b.add(1, 0);
  assert.equal(sent, [1], 'a free worker takes a lone row at once');
  b.add(40, 100); // the worker is busy: rows wait
  assert.equal(sent, [1]);
  now = 1000; idle = 1; b.poll(); // oldest waited 900 µs: 1100 µs left → 17 rows fit
  assert.equal(sent, [1, 17]);
  now = 5000; idle = 1; b.poll(); // already late: a full batch of what is left
  assert.equal(sent, [1, 17, 23]);
  assert.is(b.deadlineMisses, 1);
});

test('fixed policy: full batches at once, partial ones after maxDelay', async () => {
  const sent: number[] = [];
  const b = new MicroBatcher(resolvePolicy({ kind: 'fixed', maxDelayMs: 5, maxBatch: 8 }), new LatencyModel({ 1: 100 }), {
    now: () => performance.now() * 1000, idleWorkers: () => 0, dispatch: (n) => sent.push(n),
  });
  b.add(19, performance.now() * 1000);
  assert.equal(sent, [8, 8]);
  await new Promise((r) => setTimeout(r, 20));
  assert.equal(sent, [8, 8, 3]);
  b.close();
  assert.throws(() => resolvePolicy({ kind: 'deadline', budgetMs: 0 }), (e: Error) => e instanceof ConfigError);
  assert.throws(() => resolvePolicy({ kind: 'fixed', maxDelayMs: -1 }), (e: Error) => e instanceof ConfigError);
});

test.run();
