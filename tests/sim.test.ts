import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { contractValidator } from '../src/contracts.js';
import { Patterns, simulate } from '../apps/surveillance/sim/market.js';

const sim = simulate({ seed: 3, events: 40_000, episodesPerPattern: 3, benignPerKind: 4 });

test('simulator: seeded and contract-valid', () => {
  const again = simulate({ seed: 3, events: 40_000, episodesPerPattern: 3, benignPerKind: 4 });
  assert.is(again.events.length, sim.events.length);
  assert.equal(again.episodes, sim.episodes);
  const ev = contractValidator('order-event'), ep = contractValidator('episode');
  for (const e of sim.events) assert.ok(ev(e), JSON.stringify(e));
  for (const e of sim.episodes) assert.ok(ep(e), JSON.stringify(e));
  assert.ok(sim.events.every((e, i, a) => i === 0 || a[i - 1].ts <= e.ts), 'time-ordered');
});

test('simulator: every pattern is present, and each episode is in the stream as labelled', () => {
  for (const p of Patterns) assert.is(sim.episodes.filter((e) => e.pattern === p).length, 3, p);
  for (const ep of sim.episodes) {
    const own = sim.events.filter((e) => e.participant === ep.participant && e.symbol === ep.symbol && e.ts >= ep.start && e.ts <= ep.end);
    assert.ok(own.some((e) => e.ts === ep.start) && own.some((e) => e.ts === ep.end), `${ep.pattern}: events at its start and end`);
    const n = (f: (e: (typeof own)[number]) => boolean) => own.filter(f).length;
    switch (ep.pattern) {
      case 'wash_trade': assert.ok(n((e) => e.type === 'EXEC' && e.counterparty === ep.participant) >= 4, 'self-matched executions'); break;
      case 'quote_stuffing': assert.ok(n((e) => e.type === 'NEW') >= 80 && n((e) => e.type === 'CANCEL') >= 80 && ep.end - ep.start < 1.1e6, 'burst of entries and cancels within a second'); break;
      case 'spoofing': case 'layering': assert.ok(n((e) => e.type === 'CANCEL') >= 1 && n((e) => e.type === 'EXEC') >= 1, 'cancels around an execution'); break;
      case 'pinging': assert.ok(n((e) => e.venue === 'XDARK' && (e.orderType === 'IOC' || e.orderType === 'MIDPOINT')) >= 15, 'dark probes'); break;
      case 'momentum_ignition': assert.ok(n((e) => e.orderType === 'MARKET' || e.orderType === 'IOC') >= 5, 'aggressive run'); break;
      case 'marking_the_close': assert.ok(sim.endUs - ep.start <= 60e6 + 1, 'in the last minute(s) of the session'); break;
    }
  }
});

test('simulator: hard negatives are opt-in, unlabelled, and leave the episodes as they were', () => {
  const hard = simulate({ seed: 3, events: 40_000, episodesPerPattern: 3, benignPerKind: 4, hardNegativesPerKind: 2 });
  assert.equal(hard.episodes, sim.episodes);
  assert.ok(hard.events.length > sim.events.length + 7 * 2 * 4, `${hard.events.length - sim.events.length} benign events added`);
  const members = (x: typeof sim) => x.events.filter((e) => e.participant.startsWith('MBR') && (e.orderType === 'MARKET' || e.orderType === 'IOC')).length;
  assert.ok(members(hard) > members(sim) + 10, 'more marketable member orders that belong to no episode');
});

test('simulator: members also trade benignly, outside any episode', () => {
  const inEpisode = (e: { participant: string; symbol: string; ts: number }) => sim.episodes.some((x) => x.participant === e.participant && x.symbol === e.symbol && e.ts >= x.start && e.ts <= x.end);
  const memberEvents = sim.events.filter((e) => e.participant.startsWith('MBR'));
  const benign = memberEvents.filter((e) => !inEpisode(e));
  assert.ok(benign.length > memberEvents.length * 0.1, `${benign.length} of ${memberEvents.length} member events are benign`);
});


test('LOBSTER background: participants assigned consistently per order, episodes injected, contract-valid', async () => {
  const { mkdtempSync, writeFileSync } = await import('node:fs');
  const { tmpdir } = await import('node:os');
  const { join } = await import('node:path');
  const { lobsterBackground } = await import('../apps/surveillance/sim/lobster.js');
  // LOBSTER message rows: time, type (1 new, 2 partial cancel, 3 delete, 4 exec, 5 hidden exec), id, size, price ×10⁴, direction
  const rows: string[] = [];
  let t = 34200;
  for (let i = 0; i < 3000; i++) {
    const id = 1000 + i, px = 5800000 + (i % 20) * 100, dir = i % 2 ? 1 : -1;
    rows.push(`${(t += 0.5).toFixed(6)},1,${id},100,${px},${dir}`);
    if (i % 3 === 0) rows.push(`${(t + 0.2).toFixed(6)},3,${id},100,${px},${dir}`); // deleted within a second
    else if (i % 3 === 1) rows.push(`${(t + 30).toFixed(6)},4,${id},100,${px},${dir}`);
    if (i % 50 === 0) rows.push(`${(t + 0.1).toFixed(6)},5,0,40,${px},${dir}`);
  }
  rows.sort((a, b) => Number(a.split(',')[0]) - Number(b.split(',')[0]));
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-lobster-')), 'TEST_2012-06-21_34200000_57600000_message_1.csv');
  writeFileSync(file, rows.join('\n') + '\n');
  const bg = lobsterBackground(file, { seed: 1 });
  assert.is(bg.length, rows.length);
  const owner = new Map<string, string>();
  for (const e of bg) {
    if (owner.has(e.orderId)) assert.is(owner.get(e.orderId), e.participant, `order ${e.orderId} keeps its participant`);
    owner.set(e.orderId, e.participant);
    if (e.type === 'EXEC') assert.ok(e.counterparty && e.counterparty !== e.participant);
  }
  assert.ok(bg.filter((e) => e.type === 'CANCEL').every((e) => e.participant.startsWith('HFT')), 'quick deletes belong to HFT accounts');
  assert.ok(bg.some((e) => e.venue === 'XDARK' && e.orderType === 'MIDPOINT'), 'hidden executions become dark fills');
  const injected = simulate({ seed: 5, background: bg, episodesPerPattern: 1, benignPerKind: 1 });
  assert.is(injected.episodes.length, Patterns.length);
  assert.ok(injected.events.every((e) => e.symbol === 'TEST'));
  const ev = contractValidator('order-event');
  for (const e of injected.events) assert.ok(ev(e), JSON.stringify(e));
  assert.ok(injected.events.length > bg.length);
});

test.run();
