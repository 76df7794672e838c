/**
 * The changelog's per-key layout (src/kafka/changelog.ts ChangelogRecords, src/state.ts):
 * a partition's state becomes one record per state key plus a shared record per stage;
 * a checkpoint writes only what changed and a tombstone for each key that went; the
 * records put back together restore an operator that behaves as the original did.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ChangelogRecords } from '../src/kafka/changelog.js';
import { POSITION_KEY } from '../src/partitioned.js';
import { batchOf } from '../src/batch.js';
import { OrderSchema } from '../src/contracts.js';
import { OrderSequenceEncoder, EVENT_WIDTH } from '../apps/surveillance/order-sequence.js';
import { joinState, keyedEntries, splitState } from '../src/state.js';

const order = (i: number, participant: string) => ({ ts: 1_700_000_000_000_000 + i * 1000, seq: i, venue: 'XLIT', symbol: 'AAPL', orderId: `o${i}`, participant, side: 'B', type: 'NEW', orderType: 'LIMIT', price: 100 + (i % 5), qty: 100 + i, displayQty: 100, counterparty: '', execId: '' });

test('splitState / joinState: keyed collections become entries and come back in place', () => {
  const snap = { a: keyedEntries([['k1', [1, 2]], ['k2', { x: null }]]), b: { c: keyedEntries([['k|3', 7]]) }, plain: [1, 2, 3], n: 4 };
  const { shared, entries } = splitState(snap);
  assert.equal(entries, [['a', 'k1', [1, 2]], ['a', 'k2', { x: null }], ['b.c', 'k|3', 7]]);
  assert.equal(joinState(JSON.parse(JSON.stringify(shared)), entries), snap);
});

test('one record per key; unchanged keys are not written again; a dropped key gets a tombstone; records restore the state', () => {
  const enc = new OrderSequenceEncoder({ length: 4 });
  const meta = { source: 'orders/0' };
  const encode = (rows: ReturnType<typeof order>[]) => {
    const b = batchOf(OrderSchema, rows, { ...meta, partition: 0 });
    const dst = [new Float32Array(rows.length * 4 * EVENT_WIDTH)];
    for (let i = 0; i < rows.length; i++) enc.encode(b as never, i, dst, i);
    return dst[0];
  };
  encode(Array.from({ length: 30 }, (_, i) => order(i, `P${i % 10}`)));
  const recs = new ChangelogRecords(1_000_000);
  const state = () => new Map([['orders/0', { detector: enc.snapshot(), [POSITION_KEY]: '30' }]]);
  const first = recs.changes(state());
  const keyRecords = first.filter((m) => m.key.includes('|keys|'));
  assert.equal(keyRecords.length, 10, 'one record per participant × symbol key');
  assert.ok(first.every((m) => m.value !== null));
  // one key changes: only its record (with the symbol's, the order's and the position) is written
  encode([order(30, 'P3')]);
  const second = recs.changes(new Map([['orders/0', { detector: enc.snapshot(), [POSITION_KEY]: '31' }]]));
  assert.equal(second.filter((m) => m.key.includes('|keys|')).map((m) => m.key.split('|').pop()), ['P3\u0000AAPL']);
  assert.ok(second.length < 6, `only changed records written, got ${second.length}`);
  // a key that went (here: a fresh state without P0) is a tombstone
  const snap = enc.snapshot() as { keys: { '@keyed': [string, unknown][] } };
  const without = { ...snap, keys: { '@keyed': snap.keys['@keyed'].filter(([k]) => !k.startsWith('P0')) } };
  const third = recs.changes(new Map([['orders/0', { detector: without, [POSITION_KEY]: '31' }]]));
  assert.equal(third.map((m) => [m.key.split('|').pop(), m.value]), [['P0\u0000AAPL', null]]);

  // everything written, compacted (latest per key), put back together → same outputs
  const log = new Map<string, string>();
  for (const m of [...first, ...second]) if (m.value === null) log.delete(m.key); else log.set(m.key, m.value);
  const loaded = new ChangelogRecords(1_000_000).assemble('orders/0', log);
  assert.equal(loaded[POSITION_KEY], '31');
  const restored = new OrderSequenceEncoder({ length: 4 });
  restored.restore(loaded.detector);
  const next = [order(31, 'P3'), order(32, 'P7')];
  const a = encode(next);
  const b2 = batchOf(OrderSchema, next, { ...meta, partition: 0 });
  const dst = [new Float32Array(2 * 4 * EVENT_WIDTH)];
  for (let i = 0; i < 2; i++) restored.encode(b2 as never, i, dst, i);
  assert.equal(Array.from(dst[0]), Array.from(a), 'restored from per-key records, the encoder gives the same model inputs');
});

test('a single key whose state exceeds the record limit is a typed error naming stage and key', () => {
  const recs = new ChangelogRecords(2048);
  const big = { window: keyedEntries<unknown>([['alice', 'x'.repeat(5000)], ['bob', 1]]) };
  try { recs.changes(new Map([['orders/2', big]])); assert.unreachable('should throw'); } catch (e) {
    const err = e as { code: string; message: string };
    assert.equal(err.code, 'SLUICE_ERR_STATE_TOO_LARGE');
    assert.match(err.message, /stage 'window'/);
    assert.match(err.message, /key 'alice'/);
    assert.match(err.message, /orders\/2/);
  }
});

test.run();
