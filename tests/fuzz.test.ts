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
import { mixCorpus } from '../src/sim/fuzz.js';
import type { AlertSchema } from '../operators/alerts.js';
import { surveillanceTopology } from '../topologies/surveillance.js';


test('12,000 malformed messages among 20,000 valid ones: every bad one dead-lettered with its code and a reason, every good one scored, no crash', async () => {
  const sim = simulate({ seed: 31, events: 20_000 });
  const good = sim.events.map((e) => ({ ...e }) as Record<string, unknown>);
  // extra fields are allowed by the contract: some valid messages carry them and must pass
  for (let i = 0; i < good.length; i += 7) good[i] = { ...good[i], extra: { nested: [1, 2, 3] }, comment: 'ok' };
  const BAD = 12_000;
  const lines = mixCorpus(good, BAD, 99);
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
