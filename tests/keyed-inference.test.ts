/**
 * Key-affine incremental inference (issue #17): a pool of the incremental detector holds
 * each key's cached state beside the model in its worker, and runKeyed() steps warm keys
 * on their newest event. Checked against the full model (model.onnx, main thread) on the
 * same windows, to 1e-4, through everything that makes the cache go cold or hold several
 * events of one key: keys repeated inside a batch, more keys than slots (eviction), a key
 * whose history starts again (expiry), forgetKeys() (restore, rebalance), two workers.
 */
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { InferencePool } from '../src/inference/pool.js';
import { ModelRegistry } from '../src/inference/registry.js';
import { ModelSlot } from '../src/inference/slot.js';
import { RawSchema } from '../src/io.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { simulate } from '../apps/surveillance/sim/market.js';
import { surveillanceTopology } from '../apps/surveillance/topology.js';
import type { Batch, Schema } from '../src/batch.js';

const ref = new ModelRegistry().load('surveillance-detector-incremental');
const inc = ref.manifest.incremental!;
const L = inc.length, W = inc.width;

function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
}

/** one key's stream of event rows shaped like the encoder's, and its window after each event (zero-padded in front) */
class KeyStream {
  readonly events: Float32Array[] = [];
  constructor(private readonly rnd: () => number) {}
  next(): Float32Array {
    const x = new Float32Array(W), r = this.rnd;
    x[Math.floor(r() * 4)] = 1;
    x[4] = r() < 0.5 ? 1 : -1;
    for (let j = 5; j < W; j++) x[j] = j < 8 || j === 12 || j === 13 ? (r() < 0.2 ? 1 : 0) : r() * 2 - 1;
    this.events.push(x);
    const w = new Float32Array(L * W);
    const have = Math.min(this.events.length, L);
    for (let j = 0; j < have; j++) w.set(this.events[this.events.length - have + j], (L - have + j) * W);
    return w;
  }
  restart(): void { this.events.length = 0; }
}

async function compare(pool: InferencePool, opts: { keys: number; batches: number; maxBatch: number; seed: number; forgetAt?: number; restartAt?: number }) {
  const plain = await ort.InferenceSession.create(join(ref.path));
  const rnd = rng(opts.seed);
  const streams = Array.from({ length: opts.keys }, (_, k) => new KeyStream(rng(opts.seed * 100 + k)));
  let worst = 0, prefilled = 0, stepped = 0, repeats = 0;
  for (let b = 0; b < opts.batches; b++) {
    if (b === opts.forgetAt) pool.forgetKeys();
    if (b === opts.restartAt) streams[0].restart(); // the encoder dropped key 0 (TTL) and it began again
    const n = 1 + Math.floor(rnd() * opts.maxBatch);
    const keys: string[] = [], seqs: number[] = [];
    const windows = new Float32Array(n * L * W);
    const seen = new Set<number>();
    for (let i = 0; i < n; i++) {
      // a few hot keys, so the same key often appears twice in one batch
      const k = rnd() < 0.5 ? Math.floor(rnd() * 3) : Math.floor(rnd() * opts.keys);
      if (seen.has(k)) repeats++;
      seen.add(k);
      windows.set(streams[k].next(), i * L * W);
      keys.push(`p0\u0001key${k}`); seqs.push(streams[k].events.length);
    }
    const expect = await plain.run({ events: new ort.Tensor('float32', windows.slice(), [n, L, W]) });
    const got = await pool.runKeyed(keys, seqs, windows);
    if (pool.workers === 1 && pool.placement === 'workers') assert.is(windows.byteLength, 0, 'one worker: the windows were transferred, not copied');
    prefilled += got.prefilled; stepped += got.stepped;
    for (const name of ['score', 'logits']) {
      const a = got.outputs[name].data as Float32Array, e = expect[name].data as Float32Array;
      assert.is(a.length, e.length, name);
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - e[i]));
    }
  }
  return { worst, prefilled, stepped, repeats };
}

test('runKeyed equals the full model on every window, with repeats in a batch, eviction, restarts and forgetKeys', async () => {
  const pool = await InferencePool.open(ref, { workers: 1, warmup: [1, 8], keyedSlots: 16 });
  try {
    assert.ok(pool.keyed, 'an incremental manifest opens key-affine workers');
    const r = await compare(pool, { keys: 24, batches: 120, maxBatch: 12, seed: 3, forgetAt: 60, restartAt: 80 });
    assert.ok(r.worst <= 1e-4, `keyed outputs differ from the full model by ${r.worst}`);
    assert.ok(r.repeats > 50, `keys repeated within a batch (${r.repeats})`);
    assert.ok(r.stepped > r.prefilled, `most rows stepped (${r.stepped} stepped, ${r.prefilled} prefilled)`);
    assert.ok(r.prefilled > 24, `eviction and forgetKeys made keys cold again (${r.prefilled} prefilled)`);
    // the stateless path of the same pool (a retry, a shadow) runs whole windows through prefill
    const w = new KeyStream(rng(9));
    let win = w.next(); for (let i = 0; i < 40; i++) win = w.next();
    const plain = await ort.InferenceSession.create(ref.path);
    const e = (await plain.run({ events: new ort.Tensor('float32', win.slice(), [1, L, W]) })).score.data as Float32Array;
    const s = (await pool.run({ events: { data: win, dims: [1, L, W] } })).outputs.score.data as Float32Array;
    assert.ok(Math.abs(s[0] - e[0]) <= 1e-4);
  } finally { await pool.close(); }
});

test('inline placement (the keyed model on the calling thread) gives the same outputs; it needs an incremental model and one executor', async () => {
  const pool = await InferencePool.open(ref, { placement: 'inline', warmup: [1, 8], keyedSlots: 16 });
  try {
    assert.is(pool.placement, 'inline');
    const r = await compare(pool, { keys: 24, batches: 80, maxBatch: 12, seed: 11, forgetAt: 40 });
    assert.ok(r.worst <= 1e-4, `inline outputs differ from the full model by ${r.worst}`);
    assert.ok(r.stepped > r.prefilled);
  } finally { await pool.close(); }
  for (const bad of [{ placement: 'inline' as const, incremental: false }, { placement: 'inline' as const, workers: 2, allowOversubscription: true }]) {
    try { await InferencePool.open(ref, bad); assert.unreachable(); } catch (e) { assert.is((e as { code: string }).code, 'SLUICE_ERR_CONFIG', JSON.stringify(bad)); }
  }
});

test('two key-affine workers: rows split by key and put back in order; a batch larger than the slots is refused', async () => {
  const pool = await InferencePool.open(ref, { workers: 2, allowOversubscription: true, warmup: [1, 8], keyedSlots: 32 });
  try {
    const r = await compare(pool, { keys: 40, batches: 60, maxBatch: 20, seed: 5 });
    assert.ok(r.worst <= 1e-4, `keyed outputs differ from the full model by ${r.worst}`);
    assert.ok(r.stepped > r.prefilled);
    try {
      await pool.runKeyed(Array.from({ length: 32 }, (_, i) => `k${i}`), new Float64Array(32).fill(1), new Float32Array(32 * L * W));
      assert.unreachable();
    } catch (e) { assert.is((e as { code: string }).code, 'SLUICE_ERR_MODEL_SHAPE'); }
  } finally { await pool.close(); }
});


test('tasks submitted back to back (depth 1 and 2) keep each key\'s order: exact outputs, no task reordered, most rows stepped', async () => {
  for (const keyedDepth of [1, 2]) {
    const pool = await InferencePool.open(ref, { workers: 1, warmup: [1, 8], keyedSlots: 64, keyedDepth });
    try {
      assert.is(pool.idle, keyedDepth, 'the batcher may send depth batches at once');
      const plain = await ort.InferenceSession.create(ref.path);
      const streams = Array.from({ length: 6 }, (_, k) => new KeyStream(rng(70 + k)));
      const rnd = rng(7);
      const jobs: { keys: string[]; seqs: number[]; windows: Float32Array; expect: Float32Array }[] = [];
      for (let b = 0; b < 40; b++) {
        const n = 1 + Math.floor(rnd() * 5), keys: string[] = [], seqs: number[] = [];
        const windows = new Float32Array(n * L * W);
        for (let i = 0; i < n; i++) { const k = Math.floor(rnd() * streams.length); windows.set(streams[k].next(), i * L * W); keys.push(`k${k}`); seqs.push(streams[k].events.length); }
        const expect = (await plain.run({ events: new ort.Tensor('float32', windows.slice(), [n, L, W]) })).score.data as Float32Array;
        jobs.push({ keys, seqs, windows, expect });
      }
      // all 40 at once: piscina queues them; before stricterFIFO it ran the 2nd, 4th … late
      const got = await Promise.all(jobs.map((j) => pool.runKeyed(j.keys, j.seqs, j.windows)));
      let worst = 0, stepped = 0, prefilled = 0;
      got.forEach((r, b) => { stepped += r.stepped; prefilled += r.prefilled; const s = r.outputs.score.data as Float32Array; for (let i = 0; i < s.length; i++) worst = Math.max(worst, Math.abs(s[i] - jobs[b].expect[i])); });
      assert.ok(worst <= 1e-4, `depth ${keyedDepth}: outputs differ by ${worst}`);
      assert.is(pool.reorderedTasks, 0, 'the worker saw its tasks in submission order');
      assert.ok(stepped > 3 * prefilled, `depth ${keyedDepth}: ${stepped} stepped, ${prefilled} prefilled`);
    } finally { await pool.close(); }
  }
  try { await InferencePool.open(ref, { keyedDepth: 0 }); assert.unreachable(); } catch (e) { assert.is((e as { code: string }).code, 'SLUICE_ERR_CONFIG'); }
});

test('a keyed task that reaches its worker out of order is prefilled whole and leaves its slots to be rebuilt: every output exact', async () => {
  const { KeyedModel } = await import('../src/inference/keyed-state.js');
  const model = await KeyedModel.open({ path: ref.path, inputs: ref.manifest.inputs, outputs: ref.manifest.outputs.filter((o) => o.shape.length <= 2), incremental: inc, slots: 4, provider: 'cpu', intraOpThreads: 1 });
  const plain = await ort.InferenceSession.create(ref.path);
  const streams = [new KeyStream(rng(31)), new KeyStream(rng(32))];
  // four tasks of keys a (slot 0) and b (slot 1), numbered as the main thread sent them
  const tasks = Array.from({ length: 4 }, (_, t) => {
    const windows = new Float32Array(2 * L * W);
    streams.forEach((s, k) => windows.set(s.next(), k * L * W));
    return { op: 'keyed' as const, seq: t + 1, slots: Int32Array.of(0, 1), cold: Uint8Array.of(t === 0 ? 1 : 0, t === 0 ? 1 : 0), windows };
  });
  const expect = await Promise.all(tasks.map(async (t) => (await plain.run({ events: new ort.Tensor('float32', t.windows.slice(), [2, L, W]) })).score.data as Float32Array));
  // they arrive 1, 3, 2, 4: 3 and 2 cannot trust the slots; 4 comes after the highest seen, but its slots were left invalid
  const got = [];
  for (const i of [0, 2, 1, 3]) got[i] = await model.run(tasks[i]);
  assert.equal(got.map((r) => [r.reordered ?? false, r.prefilled, r.stepped]), [[false, 2, 0], [true, 2, 0], [true, 2, 0], [false, 2, 0]]);
  let worst = 0;
  got.forEach((r, t) => { const s = r.outputs.score.data as Float32Array; for (let i = 0; i < 2; i++) worst = Math.max(worst, Math.abs(s[i] - expect[t][i])); });
  assert.ok(worst <= 1e-4, `outputs differ by ${worst}`);
  // and the stream goes on stepping from task 4's state
  const windows = new Float32Array(2 * L * W);
  streams.forEach((s, k) => windows.set(s.next(), k * L * W));
  const e5 = (await plain.run({ events: new ort.Tensor('float32', windows.slice(), [2, L, W]) })).score.data as Float32Array;
  const r5 = await model.run({ op: 'keyed', seq: 5, slots: Int32Array.of(0, 1), cold: Uint8Array.of(0, 0), windows });
  assert.is(r5.stepped, 2);
  const s5 = r5.outputs.score.data as Float32Array;
  assert.ok(Math.abs(s5[0] - e5[0]) <= 1e-4 && Math.abs(s5[1] - e5[1]) <= 1e-4);
});

test('a key-affine worker that dies mid-task: the task rejects, its keys start cold on the replacement thread, and later scores are exact', async () => {
  process.env.SLUICE_TEST_THREAD_EXIT_AT = '6'; // the thread ends itself when its 6th task arrives (worker.ts says why not terminate())
  let pool: InferencePool;
  try { pool = await InferencePool.open(ref, { workers: 1, warmup: [1] }); } finally { delete process.env.SLUICE_TEST_THREAD_EXIT_AT; }
  try {
    const plain = await ort.InferenceSession.create(ref.path);
    const streams = [new KeyStream(rng(1)), new KeyStream(rng(2))];
    let failed = 0, worst = 0, coldAfter = 0;
    for (let t = 0; t < 14; t++) {
      const windows = new Float32Array(2 * L * W);
      streams.forEach((s, k) => windows.set(s.next(), k * L * W));
      const expect = (await plain.run({ events: new ort.Tensor('float32', windows.slice(), [2, L, W]) })).score.data as Float32Array;
      try {
        const r = await pool.runKeyed(['a', 'b'], [t + 1, t + 1], windows);
        if (failed && !coldAfter) coldAfter = r.prefilled;
        const got = r.outputs.score.data as Float32Array;
        for (let i = 0; i < 2; i++) worst = Math.max(worst, Math.abs(got[i] - expect[i]));
      } catch (e) { failed++; assert.is((e as { code: string }).code, 'SLUICE_ERR_INFERENCE', String(e)); }
    }
    assert.is(failed, 1, 'exactly the task in flight when the thread died failed');
    assert.is(coldAfter, 2, 'both keys were prefilled on the new thread');
    assert.ok(worst <= 1e-4, `scores after the restart differ by ${worst}`);
  } finally { await pool.close(); }
});

// through the engine: the surveillance topology on simulated flow in two partitions
const flow = simulate({ seed: 4242, events: 12_000, episodesPerPattern: 1, benignPerKind: 2 }).events.map((e) => JSON.stringify(e));
const parts = [flow.filter((_, i) => i % 2 === 0), flow.filter((_, i) => i % 2 === 1)].map((p) => p.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 })));

function surveillance(slot: ModelSlot) {
  const decisions = collectSink<Schema>();
  const topology = surveillanceTopology({ source: memorySource(RawSchema, parts, { batchSize: 256 }), parse: { format: 'json', contract: 'order-event' }, slot, alerts: collectSink(), deadLetters: collectSink(), decisions });
  return { topology, decisions };
}
/** each decision as `participant|symbol|orderId|type|ts` → its score, in output order */
function scores(batches: Batch<Schema>[]): [string, number][] {
  const out: [string, number][] = [];
  for (const b of batches) {
    const c = b.columns as Record<string, ArrayLike<unknown>>;
    for (let i = 0; i < b.length; i++) out.push([`${String(c.participant[i])}|${String(c.symbol[i])}|${String(c.orderId[i])}|${String(c.type[i])}|${String(c.ts[i])}`, c.score[i] as number]);
  }
  return out;
}
function worstDiff(a: [string, number][], b: [string, number][]): number {
  const sort = (x: [string, number][]) => [...x].sort((p, q) => (p[0] < q[0] ? -1 : p[0] > q[0] ? 1 : p[1] - q[1]));
  const sa = sort(a), sb = sort(b);
  assert.is(sa.length, sb.length, 'the same records were scored');
  let worst = 0;
  for (let i = 0; i < sa.length; i++) { assert.is(sa[i][0], sb[i][0]); worst = Math.max(worst, Math.abs(sa[i][1] - sb[i][1])); }
  return worst;
}

test('surveillance through the engine: cached state gives the stateless scores, and checkpoint → crash → restore gives an uninterrupted run\'s', async () => {
  const stateless = await ModelSlot.open(ref, { workers: 1, warmup: [1, 8], incremental: false });
  const keyed = await ModelSlot.open(ref, { workers: 1, warmup: [1, 8] });
  try {
    assert.not.ok(stateless.live.keyed);
    const a = surveillance(stateless);
    await new Runtime(a.topology, { sourceBatchSize: 256 }).run();
    const expected = scores(a.decisions.batches);
    assert.ok(expected.length > 10_000, `scored ${expected.length}`);

    const b = surveillance(keyed);
    await new Runtime(b.topology, { sourceBatchSize: 256 }).run();
    assert.ok(worstDiff(scores(b.decisions.batches), expected) <= 1e-4, 'keyed scores equal the full re-encode');
    const inline = await ModelSlot.open(ref, { placement: 'inline', warmup: [1, 8] });
    try {
      const e = surveillance(inline);
      await new Runtime(e.topology, { sourceBatchSize: 256 }).run();
      assert.ok(worstDiff(scores(e.decisions.batches), expected) <= 1e-4, 'inline keyed scores equal the full re-encode');
    } finally { await inline.close(); }
    const router = keyed.live.router!;
    assert.ok(router.colds < expected.length / 4, `most events stepped on cached state (${router.colds} cold of ${expected.length})`);

    // crash after a checkpoint a third of the way in, then restore into the same pool (its cache now stale)
    const c = surveillance(keyed);
    const rt = new Runtime(c.topology, { sourceBatchSize: 50, queueCapacity: 200 });
    const running = rt.run();
    while (c.decisions.batches.reduce((n, x) => n + x.length, 0) < expected.length / 3) await new Promise((r) => setImmediate(r));
    const cp = await rt.checkpoint();
    rt.abort();
    await running;
    const committed = c.decisions.rowsAtCheckpoint.get(cp.id)!;
    assert.ok(committed > 0 && committed < expected.length, `checkpoint mid-stream (${committed} of ${expected.length})`);
    const d = surveillance(keyed);
    const coldBefore = router.colds;
    await new Runtime(d.topology, { sourceBatchSize: 50, queueCapacity: 200, restoreFrom: JSON.parse(JSON.stringify(cp)) }).run();
    assert.ok(router.colds > coldBefore, 'the restore made the cached keys cold');
    const resumed = [...scores(c.decisions.batches).slice(0, committed), ...scores(d.decisions.batches)];
    assert.ok(worstDiff(resumed, expected) <= 1e-4, 'restored run equals the uninterrupted one');
  } finally { await Promise.all([stateless.close(), keyed.close()]); }
});

test.run();
