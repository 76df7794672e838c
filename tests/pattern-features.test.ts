/**
 * Pattern features (apps/surveillance/pattern-features.ts), the detector input meant to carry
 * across markets: no absolute size or price level enters them, a checkpoint restores them
 * exactly, and each pattern's act shows in its own feature.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import type { Batch } from '../src/batch.js';
import type { OrderEvent } from '../apps/demo/orderflow.js';
import { simulateAuction } from '../apps/surveillance/sim/auction-sim.js';
import { KeyedPatternFeatures, PatternFeatureEncoder, PatternFeatureNames, PatternFeatureCount } from '../apps/surveillance/pattern-features.js';
import { evidenceColumns } from '../bench/evidence-rule.js';

const sim = simulateAuction({ seed: 7, durationSec: 60 });

function run(events: OrderEvent[], f = new KeyedPatternFeatures(), from = 0, to = events.length): Float32Array[] {
  const b = evidenceColumns(events), out: Float32Array[] = [];
  for (let i = from; i < to; i++) { const e = events[i], k = `${e.participant}|${e.symbol}`; f.push(k, b, i); out.push(f.features(k, e.symbol).slice()); }
  return out;
}

test('no absolute level: sizes ×100 and prices ×10 give the same features', () => {
  const events = sim.events.slice(0, 20_000);
  const scaled = events.map((e) => ({ ...e, qty: e.qty * 100, ...(e.displayQty !== undefined ? { displayQty: e.displayQty * 100 } : {}), ...(e.price !== undefined ? { price: e.price * 10 } : {}) }));
  const a = run(events), b = run(scaled);
  let worst = 0;
  for (let i = 0; i < a.length; i++) for (let j = 0; j < PatternFeatureCount; j++) worst = Math.max(worst, Math.abs(a[i][j] - b[i][j]));
  assert.ok(worst < 1e-3, `largest difference ${worst}`);
  // and the features are not trivially constant
  const spread = PatternFeatureNames.filter((_, j) => new Set(a.map((r) => r[j].toFixed(3))).size > 1).length;
  assert.ok(spread >= 18, `only ${spread} of ${PatternFeatureCount} features vary on a minute of flow`);
});

test('a snapshot restored mid-stream gives the same features as an uninterrupted run', () => {
  const events = sim.events.slice(0, 12_000), cut = 6_000;
  const whole = run(events);
  const first = new KeyedPatternFeatures();
  run(events, first, 0, cut);
  const second = new KeyedPatternFeatures();
  second.restore(JSON.parse(JSON.stringify(first.snapshot())));
  const rest = run(events, second, cut);
  for (let i = 0; i < rest.length; i++) for (let j = 0; j < PatternFeatureCount; j++) {
    if (Math.abs(rest[i][j] - whole[cut + i][j]) > 1e-6) assert.unreachable(`event ${cut + i} feature ${PatternFeatureNames[j]}: ${rest[i][j]} after restore, ${whole[cut + i][j]} uninterrupted`);
  }
});

test('state is bounded: a flood of distinct symbols keeps at most maxKeys per store (keys, evidence rings, peer baselines)', () => {
  const f = new KeyedPatternFeatures({ maxKeys: 50 });
  const t = 1_700_000_000_000_000;
  const events: OrderEvent[] = Array.from({ length: 2000 }, (_, i) => ({ ts: t + i, venue: 'X', symbol: `S${i}`, orderId: `o${i}`, participant: `P${i % 7}`, side: 'B', type: 'NEW', qty: 100, price: 10 }));
  run(events, f);
  const s = f.stateStats();
  assert.ok(s.keys <= 150, `${s.keys} entries held`);
  assert.ok(s.evicted >= 3 * (2000 - 50) - 10, `${s.evicted} evicted`);
});

test('a self-trade shows as wash evidence and only on its key', () => {
  const t = 1_700_000_000_000_000;
  const ev = (p: string, x: Partial<OrderEvent>): OrderEvent => ({ ts: t, venue: 'X', symbol: 'S', orderId: 'o', participant: p, side: 'B', type: 'NEW', qty: 100, price: 10, ...x });
  const events = [
    ev('A', { ts: t, orderId: 'a1' }), ev('B', { ts: t + 10, orderId: 'b1', side: 'S' }),
    ev('A', { ts: t + 20, orderId: 'a1', type: 'EXEC', counterparty: 'A', execId: 'x1' }),
    ev('B', { ts: t + 30, orderId: 'b1', type: 'CANCEL' }),
  ];
  const rows = run(events), wash = PatternFeatureNames.indexOf('evWash');
  assert.is(rows[2][wash], 1);
  assert.is(rows[3][wash], 0);
});

test('the encoder writes one row of the features per event at its offset', () => {
  const enc = new PatternFeatureEncoder();
  const events = sim.events.slice(0, 50), b = evidenceColumns(events) as unknown as Batch<never>;
  const dst = [new Float32Array(events.length * PatternFeatureCount)];
  for (let i = 0; i < events.length; i++) enc.encode(b as never, i, dst, i);
  const ref = run(events);
  for (let i = 0; i < events.length; i++) assert.equal(Array.from(dst[0].subarray(i * PatternFeatureCount, (i + 1) * PatternFeatureCount)), Array.from(ref[i]));
});

test.run();
