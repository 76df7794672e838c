/**
 * Hostile input (issue #8): a seeded corpus of 12,000 malformed order messages mixed into
 * 20,000 valid ones through the surveillance topology. Every bad one reaches the
 * dead-letter output with a code that names what is wrong and a reason; every good one
 * is scored; nothing crashes. (Extra fields are valid: the order contract allows them.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawSchema } from '../src/io.js';
import type { DeadLetterSchema } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { collectSink, countSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { simulate } from '../src/sim/market.js';
import { rng } from '../src/demo/orderflow.js';
import type { AlertSchema } from '../operators/alerts.js';
import { surveillanceTopology } from '../topologies/surveillance.js';


type Mutation = { kind: string; code: string; make: (good: Record<string, unknown>, r: () => number) => string };
const j = (o: unknown) => JSON.stringify(o);
const without = (o: Record<string, unknown>, k: string) => { const c = { ...o }; delete c[k]; return c; };
const invalidUtf8 = Buffer.concat([Buffer.from('{"ts":1,"venue":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]).toString('utf8');

const MUTATIONS: Mutation[] = [
  { kind: 'truncated JSON', code: 'SLUICE_ERR_MALFORMED_JSON', make: (g, r) => { const s = j(g); return s.slice(0, 1 + Math.floor(r() * (s.length - 2))); } },
  { kind: 'not JSON', code: 'SLUICE_ERR_MALFORMED_JSON', make: (_, r) => ['hello', '{"ts":', '<xml/>', "{'ts': 1}", '{"ts":1,}', ''.padEnd(1 + Math.floor(r() * 40), '}')][Math.floor(r() * 6)] },
  { kind: 'NaN / Infinity literal', code: 'SLUICE_ERR_MALFORMED_JSON', make: (g, r) => j(g).replace(/"qty":\d+/, `"qty":${r() < 0.5 ? 'NaN' : '-Infinity'}`) },
  { kind: 'overflow to Infinity', code: 'SLUICE_ERR_NON_FINITE', make: (g) => j(g).replace(/"qty":\d+/, '"qty":1e999') },
  { kind: 'not an object', code: 'SLUICE_ERR_SCHEMA', make: (_, r) => ['[]', '42', '"order"', 'null', 'true', '[{"ts":1}]'][Math.floor(r() * 6)] },
  { kind: 'wrong type', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, ...[{ qty: 'ten' }, { ts: '2026-11-23' }, { symbol: 7 }, { price: [1] }, { participant: { id: 1 } }, { qty: 1.5 }][Math.floor(r() * 6)] }) },
  { kind: 'missing field', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j(without(g, ['ts', 'venue', 'symbol', 'orderId', 'participant', 'side', 'type', 'qty'][Math.floor(r() * 8)])) },
  { kind: 'negative size or price', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, ...(r() < 0.5 ? { qty: -1 - Math.floor(r() * 1e6) } : { price: -0.01 }) }) },
  { kind: 'absurd size', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, qty: r() < 0.5 ? 1e300 : 2 ** 60 }) },
  { kind: 'unknown enum', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, ...[{ side: 'X' }, { type: 'DELETE' }, { orderType: 'STOP' }, { side: 'b' }][Math.floor(r() * 4)] }) },
  { kind: 'empty strings', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, ...[{ symbol: '' }, { participant: '' }, { orderId: '' }][Math.floor(r() * 3)] }) },
  { kind: 'timestamp decades off', code: 'SLUICE_ERR_EVENT_TIME', make: (g, r) => j({ ...g, ts: r() < 0.5 ? 1_000_000 : (g.ts as number) + Math.round((20 + r() * 30) * 365 * 86_400e6) }) },
  { kind: 'megabyte payload', code: 'SLUICE_ERR_RECORD_TOO_LARGE', make: (g) => j({ ...g, note: 'x'.repeat(1_000_000) }) },
  { kind: 'invalid UTF-8', code: 'SLUICE_ERR_ENCODING', make: () => invalidUtf8 },
];

test('12,000 malformed messages among 20,000 valid ones: every bad one dead-lettered with its code and a reason, every good one scored, no crash', async () => {
  const r = rng(99);
  const sim = simulate({ seed: 31, events: 20_000 });
  const good = sim.events.map((e) => ({ ...e }) as Record<string, unknown>);
  // extra fields are allowed by the contract: some valid messages carry them and must pass
  for (let i = 0; i < good.length; i += 7) good[i] = { ...good[i], extra: { nested: [1, 2, 3] }, comment: 'ok' };
  const lines: { value: string; bad?: Mutation }[] = good.map((g) => ({ value: j(g) }));
  const BAD = 12_000;
  for (let k = 0; k < BAD; k++) {
    const m = MUTATIONS[k % MUTATIONS.length];
    // next to a real message, with its event time, so event-time checks have a neighbour to judge by
    const at = Math.floor(r() * lines.length);
    const near = good[Math.min(good.length - 1, Math.floor((at / lines.length) * good.length))];
    lines.splice(at, 0, { value: m.make(near, r), bad: m });
  }
  const decisions = countSink();
  const dead = collectSink<DeadLetterSchema>();
  const topology = surveillanceTopology({
    source: memorySource(RawSchema, [lines.map((l, i) => ({ key: '', value: l.value, offset: i, timestamp: 0 }))]),
    parse: { format: 'json', contract: 'order-event', maxLineBytes: 65_536, maxEventTimeSkewUs: 86_400e6 },
    alerts: countSink<AlertSchema>(), deadLetters: dead, decisions: decisions as never,
  });
  await new Runtime(topology).run();
  assert.equal(decisions.count, good.length, 'every valid message scored');
  assert.equal(dead.rows().length, BAD, 'every malformed message dead-lettered');
  // dead letters name their origin offset: pair each with the mutation that made it
  const deadRows = dead.rows();
  const byOffset = new Map(deadRows.map((d) => [Number(/(\d+)$/.exec(d.origin)![1]), d]));
  const wrong: string[] = [];
  const perKind = new Map<string, number>();
  lines.forEach((l, i) => {
    if (!l.bad) return;
    const d = byOffset.get(i);
    if (!d || d.code !== l.bad.code || !d.reason) wrong.push(`${l.bad.kind}: got ${d ? `${d.code} (${d.reason})` : 'no dead letter'} for ${l.value.slice(0, 80)}`);
    perKind.set(l.bad.kind, (perKind.get(l.bad.kind) ?? 0) + 1);
  });
  assert.equal(wrong.length, 0, wrong.slice(0, 5).join('\n'));
  assert.ok(deadRows.every((d) => d.payload.length <= 1100), 'dead-letter payloads are truncated, not copied whole');
  process.stdout.write(`\n  fuzz: ${BAD} malformed (${[...perKind].map(([k, n]) => `${k} ${n}`).join(', ')}) all dead-lettered with the right code; ${good.length} valid scored\n`);
});

test.run();
