import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TopologyBuilder } from '../src/topology.js';
import { Runtime } from '../src/runtime.js';
import { memorySource } from '../src/sources.js';
import { collectSink } from '../src/sinks.js';
import { RawSchema } from '../src/io.js';
import { parse } from '../operators/parse.js';
import { watermarks } from '../operators/watermarks.js';
import { normalize } from '../operators/normalize.js';
import { DeadLetterSchema } from '../src/operator.js';
import type { OrderSchema } from '../src/contracts.js';

const ev = (ts: number, qty: number) => JSON.stringify({ ts, venue: 'X', symbol: 'AAA', orderId: `o${ts}`, participant: 'p1', side: 'B', type: 'NEW', price: 10, qty });

test('parse → watermarks → keyBy → normalize runs end to end, bad lines dead-lettered', async () => {
  const lines = [ev(1, 5), 'not json', ev(2, 6), ev(3, 7)].map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }));
  const t = new TopologyBuilder('smoke');
  const parsed = t.source('in', memorySource(RawSchema, [lines], { batchSize: 2 })).via('parse', parse({ format: 'json', contract: 'order-event' }));
  const dead = collectSink<DeadLetterSchema>();
  parsed.side('dead').to('dlq', dead);
  const out = collectSink<OrderSchema & { qty_norm: 'f64' }>();
  parsed.via('wm', watermarks({ timestamp: 'ts', maxOutOfOrdernessUs: 0 }))
    .keyBy('by-symbol', (c, i) => c.symbol[i])
    .via('norm', normalize({ fields: ['qty'], method: 'minmax', warmup: 0 }))
    .to('out', out);
  const summary = await new Runtime(t.build()).run();
  assert.equal(out.rows().map((r) => r.qty_norm), [0, 1, 1]);
  assert.equal(dead.rows().length, 1);
  assert.equal(dead.rows()[0].code, 'SLUICE_ERR_MALFORMED_JSON');
  assert.ok(summary.stages.length === 7);
});

test.run();
