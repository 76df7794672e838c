import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchOf } from '../src/batch.js';
import { OrderSchema } from '../src/contracts.js';
import { orderRow, type OrderEvent } from '../apps/demo/orderflow.js';
import { RelativeFeatures, RelativeOrderEncoder, RELATIVE_WIDTH } from '../apps/surveillance/relative-sequence.js';
import { simulateAuction } from '../apps/surveillance/sim/auction-sim.js';
import { simulate } from '../apps/surveillance/sim/market.js';

const F = (name: (typeof RelativeFeatures)[number]) => RelativeFeatures.indexOf(name);

/** encodes events one by one; returns each event's newest row (its own features) */
function encodeAll(enc: RelativeOrderEncoder, events: OrderEvent[]): Float32Array[] {
  const batch = batchOf(OrderSchema, events.map(orderRow));
  const dst = [new Float32Array(enc.widths[0])];
  const rows: Float32Array[] = [];
  for (let i = 0; i < batch.length; i++) {
    enc.encode(batch, i, dst, 0);
    rows.push(dst[0].slice(dst[0].length - RELATIVE_WIDTH));
  }
  return rows;
}

const ev = (ts: number, participant: string, type: OrderEvent['type'], side: 'B' | 'S', orderId: string, qty: number, price?: number, o: Partial<OrderEvent> = {}): OrderEvent =>
  ({ ts, venue: 'L', symbol: 'S', orderId, participant, side, type, orderType: 'LIMIT', qty, displayQty: qty, ...(price !== undefined ? { price } : {}), ...o });

test('relative encoder: rebuilds the book from the feed and describes orders against it', () => {
  const enc = new RelativeOrderEncoder();
  const rows = encodeAll(enc, [
    ev(1, 'mm', 'NEW', 'B', 'b1', 100, 10.0),
    ev(2, 'mm', 'NEW', 'S', 'a1', 100, 10.02),
    ev(3, 'mm', 'NEW', 'B', 'b2', 300, 9.99),
    ev(4, 'x', 'NEW', 'B', 'x1', 100, 9.99), // joins a level of 300, one tick behind the touch
    ev(5, 'y', 'NEW', 'B', 'y1', 50, 10.02), // crosses the ask: marketable
    ev(6, 'mm', 'EXEC', 'S', 'a1', 50, 10.02, { counterparty: 'y' }),
    ev(7, 'mm', 'CANCEL', 'B', 'b1', 100),
  ]);
  assert.equal(enc.touch('S'), [9.99, 10.02], 'best bid fell back to 9.99 after the 10.00 bid was cancelled');
  const x = rows[3], y = rows[4];
  assert.ok(Math.abs(x[F('touchDistanceBps')] - 1.0) < 0.01, `one cent behind a $10 touch (against the $10.01 midpoint) ≈ 10 bps → 1.0 (${x[F('touchDistanceBps')]})`);
  assert.ok(Math.abs(x[F('levelShare')] - 0.25) < 1e-6, 'a quarter of its level');
  assert.is(x[F('marketable')], 0);
  assert.is(y[F('marketable')], 1);
  assert.ok(y[F('touchDistanceBps')] < 0, 'through its own side\'s best');
  assert.is(rows[5][F('hasCounterparty')], 1);
  assert.is(rows[6][F('isCancel')], 1);
});

test('relative encoder: a cancel right after the same key\'s fill on the other side is marked; later ones are not', () => {
  const enc = new RelativeOrderEncoder();
  const rows = encodeAll(enc, [
    ev(1e6, 'p', 'NEW', 'B', 'big', 5000, 9.99),
    ev(1.1e6, 'p', 'NEW', 'S', 'small', 100, 10.01),
    ev(1.5e6, 'p', 'EXEC', 'S', 'small', 100, 10.01, { counterparty: 'q' }),
    ev(1.6e6, 'p', 'CANCEL', 'B', 'big', 5000),
    ev(10e6, 'p', 'NEW', 'B', 'b2', 100, 9.99),
    ev(20e6, 'p', 'CANCEL', 'B', 'b2', 100),
  ]);
  assert.is(rows[3][F('oppositeFillNearCancel')], 1);
  assert.is(rows[5][F('oppositeFillNearCancel')], 0);
  assert.ok(rows[0][F('ownDepthShare')] === 1, 'the only bid: all of the side\'s depth');
});

test('relative encoder: snapshot → JSON → restore continues exactly as an uninterrupted run', () => {
  const events = simulateAuction({ seed: 5, durationSec: 90, episodesPerPattern: 1 }).events;
  const cut = Math.floor(events.length / 2);
  const whole = encodeAll(new RelativeOrderEncoder(), events);
  const first = new RelativeOrderEncoder();
  encodeAll(first, events.slice(0, cut));
  const second = new RelativeOrderEncoder();
  second.restore(JSON.parse(JSON.stringify(first.snapshot())));
  const rest = encodeAll(second, events.slice(cut));
  for (let i = 0; i < rest.length; i++) assert.equal(Array.from(rest[i]), Array.from(whole[cut + i]), `event ${cut + i}`);
});

test('relative encoder: every value finite and bounded on both generator families', () => {
  for (const events of [simulateAuction({ seed: 6, durationSec: 120 }).events, simulate({ seed: 6, events: 20_000 }).events]) {
    const rows = encodeAll(new RelativeOrderEncoder(), events);
    for (const r of rows) for (let j = 0; j < RELATIVE_WIDTH; j++) assert.ok(Number.isFinite(r[j]) && Math.abs(r[j]) <= 5, `${RelativeFeatures[j]} = ${r[j]}`);
  }
});

test.run();
