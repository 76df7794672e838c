/**
 * The TopologyTestDriver (src/test-driver.ts): a whole topology run synchronously under a
 * manual clock — the same graph and operator cells as the Runtime, so its outputs equal a
 * real run's; ordering, idleness, checkpoints and timers tested without real timers.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { OperatorDef } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { TopologyTestDriver } from '../src/test-driver.js';
import { TopologyBuilder } from '../src/topology.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { watermarks } from '../operators/watermarks.js';
import { window } from '../operators/window.js';
import { ordersWindowTopology } from './helpers/orders-topology.js';

const lines = orderFlowLines({ events: 6000, seed: 4 }).map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }));
const parts = [lines.filter((_, i) => i % 2 === 0), lines.filter((_, i) => i % 2 === 1)];

const ordersTopology = () => ordersWindowTopology(parts);

/** the same records the memory source gives the Runtime, batch by batch, partitions interleaved */
function feed(d: TopologyTestDriver, from = 0, to = Infinity): number {
  let n = 0;
  for (let k = 0; ; k++) {
    let any = false;
    for (let p = 0; p < parts.length; p++) {
      const chunk = parts[p].slice(k * 50, (k + 1) * 50);
      if (chunk.length === 0) continue;
      any = true;
      if (n >= from && n < to) d.pipe('in', chunk, { partition: p });
      n++;
    }
    if (!any) return n;
  }
}

test('a whole topology, synchronously: the same windows as a Runtime run of the same graph', async () => {
  const real = ordersTopology();
  await new Runtime(real.topology, { sourceBatchSize: 50 }).run();
  const d = new TopologyTestDriver(ordersTopology().topology);
  feed(d);
  d.end();
  const got = d.output('out');
  assert.ok(got.length > 50, `${got.length} windows`);
  // per key, windows come in the same order (across keys the interleaving may differ with batch timing)
  const byKey = (rows: Record<string, unknown>[]) => { const m = new Map<string, unknown[]>(); for (const r of rows) m.set(String(r.key), [...(m.get(String(r.key)) ?? []), r]); return m; };
  assert.equal(byKey(got), byKey(real.out.rows()));
  assert.equal(d.output('dlq'), []);
});

test('checkpoint → restore in a new driver gives the same output as an uninterrupted run', () => {
  const straight = new TopologyTestDriver(ordersTopology().topology);
  const batches = feed(straight);
  straight.end();
  const expected = straight.output('out');

  const first = new TopologyTestDriver(ordersTopology().topology);
  const cut = Math.floor(batches / 3);
  feed(first, 0, cut);
  const cp = first.checkpoint();
  const before = first.output('out');
  assert.ok(before.length > 0 && before.length < expected.length, `checkpoint mid-stream (${before.length} of ${expected.length})`);
  assert.ok(Object.keys(cp.operators).includes('win'), 'the window state is in the checkpoint');
  const resumed = new TopologyTestDriver(ordersTopology().topology, { restoreFrom: JSON.parse(JSON.stringify(cp)) });
  feed(resumed, cut);
  resumed.end();
  assert.equal([...before, ...resumed.output('out')], expected);
});

test('an idle partition stops holding the watermark back the moment it is declared idle', () => {
  const T = { ts: 'f64', v: 'f64' } as const;
  const t = new TopologyBuilder('idle');
  const out = collectSink();
  const w = t.source('in', memorySource(T, [[]]))
    .via('wm', watermarks<typeof T>({ timestamp: 'ts', maxOutOfOrdernessUs: 0 }))
    .keyBy('one', () => 'all')
    .via('win', window<typeof T, { n: { op: 'count' } }>({ kind: 'tumbling', size: 5_000_000, aggregates: { n: { op: 'count' } } }));
  w.side('late').to('late', collectSink());
  w.to('out', out);
  const d = new TopologyTestDriver(t.build());
  d.pipe('in', [{ ts: 0, v: 1 }], { partition: 1 });
  for (let s = 0; s < 20; s++) d.pipe('in', [{ ts: s * 1_000_000, v: 1 }], { partition: 0 });
  assert.equal(d.output('out'), [], 'partition 1 (last seen at 0) holds every window back');
  d.idle('in', 1);
  assert.equal(d.output('out').map((r) => r.n), [6, 5, 5], 'idle: windows up to the partition 0 watermark fire at once');
  assert.equal(d.watermarksAt('out'), [-1, 18_999_999], 'the watermark at the sink: held at partition 1, then partition 0 alone');
});

test('processing-time timers fire when the manual clock passes them; an operator error names its stage', () => {
  const S = { v: 'f64' } as const;
  // emits, 1 s of processing time after each batch, how many records it saw in that batch
  const delayed: OperatorDef<typeof S, typeof S> & { readonly keyed: false } = {
    kind: 'delayed', output: S, sides: {}, keyed: false,
    create: () => {
      const due = new Map<number, number>();
      return {
        process(b, ctx) { const at = ctx.clock.now() + 1_000_000; due.set(at, (due.get(at) ?? 0) + b.length); ctx.registerTimer(at); },
        onTimer(at, ctx) { ctx.emit(ctx.clock.now() >= at ? ((b) => b)(batchOfV(due.get(at)!)) : batchOfV(-1)); due.delete(at); },
      };
    },
  };
  const t = new TopologyBuilder('timers');
  t.source('in', memorySource(S, [[]])).via('delayed', delayed).map('check', S, (r) => { if (r.v > 100) throw new Error('too many'); return { v: r.v }; }).to('out', collectSink());
  const d = new TopologyTestDriver(t.build());
  d.pipe('in', [{ v: 1 }, { v: 2 }]);
  d.advanceClock(500_000);
  d.pipe('in', [{ v: 3 }]);
  assert.equal(d.output('out'), [], 'nothing before the timers are due');
  d.advanceClock(500_000);
  assert.equal(d.output('out').map((r) => r.v), [2]);
  d.advanceClock(500_000);
  assert.equal(d.output('out').map((r) => r.v), [2, 1]);
  d.pipe('in', Array.from({ length: 101 }, () => ({ v: 0 })));
  try { d.advanceClock(1_000_000); assert.unreachable('the map stage threw'); } catch (e) {
    assert.is((e as { code: string }).code, 'SLUICE_ERR_OPERATOR');
    assert.is((e as { stage: string }).stage, 'check');
  }
});

import { batchOf } from '../src/batch.js';
const batchOfV = (v: number) => batchOf({ v: 'f64' } as const, [{ v }]);

test.run();
