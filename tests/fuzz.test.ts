/**
 * Hostile input (issues #8, #15): a seeded corpus of 12,000 malformed order messages of 16
 * kinds mixed into 20,000 valid ones (some of them odd but valid: a nested far-future "ts",
 * U+FFFD, a __proto__ key, deep nesting, a BOM opening the file) through the surveillance
 * topology; time-series CSV rows and behaviour events the same way. Every bad record reaches
 * the dead-letter output with a code that names what is wrong and a reason, counted
 * exactly; every good one is processed; nothing crashes.
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
import { simulate } from '../apps/surveillance/sim/market.js';
import { BOM, corpusBytes, invalidUtf8Bytes, j, mixCorpus, VALID_ODDITIES } from '../apps/surveillance/sim/fuzz.js';
import { TopologyBuilder } from '../src/topology.js';
import { parse } from '../operators/parse.js';
import { timeseriesTopology } from '../apps/timeseries/topology.js';
import type { AlertSchema } from '../apps/surveillance/alerts.js';
import { surveillanceTopology } from '../apps/surveillance/topology.js';


test('12,000 malformed messages among 20,000 valid ones: every bad one dead-lettered with its code and a reason, every good one scored, no crash', async () => {
  const sim = simulate({ seed: 31, events: 20_000 });
  const good = sim.events.map((e) => ({ ...e }) as Record<string, unknown>);
  // extra fields are allowed by the contract: some valid messages carry them and must pass
  for (let i = 0; i < good.length; i += 7) good[i] = { ...good[i], extra: { nested: [1, 2, 3] }, comment: 'ok' };
  const BAD = 12_000;
  const lines = mixCorpus(good, BAD, 99);
  // odd but valid: each oddity on every 50th valid message, in turn
  let odd = 0;
  lines.forEach((l, i) => {
    if (l.bad || i % 50 !== 3) return;
    const o = VALID_ODDITIES[odd++ % VALID_ODDITIES.length].apply(JSON.parse(l.value) as Record<string, unknown>);
    l.value = typeof o === 'string' ? o : j(o);
  });
  const file = join(mkdtempSync(join(tmpdir(), 'sluice-fuzz-')), 'corpus.jsonl');
  // a byte-order mark opens the file (some editors and exporters write one): not part of the first record
  writeFileSync(file, Buffer.concat([BOM, corpusBytes(lines)]));
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
  assert.ok(odd >= 5 * VALID_ODDITIES.length, `${odd} odd-but-valid messages`);
  process.stdout.write(`\n  fuzz: ${BAD} malformed (${[...perKind].map(([k, n]) => `${k} ${n}`).join(', ')}) all dead-lettered with the right code; ${good.length} valid scored\n`);
});

const tmp = mkdtempSync(join(tmpdir(), 'sluice-fuzz-'));

test('time-series CSV: every hostile row dead-lettered with its code, every valid row scored, counted exactly', async () => {
  const T = Date.UTC(2026, 10, 1) * 1000;
  const stamp = (k: number) => new Date(T / 1000 + k * 60_000).toISOString().replace('T', ' ').slice(0, 19);
  const hostile: [string, Buffer | string, string][] = [
    ['impossible date', '2026-13-45 99:99:99,5', 'SLUICE_ERR_MALFORMED_CSV'],
    ['rolled-over day', '2026-02-30 00:00:00,5', 'SLUICE_ERR_MALFORMED_CSV'],
    ['24:00:00', '2026-11-01 24:00:00,5', 'SLUICE_ERR_MALFORMED_CSV'],
    ['hex value', `${stamp(1)},0x10`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['binary value', `${stamp(1)},0b101`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['octal value', `${stamp(1)},0o17`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['Infinity', `${stamp(1)},Infinity`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['NaN', `${stamp(1)},NaN`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['overflow', `${stamp(1)},1e999`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['empty value', `${stamp(1)},`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['unterminated quote', `"${stamp(1)},5`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['text after a quote', `"${stamp(1)}"x,5`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['three fields', `${stamp(1)},5,6`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['no comma', `${stamp(1)} 5`, 'SLUICE_ERR_MALFORMED_CSV'],
    ['words', 'hello,world', 'SLUICE_ERR_MALFORMED_CSV'],
    ['invalid UTF-8', Buffer.concat([Buffer.from(`${stamp(1)},`), Buffer.from([0xff, 0xfe])]), 'SLUICE_ERR_ENCODING'],
    ['over-long line', `${stamp(1)},${'9'.repeat(70_000)}`, 'SLUICE_ERR_RECORD_TOO_LARGE'],
  ];
  const parts: Buffer[] = [BOM, Buffer.from('timestamp,value\n')];
  const want = new Map<number, string>(); // line number (1-based) → code
  let line = 1, valid = 0;
  for (let k = 0; k < 3000; k++) {
    line++;
    // valid forms: plain, quoted, a leap day, epoch microseconds
    const v = (50 + 5 * Math.sin(k / 20)).toFixed(3);
    const row = k % 97 === 5 ? `"${stamp(k)}","${v}"` : k % 101 === 7 ? `${T + k * 60e6},${v}` : `${stamp(k)},${v}`;
    parts.push(Buffer.from(row + '\n')); valid++;
    if (k % 9 === 4) { const [, bytes, code] = hostile[(k / 9 | 0) % hostile.length]; line++; parts.push(Buffer.isBuffer(bytes) ? bytes : Buffer.from(bytes), Buffer.from('\n')); want.set(line, code); }
  }
  line++; parts.push(Buffer.from('2024-02-29 00:00:00,1\n')); valid++;
  const file = join(tmp, 'series.csv');
  writeFileSync(file, Buffer.concat(parts));
  const out = collectSink(), dead = collectSink<DeadLetterSchema>();
  await new Runtime(timeseriesTopology({ source: linesSource({ paths: [file], maxLineBytes: 65_536 }), output: out as never, deadLetters: dead })).run();
  assert.is(out.rows().length, valid, 'every valid row scored');
  // origin `path@offset`, offset the 0-based line: line numbers here are 1-based
  assert.ok(dead.rows().every((d) => d.origin.startsWith(`${file}@`)), dead.rows()[0]?.origin);
  const got = new Map(dead.rows().map((d) => [Number(/@(\d+)$/.exec(d.origin)![1]) + 1, d.code]));
  assert.is(dead.rows().length, want.size, `exactly ${want.size} dead letters`);
  const wrong = [...want].filter(([l, c]) => got.get(l) !== c).map(([l, c]) => `line ${l}: want ${c}, got ${got.get(l)}`);
  assert.equal(wrong, []);
  process.stdout.write(`  fuzz CSV: ${want.size} hostile rows of ${hostile.length} kinds dead-lettered with the right code; ${valid} valid scored\n`);
});

test('behaviour events: every hostile event dead-lettered with its code, every valid one parsed, counted exactly', async () => {
  const T = Date.UTC(2026, 10, 1) * 1000;
  const ok = (k: number) => ({ ts: T + k * 1000, userId: `u${k % 300}`, itemId: `i${k % 1000}`, action: ['view', 'click', 'like', 'rate'][k % 4], ...(k % 4 === 3 ? { value: 4 } : k % 4 === 0 ? { value: 0.5 } : {}) });
  const hostile: [string, (k: number) => Buffer | string, string][] = [
    ['missing userId', (k) => { const o: Record<string, unknown> = ok(k); delete o.userId; return j(o); }, 'SLUICE_ERR_SCHEMA'],
    ['empty itemId', (k) => j({ ...ok(k), itemId: '' }), 'SLUICE_ERR_SCHEMA'],
    ['unknown action', (k) => j({ ...ok(k), action: 'hover' }), 'SLUICE_ERR_SCHEMA'],
    ['ts as a date string', (k) => j({ ...ok(k), ts: '2026-11-01T00:00:00Z' }), 'SLUICE_ERR_SCHEMA'],
    ['negative ts', (k) => j({ ...ok(k), ts: -5 }), 'SLUICE_ERR_SCHEMA'],
    ['fractional ts', (k) => j({ ...ok(k), ts: 1.5 }), 'SLUICE_ERR_SCHEMA'],
    ['value as text', (k) => j({ ...ok(k), value: 'five' }), 'SLUICE_ERR_SCHEMA'],
    ['context not an object', (k) => j({ ...ok(k), context: 'mobile' }), 'SLUICE_ERR_SCHEMA'],
    ['value overflows', (k) => j({ ...ok(k), action: 'rate' }).replace(/\}$/, ',"value":1e999}'), 'SLUICE_ERR_NON_FINITE'],
    ['truncated', (k) => j(ok(k)).slice(0, 20), 'SLUICE_ERR_MALFORMED_JSON'],
    ['not an object', () => '["view"]', 'SLUICE_ERR_SCHEMA'],
    ['whitespace only', () => '  ', 'SLUICE_ERR_MALFORMED_JSON'],
    ['invalid UTF-8', () => Buffer.concat([Buffer.from('{"userId":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}')]), 'SLUICE_ERR_ENCODING'],
    ['megabyte event', (k) => j({ ...ok(k), context: { blob: 'x'.repeat(100_000) } }), 'SLUICE_ERR_RECORD_TOO_LARGE'],
  ];
  const lines: Buffer[] = [];
  const want = new Map<number, string>();
  let valid = 0;
  for (let k = 0; k < 5000; k++) {
    // odd but valid: context objects, unicode ids, U+FFFD
    const o = k % 13 === 0 ? { ...ok(k), context: { device: 'tv', locale: 'fr-FR' } } : k % 17 === 0 ? { ...ok(k), userId: `u\u00e9${k % 300}`, note: '\ufffd' } : ok(k);
    lines.push(Buffer.from(j(o))); valid++;
    if (k % 7 === 2) { const [, make, code] = hostile[(k / 7 | 0) % hostile.length]; want.set(lines.length, code); const b = make(k); lines.push(Buffer.isBuffer(b) ? b : Buffer.from(b)); }
  }
  const file = join(tmp, 'behaviour.jsonl');
  writeFileSync(file, Buffer.concat(lines.flatMap((l) => [l, Buffer.from('\n')])));
  const t = new TopologyBuilder('behaviour-fuzz');
  const parsed = t.source('events', linesSource({ paths: [file], maxLineBytes: 65_536 })).via('parse', parse({ format: 'json', contract: 'behavior-event', maxLineBytes: 65_536 }));
  const events = countSink(), dead = collectSink<DeadLetterSchema>();
  parsed.to('events-out', events as never);
  parsed.side('dead').to('dead', dead);
  await new Runtime(t.build()).run();
  assert.is(events.count, valid, 'every valid event parsed');
  assert.is(dead.rows().length, want.size, `exactly ${want.size} dead letters`);
  const got = new Map(dead.rows().map((d) => [Number(/(\d+)$/.exec(d.origin)![1]), d.code]));
  const wrong = [...want].filter(([l, c]) => got.get(l) !== c).map(([l, c]) => `offset ${l}: want ${c}, got ${got.get(l)}`);
  assert.equal(wrong, []);
  process.stdout.write(`  fuzz behaviour events: ${want.size} hostile of ${hostile.length} kinds dead-lettered with the right code; ${valid} valid parsed\n`);
});

test.run();
