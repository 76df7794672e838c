import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { OrderSchema } from '../src/contracts.js';
import { rawLines } from '../src/sources.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { featurize } from './featurize.js';
import { parse } from './parse.js';

type Ev = { ts: number; participant: string; orderId: string; side: string; type: string; price?: number; qty: number; counterparty?: string; displayQty?: number };
const row = (e: Ev) => ({ seq: NaN, venue: 'X', symbol: 'S', orderType: 'LIMIT', counterparty: '', execId: '', displayQty: NaN, price: NaN, ...e });
const mk = (cfg = {}) => new OperatorHarness(featurize<OrderSchema>({ horizonUs: 1_000_000, depth: 2, ...cfg }), { input: OrderSchema });
const feed = (h: ReturnType<typeof mk>, evs: Ev[]) => { h.push(evs.map(row), { keys: evs.map(() => 'S') }); return h.output().at(-1)!; };

test('book features: imbalance over the top levels, spread, mid', () => {
  const h = mk();
  const f = feed(h, [
    { ts: 1, participant: 'MM', orderId: 'b1', side: 'B', type: 'NEW', price: 100, qty: 10 },
    { ts: 2, participant: 'MM', orderId: 'b2', side: 'B', type: 'NEW', price: 99.9, qty: 10 },
    { ts: 3, participant: 'MM', orderId: 'b3', side: 'B', type: 'NEW', price: 99, qty: 1000 }, // 3rd level: outside depth 2
    { ts: 4, participant: 'MM', orderId: 'a1', side: 'S', type: 'NEW', price: 100.2, qty: 60 },
  ]);
  assert.equal(f.bookImbalance, (20 - 60) / 80);
  assert.equal(f.midPrice, 100.1);
  assert.ok(Math.abs((f.spreadBps as number) - (0.2 / 100.1) * 1e4) < 1e-9);
  assert.equal(f.restingLevels, 4);
});

test('cancel ratio, cancel latency, order-to-trade ratio and self trades per participant', () => {
  const h = mk();
  feed(h, [
    { ts: 0, participant: 'P', orderId: 'o1', side: 'B', type: 'NEW', price: 10, qty: 100 },
    { ts: 0, participant: 'P', orderId: 'o2', side: 'B', type: 'NEW', price: 10, qty: 100 },
    { ts: 0, participant: 'P', orderId: 'o3', side: 'B', type: 'NEW', price: 10, qty: 100 },
    { ts: 0, participant: 'P', orderId: 'o4', side: 'B', type: 'NEW', price: 10, qty: 100 },
    { ts: 1000, participant: 'P', orderId: 'o1', side: 'B', type: 'CANCEL', qty: 100 },
    { ts: 3000, participant: 'P', orderId: 'o2', side: 'B', type: 'CANCEL', qty: 100 },
  ]);
  const f = feed(h, [{ ts: 3000, participant: 'P', orderId: 'o3', side: 'B', type: 'EXEC', price: 10, qty: 100, counterparty: 'P' }]);
  assert.equal(f.cancelRatio, 2 / 4);
  assert.equal(f.cancelLatencyUs, 2000);
  assert.equal(f.otr, 4);
  assert.equal(f.selfTrades, 1);
  assert.equal(f.restingLevels, 1, 'o4 still rests at 10');
  assert.equal(f.eventsInHorizon, 7);
});

test('rolling features forget events older than the horizon', () => {
  const h = mk();
  feed(h, [{ ts: 0, participant: 'P', orderId: 'o1', side: 'B', type: 'NEW', price: 10, qty: 1 }, { ts: 10, participant: 'P', orderId: 'o1', side: 'B', type: 'CANCEL', qty: 1 }]);
  const f = feed(h, [{ ts: 2_000_000, participant: 'P', orderId: 'o2', side: 'B', type: 'NEW', price: 10, qty: 1 }]);
  assert.equal(f.eventsInHorizon, 1);
  assert.equal(f.cancelRatio, 0);
  assert.ok(Number.isNaN(f.cancelLatencyUs));
  assert.equal(f.interArrivalUs, 2_000_000 - 10);
});

test('order-flow imbalance: bid size added at the best bid is positive, ask size negative', () => {
  const h = mk();
  feed(h, [
    { ts: 1, participant: 'A', orderId: 'b1', side: 'B', type: 'NEW', price: 10, qty: 5 },
    { ts: 2, participant: 'A', orderId: 'a1', side: 'S', type: 'NEW', price: 11, qty: 5 },
  ]);
  assert.equal(feed(h, [{ ts: 3, participant: 'B', orderId: 'b2', side: 'B', type: 'NEW', price: 10, qty: 7 }]).ofi, 7);
  assert.equal(feed(h, [{ ts: 4, participant: 'B', orderId: 'a2', side: 'S', type: 'NEW', price: 11, qty: 3 }]).ofi, 4);
});

test('VWAP deviation of an order against recent executions', () => {
  const h = mk();
  feed(h, [
    { ts: 1, participant: 'A', orderId: 'x', side: 'S', type: 'EXEC', price: 10, qty: 100, counterparty: 'B' },
    { ts: 2, participant: 'A', orderId: 'y', side: 'S', type: 'EXEC', price: 12, qty: 100, counterparty: 'B' },
  ]);
  const f = feed(h, [{ ts: 3, participant: 'C', orderId: 'z', side: 'B', type: 'NEW', price: 11.11, qty: 1 }]);
  assert.ok(Math.abs((f.vwapDevBps as number) - 100) < 1e-6);
});

test('snapshot → restore mid-stream gives output identical to an uninterrupted run (generated flow)', () => {
  const p = new OperatorHarness(parse({ format: 'json', contract: 'order-event' }));
  p.push(rawLines(orderFlowLines({ events: 6000, seed: 11 })));
  const rows = p.output();
  const keys = rows.map((r) => r.symbol);
  const all = mk({ horizonUs: 500_000 });
  all.push(rows, { keys });
  const first = mk({ horizonUs: 500_000 });
  first.push(rows.slice(0, 3000), { keys: keys.slice(0, 3000) });
  const second = mk({ horizonUs: 500_000 });
  second.restore(first.snapshot());
  second.push(rows.slice(3000), { keys: keys.slice(3000) });
  const a = JSON.stringify(all.output());
  assert.equal(JSON.stringify([...first.output(), ...second.output()]), a);
  assert.ok(all.output().some((r) => (r.cancelRatio as number) > 0) && all.output().some((r) => Number.isFinite(r.bookImbalance)));
});

test('configuration is validated', () => {
  assert.throws(() => featurize({ horizonUs: 0 }), /horizonUs must be > 0/);
  assert.throws(() => featurize({ depth: 1.5 }), /depth must be a positive integer/);
});

test.run();
