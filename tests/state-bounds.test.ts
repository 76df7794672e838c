/**
 * Bounded keyed state (issue #15): idle keys expire by event time (the watermark), a key
 * bound drops the least recently touched, restored keys get a full TTL, and the counts
 * reach the metrics. With 1,000,000 distinct keys the detector's history stays at its bound.
 * (Memory at the bound vs unbounded is measured in bench/state-memory.ts.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { KeyedStore } from '../src/state.js';
import { BatchBuilder } from '../src/batch.js';
import { OrderSequenceEncoder } from '../apps/surveillance/order-sequence.js';
import { OrderSchema } from '../src/contracts.js';
import { OperatorHarness } from '../src/harness.js';
import { adaptiveThreshold } from '../operators/threshold.js';

const H = 3600e6;

test('KeyedStore: TTL by event time, key bound by least recent touch, counts', () => {
  const dropped: string[] = [];
  const s = new KeyedStore<number>({ ttlUs: 10 * H, maxKeys: 3 }, (k) => dropped.push(k));
  s.use('a', 0, () => 1); s.use('b', 1 * H, () => 2); s.use('c', 2 * H, () => 3);
  s.use('a', 3 * H, () => 0); // a is now the most recent
  s.use('d', 4 * H, () => 4); // over the bound: b (least recently touched) goes
  assert.equal([...s.keys()], ['c', 'a', 'd']);
  assert.equal(dropped, ['b']);
  assert.is(s.expire(12.5 * H), 1, 'c (touched at 2 h) is idle beyond 10 h at 12.5 h');
  assert.equal([...s.keys()], ['a', 'd']);
  assert.is(s.expire(-Infinity), 0, 'no watermark yet: nothing expires');
  assert.equal(s.stats(), { keys: 2, expired: 1, evicted: 1 });
  assert.is(s.get('a'), 1, 'a kept its value through the touches');
});

test('KeyedStore: restored keys count as touched at the first expire after the restore', () => {
  const s = new KeyedStore<string>({ ttlUs: 10 * H });
  s.set('x', 'restored'); s.set('y', 'restored');
  s.use('z', 100 * H, () => 'live');
  assert.is(s.expire(100 * H), 0, 'a full TTL from now, not from an unknown past');
  s.use('x', 105 * H, () => 'never');
  s.use('z', 106 * H, () => 'never');
  assert.is(s.expire(111 * H), 1, 'y, untouched since the restore, expires after its TTL');
  assert.equal([...s.keys()].sort(), ['x', 'z']);
  assert.is(s.get('x'), 'restored');
});

test('the detector history holds at most its bound with 1,000,000 distinct participant×symbol keys; evictions counted', () => {
  const enc = new OrderSequenceEncoder({ length: 8, state: { maxKeys: 20_000, ttlUs: 24 * H } });
  const dst = [new Float32Array(enc.widths[0] * 1000)];
  const N = 1_000_000;
  for (let start = 0; start < N; start += 1000) {
    const b = new BatchBuilder(OrderSchema, 1000);
    for (let i = start; i < start + 1000; i++) {
      b.push({ ts: 1_795_444_200_000_000 + i * 1000, venue: 'XLIT', symbol: `S${i % 50}`, orderId: `O${i}`, participant: `P${i}`, side: 'B', type: 'NEW', orderType: 'LIMIT', price: 100, qty: 100, displayQty: 100, counterparty: '' } as never);
    }
    const batch = b.finish({ partition: 0, ingestTime: 0 });
    for (let i = 0; i < batch.length; i++) enc.encode(batch as never, i, dst, i);
  }
  const st = enc.stateStats();
  assert.ok(st.keys <= 20_000 + 50, `keys held ${st.keys}`);
  assert.is(st.evicted, N - 20_000, 'every key past the bound evicted, least recent first');
  // the bound is per encoder, i.e. per partition (the scoring stage makes one per partition): the snapshot holds the bounded set
  const snap = enc.snapshot() as { keys: { '@keyed': unknown[] } };
  assert.is(snap.keys['@keyed'].length, 20_000);
  // and by event time: one watermark a day later expires them all
  enc.expire(1_795_444_200_000_000 + N * 1000 + 25 * H);
  assert.is(enc.stateStats().keys, 0);
  assert.is(enc.stateStats().expired, 20_000 + 50);
});

test('adaptiveThreshold: a key bound and its metric; a forgotten key also leaves the thresholds metric', () => {
  const S = { ts: 'f64', score: 'f64' } as const;
  const thresholds = new (class { current = new Map<string, number>(); summary() { return null; } })();
  const h = new OperatorHarness(adaptiveThreshold<typeof S>({ state: { maxKeys: 100 }, stats: thresholds as never }), { input: S });
  h.push(Array.from({ length: 1000 }, (_, i) => ({ ts: i, score: 0.1 })), { keys: Array.from({ length: 1000 }, (_, i) => `k${i}`) });
  assert.is(thresholds.current.size, 100);
  assert.throws(() => adaptiveThreshold({ state: { maxKeys: 0 } }), /maxKeys/);
  assert.throws(() => adaptiveThreshold({ state: { ttlUs: -1 } }), /ttlUs/);
});

test.run();
