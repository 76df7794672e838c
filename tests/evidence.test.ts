/**
 * Pattern evidence (apps/surveillance/evidence.ts): each pattern's defining act is found in a
 * key's own flow, and its near miss is not; the alerts stage holds an alert until its pattern's
 * evidence comes, and lets it go (counted) when it does not.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { BatchBuilder, type Batch } from '../src/batch.js';
import { KeyedEvidence, type EvidenceInput, type EvidencePattern } from '../apps/surveillance/evidence.js';
import { alerts } from '../apps/surveillance/alerts.js';

const S = { ts: 'f64', participant: 'str', side: 'str', type: 'str', orderType: 'str', orderId: 'str', price: 'f64', qty: 'f64', displayQty: 'f64', counterparty: 'str', execId: 'str' } as const;
interface Ev { ts: number; side: 'B' | 'S'; type: string; orderType?: string; orderId: string; price?: number; qty: number; displayQty?: number; counterparty?: string; execId?: string; participant?: string }

function batch(evs: Ev[]): Batch<EvidenceInput> {
  const b = new BatchBuilder(S, evs.length);
  for (const e of evs) b.push({ participant: 'P1', orderType: 'LIMIT', price: NaN, displayQty: e.qty, counterparty: '', execId: '', ...e } as never);
  return b.finish({ partition: 0, ingestTime: 0 }) as unknown as Batch<EvidenceInput>;
}

/** the patterns with evidence after all of `evs` */
function found(evs: Ev[]): EvidencePattern[] {
  const k = new KeyedEvidence(), b = batch(evs);
  for (let i = 0; i < b.length; i++) k.push(`${b.columns.participant[i]}|X`, b, i);
  const e = k.evidence('P1|X');
  return (Object.keys(e) as EvidencePattern[]).filter((p) => e[p]);
}

const T = 1_700_000_000_000_000;
const ms = (n: number) => T + n * 1000;

test('wash trade: with itself, or one counterparty both ways; not two different ones', () => {
  assert.ok(found([{ ts: ms(0), side: 'B', type: 'EXEC', orderId: 'a', price: 10, qty: 100, counterparty: 'P1' }]).includes('wash_trade'));
  assert.ok(found([
    { ts: ms(0), side: 'B', type: 'EXEC', orderId: 'a', price: 10, qty: 100, counterparty: 'P7' },
    { ts: ms(500), side: 'S', type: 'EXEC', orderId: 'b', price: 10, qty: 100, counterparty: 'P7' },
  ]).includes('wash_trade'));
  assert.not.ok(found([
    { ts: ms(0), side: 'B', type: 'EXEC', orderId: 'a', price: 10, qty: 100, counterparty: 'P7' },
    { ts: ms(500), side: 'S', type: 'EXEC', orderId: 'b', price: 10, qty: 100, counterparty: 'P8' },
  ]).includes('wash_trade'));
});

test('spoofing and layering: resting size pulled just after a fill on the other side, 3x the traded size; not without the fill, not a requote of about the traded size, not an order entered after the fill', () => {
  const bait: Ev[] = [
    { ts: ms(0), side: 'B', type: 'NEW', orderId: 'big', price: 9.9, qty: 500 },
    { ts: ms(800), side: 'S', type: 'EXEC', orderId: 'sell', price: 10, qty: 100, counterparty: 'P9' },
    { ts: ms(900), side: 'B', type: 'CANCEL', orderId: 'big', price: 9.9, qty: 500 },
  ];
  assert.ok(found(bait).includes('spoofing') && found(bait).includes('layering'));
  assert.not.ok(found(bait.filter((e) => e.type !== 'EXEC')).includes('spoofing'), 'a cancel alone is not spoofing');
  assert.not.ok(found([bait[0], bait[1], { ...bait[2], qty: 50 }]).includes('spoofing'), 'pulling less than was filled');
  assert.not.ok(found([{ ...bait[0], qty: 200 }, bait[1], { ...bait[2], qty: 200 }]).includes('spoofing'), 'a market maker\'s requote: 2x the traded size');
  assert.not.ok(found([bait[1], { ...bait[0], ts: ms(850) }, bait[2]]).includes('spoofing'), 'entered after the fill: it was not resting when the trade happened');
  const partlyFilled: Ev = { ts: ms(100), side: 'B', type: 'EXEC', orderId: 'big', price: 9.9, qty: 50, counterparty: 'P9' };
  assert.not.ok(found([bait[0], partlyFilled, bait[1], bait[2]]).includes('spoofing'), 'the order traded: live liquidity, not bait');
  const away: Ev = { ts: ms(900), side: 'B', type: 'REPLACE', orderId: 'big', price: 9.5, qty: 500 };
  assert.ok(found([bait[0], bait[1], away]).includes('spoofing'), 'replaced away from the touch: pulled');
  assert.not.ok(found([bait[0], bait[1], { ...away, price: 9.95 }]).includes('spoofing'), 'replaced toward the touch, same size: not pulled');
  const quote: Ev = { ts: ms(10), side: 'S', type: 'NEW', orderId: 'ask', price: 10.1, qty: 400 };
  assert.not.ok(found([bait[0], quote, bait[1], bait[2]]).includes('spoofing'), 'quoting both sides (500 bid, 400 ask): a market maker, not one-sided pressure');
  assert.not.ok(found([bait[0], { ...bait[1], ts: ms(20_000) }, bait[2]]).includes('spoofing'), 'a fill 19 s after the cancel');
  assert.not.ok(found([bait[0], { ...bait[1], ts: ms(-6_000) }, bait[2]]).includes('spoofing'), 'a cancel 7 s after the fill');
});

test('quote stuffing: a flood of churn within a second; not the same messages spread over three', () => {
  const flood = (span: number): Ev[] => Array.from({ length: 30 }, (_, i) => ({ ts: ms((i * span) / 30), side: 'B', type: i % 2 ? 'CANCEL' : 'NEW', orderId: `o${i >> 1}`, price: 10, qty: 100 } as Ev));
  assert.ok(found(flood(500)).includes('quote_stuffing'));
  assert.not.ok(found(flood(3000)).includes('quote_stuffing'));
});

test('momentum ignition: a marketable run that moved the price, then the exit; not a run that moved nothing, not a run without an exit', () => {
  const run = (move: number, exit: boolean): Ev[] => [
    ...Array.from({ length: 4 }, (_, i) => [
      { ts: ms(i * 300), side: 'B', type: 'NEW', orderType: 'MARKET', orderId: `m${i}`, qty: 200 },
      { ts: ms(i * 300 + 1), side: 'B', type: 'EXEC', orderId: `m${i}`, price: 10 + i * move, qty: 200, counterparty: 'P9' },
    ] as Ev[]).flat(),
    ...(exit ? [{ ts: ms(3000), side: 'S', type: 'EXEC', orderId: 'x', price: 10.05, qty: 800, counterparty: 'P9' } as Ev] : []),
  ];
  assert.ok(found(run(0.01, true)).includes('momentum_ignition'));
  assert.ok(found(run(0.01, false)).includes('marking_the_close'), 'a run that moved the price is the close check\'s evidence');
  assert.not.ok(found(run(0, true)).includes('momentum_ignition'), 'flat fills: a retail burst that moves nothing');
  assert.not.ok(found(run(0.01, false)).includes('momentum_ignition'), 'no exit');
});

test('a limit order filled within 1 ms of entry counts as marketable', () => {
  const evs: Ev[] = [
    ...Array.from({ length: 3 }, (_, i) => [
      { ts: ms(i * 300), side: 'S', type: 'NEW', orderId: `l${i}`, price: 9.5, qty: 200 },
      { ts: ms(i * 300) + 400, side: 'S', type: 'EXEC', orderId: `l${i}`, price: 10 - i * 0.02, qty: 200, counterparty: 'P9' },
    ] as Ev[]).flat(),
    { ts: ms(2000), side: 'B', type: 'EXEC', orderId: 'x', price: 9.9, qty: 600, counterparty: 'P9' },
  ];
  assert.ok(found(evs).includes('momentum_ignition'));
  const slow = evs.map((e) => (e.type === 'EXEC' && e.side === 'S' ? { ...e, ts: e.ts + 5000 } : e));
  assert.not.ok(found(slow).includes('momentum_ignition'), 'filled 5 ms after entry: it rested');
});

test('pinging: hidden or IOC probes mostly unfilled; not probes that trade', () => {
  const probes = (filled: number): Ev[] => Array.from({ length: 4 }, (_, i) => [
    { ts: ms(i * 200), side: 'B', type: 'NEW', orderType: 'IOC', orderId: `p${i}`, qty: 100, displayQty: 0 },
    i < filled ? { ts: ms(i * 200 + 1), side: 'B', type: 'EXEC', orderId: `p${i}`, price: 10, qty: 100, counterparty: 'P9' } : { ts: ms(i * 200 + 1), side: 'B', type: 'CANCEL', orderId: `p${i}`, qty: 100 },
  ] as Ev[]).flat();
  assert.ok(found(probes(1)).includes('pinging'));
  assert.not.ok(found(probes(4)).includes('pinging'));
});

test('a feed that reports fills only on the resting side: the aggressor still sees its own run and exit', () => {
  // P1 lifts P9's offers three times, each higher, then sells into P8's bid: every EXEC belongs to the resting owner
  const evs: Ev[] = [
    ...Array.from({ length: 3 }, (_, i) => [
      { participant: 'P1', ts: ms(i * 300), side: 'B', type: 'NEW', orderType: 'MARKET', orderId: `m${i}`, qty: 200 },
      { participant: 'P9', ts: ms(i * 300 + 1), side: 'S', type: 'EXEC', orderId: `ask${i}`, price: 10 + i * 0.01, qty: 200, counterparty: 'P1', execId: `x${i}` },
    ] as Ev[]).flat(),
    { participant: 'P1', ts: ms(2000), side: 'S', type: 'NEW', orderType: 'MARKET', orderId: 'out', qty: 600 },
    { participant: 'P8', ts: ms(2001), side: 'B', type: 'EXEC', orderId: 'bid', price: 10.02, qty: 600, counterparty: 'P1', execId: 'x9' },
  ];
  const k = new KeyedEvidence(), b = batch(evs);
  for (let i = 0; i < b.length; i++) k.push(`${b.columns.participant[i]}|X`, b, i);
  assert.ok(k.evidence('P1|X').momentum_ignition, 'the run and the exit, from the counterparties\' fills');
  assert.not.ok(k.evidence('P9|X').momentum_ignition, 'the resting side did nothing marketable');
});

test('a feed that reports both sides under one execId counts each fill once', () => {
  const pair = (ts: number, buyer: string, seller: string, id: string): Ev[] => [
    { participant: seller, ts, side: 'S', type: 'EXEC', orderId: `${id}-s`, price: 10, qty: 100, counterparty: buyer, execId: id },
    { participant: buyer, ts, side: 'B', type: 'EXEC', orderId: `${id}-b`, price: 10, qty: 100, counterparty: seller, execId: id },
  ];
  const k = new KeyedEvidence(), b = batch([...pair(ms(0), 'P1', 'P7', 'e1'), ...pair(ms(500), 'P7', 'P1', 'e2')]);
  for (let i = 0; i < b.length; i++) k.push(`${b.columns.participant[i]}|X`, b, i);
  assert.ok(k.evidence('P1|X').wash_trade);
  assert.is(k.measure.wash_trade, 1, 'one matched round trip, not two');
});

test('old events leave the evidence window; a snapshot restores the same evidence', () => {
  const k = new KeyedEvidence(), b = batch([
    { ts: ms(0), side: 'B', type: 'EXEC', orderId: 'a', price: 10, qty: 100, counterparty: 'P1' },
    { ts: ms(40_000), side: 'B', type: 'NEW', orderId: 'b', price: 10, qty: 100 },
  ]);
  k.push('K', b, 0);
  assert.ok(k.evidence('K').wash_trade);
  const copy = new KeyedEvidence();
  copy.restore(JSON.parse(JSON.stringify(k.snapshot())));
  assert.ok(copy.evidence('K').wash_trade, 'restored');
  k.push('K', b, 1);
  assert.not.ok(k.evidence('K').wash_trade, 'a self-trade 40 s ago is outside the 30 s window');
});

// the alerts stage: held until the named pattern's evidence comes
const A = { ...S, symbol: 'str', venue: 'str', score: 'f64', threshold: 'f64', alert: 'f64', label: 'str', model: 'str' } as const;
function row(e: Ev, alert = 0, label = 'normal') {
  return { participant: 'P1', symbol: 'X', venue: 'LIT', orderType: 'LIMIT', price: NaN, displayQty: e.qty, counterparty: '', execId: '', score: alert ? 0.99 : 0.1, threshold: 0.9, alert, label, model: 'm@1', ...e };
}

test('alerts: a held alert is sent when its evidence comes, stamped with that event; one whose evidence never comes is let go and counted', () => {
  const unconfirmed = new Map<string, number>();
  const h = new OperatorHarness(alerts({ evidence: {}, unconfirmed }), { input: A } as never) as unknown as OperatorHarness<typeof A, never>;
  const keys = (n: number) => Array.from({ length: n }, () => 'P1|X');
  // a wash-trade alert on a plain order: held; the self-trade 2 s later confirms it
  const first = [row({ ts: ms(0), side: 'B', type: 'NEW', orderId: 'a', price: 10, qty: 100 }, 1, 'wash_trade'),
    row({ ts: ms(2000), side: 'B', type: 'EXEC', orderId: 'a', price: 10, qty: 100, counterparty: 'P1' })];
  h.push(first as never, { keys: keys(2) });
  let out = h.outputs.flatMap((b) => b.rows()) as unknown as { ts: number; pattern: string; score: number; evidence: string; evidenceValue: number }[];
  assert.is(out.length, 1);
  assert.is(out[0].pattern, 'wash_trade');
  assert.equal([out[0].evidence, out[0].evidenceValue], ['selfOrMatchedTrades', 1], 'the evidence is the alert\'s explanation');
  assert.is(out[0].ts, ms(2000), 'stamped with the confirming event');
  assert.is(out[0].score, 0.99, 'the alerting row\'s score');
  // a spoofing alert with no fill on the other side within the hold: let go
  const later = [row({ ts: ms(60_000), side: 'B', type: 'NEW', orderId: 'b', price: 10, qty: 100 }, 1, 'spoofing'),
    row({ ts: ms(65_000), side: 'B', type: 'CANCEL', orderId: 'b', qty: 100 }),
    row({ ts: ms(71_000), side: 'B', type: 'NEW', orderId: 'c', price: 10, qty: 100 })];
  h.push(later as never, { keys: keys(3) });
  out = h.outputs.flatMap((b) => b.rows()) as never;
  assert.is(out.length, 1, 'no spoofing alert');
  assert.equal([...unconfirmed], [['spoofing', 1]]);
});

test('alerts: held alerts of a key that went quiet are let go and counted by the watermark, by the state bound and at end of input', () => {
  const unconfirmed = new Map<string, number>();
  const h = new OperatorHarness(alerts({ evidence: {}, unconfirmed, state: { maxKeys: 2 } }), { input: A } as never) as unknown as OperatorHarness<typeof A, never>;
  const spoofAlert = (ts: number, p: string) => ({ ...row({ ts, side: 'B', type: 'NEW', orderId: p, price: 10, qty: 100 }, 1, 'spoofing'), participant: p });
  h.push([spoofAlert(ms(0), 'P1')] as never, { keys: ['P1|X'] });
  h.watermark(ms(5_000));
  assert.equal([...unconfirmed], [], 'within the hold: still waiting');
  h.watermark(ms(10_500));
  assert.equal([...unconfirmed], [['spoofing', 1]], 'the hold passed with no event of the key');
  // two keys held, a third evicts the oldest: its alert is counted, not lost
  h.push([spoofAlert(ms(11_000), 'P2'), spoofAlert(ms(11_001), 'P3'), spoofAlert(ms(11_002), 'P4')] as never, { keys: ['P2|X', 'P3|X', 'P4|X'] });
  assert.equal([...unconfirmed], [['spoofing', 2]], 'the key bound dropped P2 with its held alert');
  h.close();
  assert.equal([...unconfirmed], [['spoofing', 4]], 'end of input: the rest let go and counted');
  assert.is(h.outputs.flatMap((b) => b.rows()).length, 0);
});

test('alerts: an alert whose named pattern has no evidence but another has is sent under the other\'s name', () => {
  const h = new OperatorHarness(alerts({ evidence: {} }), { input: A } as never) as unknown as OperatorHarness<typeof A, never>;
  h.push([row({ ts: ms(0), side: 'B', type: 'EXEC', orderId: 'a', price: 10, qty: 100, counterparty: 'P1' }, 1, 'momentum_ignition')] as never, { keys: ['P1|X'] });
  const out = h.outputs.flatMap((b) => b.rows()) as unknown as { pattern: string }[];
  assert.equal(out.map((a) => a.pattern), ['wash_trade']);
});

test('alerts: without the evidence option every thresholded alert is sent at once', () => {
  const h = new OperatorHarness(alerts({}), { input: A } as never) as unknown as OperatorHarness<typeof A, never>;
  h.push([row({ ts: ms(0), side: 'B', type: 'NEW', orderId: 'a', price: 10, qty: 100 }, 1, 'spoofing')] as never, { keys: ['P1|X'] });
  assert.is(h.outputs.flatMap((b) => b.rows()).length, 1);
});

test.run();
