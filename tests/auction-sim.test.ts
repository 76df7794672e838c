import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { contractValidator } from '../src/contracts.js';
import { Patterns } from '../apps/surveillance/sim/market.js';
import { simulateAuction } from '../apps/surveillance/sim/auction-sim.js';
import { SymbolBook, type Fill } from '../apps/surveillance/sim/auction-book.js';
import type { OrderEvent } from '../apps/demo/orderflow.js';
import { naiveCancelRule } from '../bench/eval-generalization.js';

const sim = simulateAuction({ seed: 7, durationSec: 240, episodesPerPattern: 3 });

test('auction family: seeded, contract-valid, time-ordered', () => {
  const again = simulateAuction({ seed: 7, durationSec: 240, episodesPerPattern: 3 });
  assert.is(again.events.length, sim.events.length);
  assert.equal(again.episodes, sim.episodes);
  assert.equal(again.archetypes, sim.archetypes);
  const ev = contractValidator('order-event'), ep = contractValidator('episode');
  for (const e of sim.events) assert.ok(ev(e), JSON.stringify(e));
  for (const e of sim.episodes) assert.ok(ep(e), JSON.stringify(e));
  assert.ok(sim.events.every((e, i, a) => i === 0 || a[i - 1].ts <= e.ts), 'time-ordered');
  assert.ok(sim.events.every((e) => e.ts >= sim.startUs && e.ts <= sim.endUs), 'inside the session');
});

test('auction family: every execution comes from matching, both sides named, one trade id', () => {
  const byExec = new Map<string, OrderEvent[]>();
  for (const e of sim.events) if (e.type === 'EXEC') (byExec.get(e.execId!) ?? byExec.set(e.execId!, []).get(e.execId!)!).push(e);
  assert.ok(byExec.size > 1000, `${byExec.size} trades`);
  for (const [id, pair] of byExec) {
    assert.is(pair.length, 2, id);
    const [a, b] = pair;
    assert.ok(a.side !== b.side && a.price === b.price && a.qty === b.qty && a.counterparty === b.participant && b.counterparty === a.participant, JSON.stringify(pair));
  }
  // account names say nothing of what an account is
  assert.ok(Object.keys(sim.archetypes).every((p) => /^P\d{5}$/.test(p)));
});

test('auction family: every pattern is present and shaped as named; hard negatives are there too', () => {
  for (const p of Patterns) assert.ok(sim.episodes.filter((e) => e.pattern === p).length >= 3, p);
  for (const ep of sim.episodes) {
    assert.is(sim.archetypes[ep.participant], 'manipulator');
    const own = sim.events.filter((e) => e.participant === ep.participant && e.symbol === ep.symbol && e.ts >= ep.start && e.ts <= ep.end);
    const n = (f: (e: OrderEvent) => boolean) => own.filter(f).length;
    switch (ep.pattern) {
      case 'quote_stuffing': assert.ok(n((e) => e.type === 'NEW' || e.type === 'REPLACE') >= 70, 'a burst of entries or amendments'); break;
      case 'layering': assert.ok(n((e) => e.type === 'NEW') >= 4, 'several layers'); break;
      case 'pinging': assert.ok(n((e) => e.displayQty === 0 && e.orderType === 'IOC') >= 1, 'dark IOC probes'); break;
      case 'marking_the_close': assert.ok(sim.endUs - ep.end <= 3e6 + 1 && sim.endUs - ep.start <= 90e6 + 1, 'ends in the last seconds'); break;
    }
  }
  const by = (kind: string, f: (e: OrderEvent) => boolean) => sim.events.filter((e) => sim.archetypes[e.participant] === kind && f(e)).length;
  const mmNew = by('market-maker', (e) => e.type === 'NEW' || e.type === 'REPLACE'), mmExec = by('market-maker', (e) => e.type === 'EXEC');
  assert.ok(mmExec < mmNew * 0.6, `market makers trade a fraction of what they quote (${mmExec} fills, ${mmNew} quotes)`);
  assert.ok(by('retail', (e) => e.orderType === 'MARKET') > 500, 'retail market orders');
  assert.ok(by('router', (e) => e.orderType === 'IOC' && e.displayQty === 0) > 50, 'routers probe the dark pool');
});

test('auction book: price-time priority, partial fills, IOC rest cancelled, replace loses priority', () => {
  const out: OrderEvent[] = [], fills: Fill[] = [];
  let x = 0;
  const b = new SymbolBook('T', 1000, out, { lit: 'L', dark: 'D' }, () => `e${++x}`, (f) => fills.push(f));
  b.limit(1, 'a', 'a1', 'S', 1001, 100);
  b.limit(2, 'b', 'b1', 'S', 1001, 100);
  b.limit(3, 'c', 'c1', 'S', 1002, 100);
  b.replace(4, 'a1', 1001, 100); // a goes behind b at 1001
  b.limit(5, 'd', 'd1', 'B', 1001, 150, { ioc: true });
  assert.equal(fills.map((f) => [f.passive, f.qty]), [['b', 100], ['a', 50]]);
  assert.is(out.at(-1)!.type, 'EXEC', 'IOC filled whole: no cancel');
  b.market(6, 'e', 'e1', 'B', 300);
  assert.equal(fills.slice(2).map((f) => [f.passive, f.ticks, f.qty]), [['a', 1001, 50], ['c', 1002, 100]]);
  assert.equal([out.at(-1)!.type, out.at(-1)!.qty], ['CANCEL', 150], 'the unfilled rest of a market order is cancelled');
  assert.is(b.bestAsk(), undefined);
  assert.ok(b.cancel(7, 'zz') === false);
});

test('naive cancel rule: one alert per participant-symbol-minute, at its Nth cancel', () => {
  const ev = (ts: number, p = 'x'): OrderEvent => ({ ts, venue: 'L', symbol: 'S', orderId: 'o', participant: p, side: 'B', type: 'CANCEL', qty: 1 });
  const a = naiveCancelRule([ev(1), ev(2), ev(3), ev(4), ev(61e6), ev(62e6), ev(63e6, 'y')], 2);
  assert.equal(a.map((x) => [x.participant, x.ts]), [['x', 2], ['x', 62e6]]);
});

test.run();
