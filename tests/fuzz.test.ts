/**
 * Hostile input (issue #8): a seeded corpus of 12,000 malformed order messages mixed into
 * 20,000 valid ones through the surveillance topology. Every bad one reaches the
 * dead-letter output with a code that names what is wrong and a reason; every good one
 * is scored; nothing crashes. (Extra fields are valid: the order contract allows them.)
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { DeadLetterSchema } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { collectSink, countSink } from '../src/sinks.js';
import { linesSource } from '../src/sources.js';
import { simulate } from '../src/sim/market.js';
import { corpusBytes, invalidUtf8Bytes, mixCorpus } from '../src/sim/fuzz.js';
import type { AlertSchema } from '../operators/alerts.js';
import { surveillanceTopology } from '../topologies/surveillance.js';


test('12,000 malformed messages among 20,000 valid ones: every bad one dead-lettered with its code and a reason, every good one scored, no crash', async () => {
  const sim = simulate({ seed: 31, events: 20_000 });
  const good = sim.events.map((e) => ({ ...e }) as Record<string, unknown>);
  // extra fields are allowed by the contract: some valid messages carry them and must pass
  for (let i = 0; i < good.length; i += 7) good[i] = { ...good[i], extra: { nested: [1, 2, 3] }, comment: 'ok' };
  const BAD = 12_000;
  const lines = mixCorpus(good, BAD, 99);
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-fuzz-')), 'corpus.jsonl');
  writeFileSync(file, corpusBytes(lines));
  const decisions = countSink();
  const dead = collectSink<DeadLetterSchema>();
  const topology = surveillanceTopology({
    // through a real file and the lines source, so bytes that are not UTF-8 arrive as bytes
    source: linesSource({ paths: [file], maxLineBytes: 65_536 }),
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
  // dead letters keep records whole up to 64 KiB (replayable); a megabyte line keeps its first 64 KiB
  assert.ok(deadRows.every((d) => d.payload.length <= 65_536 + 32), 'dead-letter payloads are bounded');
  const utf8 = deadRows.filter((d) => d.code === 'SLUICE_ERR_ENCODING');
  assert.ok(utf8.length > 0 && utf8.every((d) => d.payloadEncoding === 'base64' && Buffer.from(d.payload, 'base64').equals(invalidUtf8Bytes)), 'invalid UTF-8 keeps its original bytes (base64)');
  process.stdout.write(`\n  fuzz: ${BAD} malformed (${[...perKind].map(([k, n]) => `${k} ${n}`).join(', ')}) all dead-lettered with the right code; ${good.length} valid scored\n`);
});

test.run();
