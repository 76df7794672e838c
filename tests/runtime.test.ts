import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchOf, type Batch } from '../src/batch.js';
import { ManualClock } from '../src/clock.js';
import { RawSchema, type SourceDef } from '../src/io.js';
import type { OperatorDef } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { TopologyBuilder } from '../src/topology.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { parse } from '../operators/parse.js';
import { watermarks } from '../operators/watermarks.js';
import { window, type WindowOutput } from '../operators/window.js';
import { ordersWindowTopology } from './helpers/orders-topology.js';

const T = { ts: 'f64', v: 'f64' } as const;
type T = typeof T;

test('backpressure: a slow sink pauses the source; queues stay bounded; nothing is lost or reordered', async () => {
  const N = 20_000;
  const rows = Array.from({ length: N }, (_, i) => ({ ts: i, v: i }));
  const t = new TopologyBuilder('bp');
  const seen: number[] = [];
  t.source('in', memorySource(T, [rows], { batchSize: 100 }))
    .filter('all', () => true)
    .to('slow', {
      kind: 'slow-sink',
      async open() {
        return {
          write: (b: Batch<T>) => { for (let i = 0; i < b.length; i++) seen.push(b.columns.v[i]); return new Promise<void>((r) => setTimeout(r, 1)); },
          close: async () => {},
        };
      },
    });
  const summary = await new Runtime(t.build(), { queueCapacity: 500, sourceBatchSize: 100 }).run();
  assert.equal(seen.length, N);
  assert.ok(seen.every((v, i) => v === i), 'order kept');
  assert.ok(summary.maxQueuedRecords <= 600, `bounded: max queued ${summary.maxQueuedRecords} ≤ capacity + one batch`);
  const filter = summary.stages.find((s) => s.name === 'all')!;
  assert.ok(filter.backpressuredMs > 0, 'the stage before the sink saw backpressure');
});

/** a source whose reads advance a manual clock; partition 1 speaks once, partition 0 keeps going */
function scripted(clock: ManualClock, steps: number): SourceDef<T> {
  return {
    kind: 'scripted', output: T,
    async open() {
      let i = 0;
      return {
        partitions: () => [0, 1],
        position: () => i,
        close: async () => {},
        async read() {
          clock.advance(1_000_000);
          const step = i++;
          if (step >= steps) { await new Promise((r) => setTimeout(r, 2)); return { batches: [], done: false }; }
          const batches = [batchOf(T, [{ ts: step * 1_000_000, v: 1 }], { partition: 0 })];
          if (step === 0) batches.push(batchOf(T, [{ ts: 0, v: 1 }], { partition: 1 }));
          return { batches, done: false };
        },
      };
    },
  };
}

function windowTopology(source: SourceDef<T>) {
  const t = new TopologyBuilder('idle');
  const out = collectSink<WindowOutput<{ n: { op: 'count' } }>>();
  const w = t.source('in', source)
    .via('wm', watermarks<T>({ timestamp: 'ts', maxOutOfOrdernessUs: 0 }))
    .keyBy('one', () => 'all')
    .via('win', window<T, { n: { op: 'count' } }>({ kind: 'tumbling', size: 5_000_000, aggregates: { n: { op: 'count' } } }));
  w.side('late').to('late', collectSink());
  w.to('out', out);
  return { topology: t.build(), out };
}

test('watermarks do not wait for a sink\'s writes in flight: asynchronous writes overlap behind an event-time stage', async () => {
  // 40 batches, each followed by a watermark; every write takes 20 ms to be acknowledged
  const rows = Array.from({ length: 400 }, (_, i) => ({ ts: i * 1000, v: i }));
  const t = new TopologyBuilder('overlap');
  let inFlight = 0, most = 0, written = 0;
  t.source('in', memorySource(T, [rows], { batchSize: 10 }))
    .via('wm', watermarks<T>({ timestamp: 'ts', maxOutOfOrdernessUs: 0 }))
    .to('acked', {
      kind: 'acked-sink',
      async open() {
        return {
          maxInFlight: 16,
          write: (b: Batch<T>) => { inFlight++; most = Math.max(most, inFlight); written += b.length; return new Promise<void>((r) => setTimeout(() => { inFlight--; r(); }, 20)); },
          async close() {},
        };
      },
    });
  await new Runtime(t.build(), { sourceBatchSize: 10 }).run();
  assert.equal(written, 400);
  // held behind each write, the watermarks would allow one write at a time
  assert.ok(most > 4, `most writes in flight at once: ${most}`);
});

test('an idle partition does not stall windows; without idleness it would', async () => {
  for (const idleTimeout of [3_000_000, 1e15]) {
    const clock = new ManualClock(0);
    const { topology, out } = windowTopology(scripted(clock, 20));
    const rt = new Runtime(topology, { clock, partitionIdleTimeoutUs: idleTimeout, tickMs: 1 });
    const done = rt.run();
    await new Promise((r) => setTimeout(r, 300));
    const before = out.rows().length;
    rt.stop();
    await done;
    if (idleTimeout < 1e14) assert.ok(before >= 2, `windows fired while partition 1 was idle (${before})`);
    else assert.equal(before, 0, 'partition 1 holds the watermark back when it is never idle');
    assert.equal(out.rows().reduce((s, r) => s + (r.n as number), 0), 21, 'every record counted once');
  }
});

test('backpressure does not make a busy partition look idle', async () => {
  const clock = new ManualClock(0);
  let idleCalls = 0;
  const spy: OperatorDef<T, T> & { keyed: false } = {
    kind: 'spy', output: T, sides: {}, keyed: false,
    create: () => ({ process: (b, ctx) => ctx.emit(b), onPartitionIdle: () => { idleCalls++; } }),
  };
  const rows = (p: number) => Array.from({ length: 400 }, (_, i) => ({ ts: i, v: p }));
  const t = new TopologyBuilder('paused');
  t.source('in', memorySource(T, [rows(0), rows(1)], { batchSize: 10 })).via('spy', spy).to('slow', {
    kind: 'slow',
    // each write takes 2 s of processing time: far beyond the idle timeout, while the source is paused
    async open() { return { write: () => { clock.advance(2_000_000); return new Promise<void>((r) => setImmediate(r)); }, close: async () => {} }; },
  });
  await new Runtime(t.build(), { clock, queueCapacity: 10, sourceBatchSize: 10, partitionIdleTimeoutUs: 1_000_000 }).run();
  // the two ended partitions are reported idle at their end (2 calls); none before
  assert.equal(idleCalls, 2);
});

test('checkpoint → crash → restore gives the same output as a run without the crash', async () => {
  const lines = orderFlowLines({ events: 20000, seed: 4 }).map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }));
  const parts = [lines.filter((_, i) => i % 2 === 0), lines.filter((_, i) => i % 2 === 1)];
  const build = () => ordersWindowTopology(parts);
  const straight = build();
  await new Runtime(straight.topology, { queueCapacity: 200, sourceBatchSize: 50 }).run();
  const expected = straight.out.rows();
  assert.ok(expected.length > 50);

  const crashed = build();
  const rt = new Runtime(crashed.topology, { queueCapacity: 200, sourceBatchSize: 50 });
  const running = rt.run();
  // checkpoint once about a third of the output is out
  while (crashed.out.batches.reduce((n, b) => n + b.length, 0) < expected.length / 3) await new Promise((r) => setImmediate(r));
  const cp = await rt.checkpoint();
  rt.abort();
  await running;
  const committed = crashed.out.rowsAtCheckpoint.get(cp.id)!;
  assert.ok(committed > 0 && committed < expected.length, `checkpoint taken mid-stream (${committed} of ${expected.length} rows)`);
  const resumed = build();
  await new Runtime(resumed.topology, { queueCapacity: 200, sourceBatchSize: 50, restoreFrom: JSON.parse(JSON.stringify(cp)) }).run();
  assert.equal([...crashed.out.rows().slice(0, committed), ...resumed.out.rows()], expected);
});

test('a checkpoint with one source ended completes (its final position recorded); with every source ended it is refused, not left hanging', async () => {
  const t = new TopologyBuilder('two-sources');
  const a = t.source('short', memorySource(T, [[{ ts: 1, v: 1 }, { ts: 2, v: 2 }]]));
  const b = t.source('long', memorySource(T, [Array.from({ length: 3000 }, (_, i) => ({ ts: i, v: 0 }))], { batchSize: 10 }));
  let written = 0;
  a.union('both', b).to('slow', {
    kind: 'slow',
    // a millisecond a write keeps the long source going while the short one has ended
    async open() { return { write: async (batch: Batch<typeof T>) => { written += batch.length; await new Promise((r) => setTimeout(r, 1)); }, close: async () => {} }; },
  } as never);
  const rt = new Runtime(t.build(), { sourceBatchSize: 10, queueCapacity: 20 });
  const running = rt.run();
  while (written < 500) await new Promise((r) => setTimeout(r, 5));
  const cp = await rt.checkpoint();
  assert.ok('short' in cp.sources && 'long' in cp.sources, `both sources' positions are in the checkpoint (${Object.keys(cp.sources).join(', ')})`);
  await running;
  assert.is(written, 3002);
  try { await rt.checkpoint(); assert.unreachable(); } catch (e) { assert.is((e as { code: string }).code, 'SLUICE_ERR_CHECKPOINT_UNAVAILABLE'); }
});

test('an operator that throws fails the run with a typed error naming the stage', async () => {
  const t = new TopologyBuilder('boom');
  t.source('in', memorySource(T, [[{ ts: 1, v: 1 }]])).map('explode', T, () => { throw new Error('kaput'); }).to('out', collectSink());
  try {
    await new Runtime(t.build()).run();
    assert.unreachable();
  } catch (e) {
    assert.equal((e as { code: string }).code, 'SLUICE_ERR_OPERATOR');
    assert.equal((e as { stage: string }).stage, 'explode');
    assert.match((e as Error).message, /kaput/);
  }
});

test('runtime options are validated', () => {
  const t = new TopologyBuilder('opts');
  t.source('in', memorySource(T, [[]])).to('out', collectSink());
  const topo = t.build();
  assert.throws(() => new Runtime(topo, { queueCapacity: 0 }), /options.queueCapacity must be a positive integer/);
  assert.throws(() => new Runtime(topo, { bogus: 1 } as never), /unknown option 'bogus'/);
});

test('a checkpoint holds operator state as it was when the barrier passed, even when the operator hands out a live structure', async () => {
  // the counter's snapshot is its live array; records keep coming while the barrier travels
  // on to a slow sink, and the checkpoint is only read when it completes
  const S = { n: 'f64' } as const;
  const count: OperatorDef<typeof S, typeof S> & { readonly keyed: false } = {
    kind: 'count', output: S, sides: {}, keyed: false,
    create: () => { const seen = [0]; return { process(b, ctx) { seen[0] += b.length; ctx.emit(b); }, snapshot: () => seen, restore(st) { seen[0] = (st as number[])[0]; } }; },
  };
  const t = new TopologyBuilder('live-state');
  t.source('src', memorySource(S, [Array.from({ length: 100_000 }, (_, n) => ({ n }))], { batchSize: 100 }))
    .via('count', count)
    .to('slow', { kind: 'slow', open: async () => ({ write: () => new Promise<void>((r) => setTimeout(r, 1)), close: async () => {} }) });
  const pairs: [number, number][] = [];
  await new Runtime(t.build(), { checkpointIntervalMs: 5, onCheckpoint: (cp) => { pairs.push([(cp.sources.src as { offsets: number[] }).offsets[0], (cp.operators.count as number[])[0]]); } }).run();
  assert.ok(pairs.length >= 3, `checkpoints taken: ${pairs.length}`);
  assert.equal(pairs.filter(([read, counted]) => read !== counted), [], 'records read before each barrier = records the state counted');
});

test.run();
