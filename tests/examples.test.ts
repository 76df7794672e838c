// The README's examples, compiled with the tests and run on a tiny input, so they stay true.
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { BatchBuilder } from '../src/batch.js';
import { OrderSchema } from '../src/contracts.js';
import { ConfigError } from '../src/errors.js';
import { OperatorHarness } from '../src/harness.js';
import { DeadLetterSchema, type OperatorDef } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { jsonLinesSink } from '../src/sinks.js';
import { linesSource } from '../src/sources.js';
import { TopologyBuilder } from '../src/topology.js';
import { parse } from '../operators/parse.js';
import { watermarks } from '../operators/watermarks.js';
import { window } from '../operators/window.js';

export function clampQty(config: { max: number }): OperatorDef<OrderSchema, OrderSchema> & { keyed: false } {
  if (!(config.max > 0)) throw new ConfigError(`clampQty: options.max must be > 0, got ${config.max}`);
  return {
    kind: 'clampQty', output: OrderSchema, sides: {}, keyed: false,
    create: () => ({
      process(batch, ctx) {
        const out = new BatchBuilder(OrderSchema, batch.length, batch.columns); // share columns...
        out.columns.qty = batch.columns.qty.map((q) => Math.min(q, config.max)); // ...replace one
        out.length = batch.length;
        ctx.emit(out.finish(batch.meta));
      },
    }),
  };
}

test('README: writing a topology', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'sluice-readme-'));
  const ev = (ts: number, qty: number) => JSON.stringify({ ts, venue: 'X', symbol: 'AAPL', orderId: `o${ts}`, participant: 'p', side: 'B', type: 'NEW', price: 1, qty });
  writeFileSync(join(dir, 'orders.jsonl'), [ev(100, 1), ev(200, 2), 'garbage', ev(1_500_000, 4)].join('\n'));
  const t = new TopologyBuilder('order-counts');
  const orders = t.source('orders', linesSource({ paths: [join(dir, 'orders.jsonl')] }))
    .via('parse', parse({ format: 'json', contract: 'order-event' }));
  orders.side('dead').to('dead-letters', jsonLinesSink(DeadLetterSchema, { path: join(dir, 'dead.jsonl') }));
  const counts = orders
    .via('wm', watermarks({ timestamp: 'ts', maxOutOfOrdernessUs: 5_000 }))
    .keyBy('by-symbol', (c, i) => c.symbol[i])
    .via('per-second', window({ kind: 'tumbling', size: 1_000_000, aggregates: { qty: { op: 'sum', field: 'qty' } } }));
  counts.side('late').to('late', jsonLinesSink(counts.sides.late, { path: join(dir, 'late.jsonl') }));
  counts.to('out', jsonLinesSink(counts.schema, { path: join(dir, 'counts.jsonl') }));
  await new Runtime(t.build()).run();
  const out = readFileSync(join(dir, 'counts.jsonl'), 'utf8').trim().split('\n').map((l) => JSON.parse(l));
  assert.equal(out.map((r) => [r.windowStart, r.qty]), [[0, 3], [1_000_000, 4]]);
  assert.equal(readFileSync(join(dir, 'dead.jsonl'), 'utf8').trim().split('\n').length, 1);
});

test('README: writing an operator', () => {
  const h = new OperatorHarness(clampQty({ max: 10 }), { input: OrderSchema });
  h.push([{ ts: 1, seq: NaN, venue: 'X', symbol: 'S', orderId: 'o', participant: 'p', side: 'B', type: 'NEW', orderType: 'LIMIT', price: 1, qty: 50, displayQty: NaN, counterparty: '', execId: '' }]);
  assert.equal(h.output()[0].qty, 10);
  assert.throws(() => clampQty({ max: 0 }), /options.max must be > 0/);
});

test.run();
