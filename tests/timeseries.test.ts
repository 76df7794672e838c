import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawSchema } from '../src/io.js';
import type { DeadLetterSchema } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { rng } from '../apps/demo/orderflow.js';
import { parseTimestamp, seriesCsv, timeseriesTopology, type SeriesOut } from '../apps/timeseries/topology.js';

test('timeseries: same rows out, in order, with scores; spikes and a level shift labelled; quiet stretches not', async () => {
  const r = rng(9);
  const lines = ['timestamp,value'];
  const spikes = new Set([1500, 2600, 3700]);
  for (let i = 0; i < 5000; i++) {
    let v = 50 + 10 * Math.sin(i / 200) + (r() - 0.5) * 2;
    if (spikes.has(i)) v += 40;
    if (i >= 4200) v += 25;
    lines.push(`${new Date(Date.UTC(2026, 0, 1) + i * 60_000).toISOString().slice(0, 19).replace('T', ' ')},${v.toFixed(3)}`);
  }
  lines.splice(2000, 0, '2026-01-02 09:20:00,not-a-number', 'garbage');
  const raw = lines.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }));
  const out = collectSink<SeriesOut>();
  const dead = collectSink<DeadLetterSchema>();
  await new Runtime(timeseriesTopology({ source: memorySource(RawSchema, [raw], { batchSize: 256 }), output: out, deadLetters: dead })).run();
  const rows = out.rows();
  assert.is(rows.length, 5000, 'every good row out');
  assert.is(dead.rows().length, 2);
  assert.ok(dead.rows().every((d) => d.code === 'SLUICE_ERR_MALFORMED_CSV'));
  const good = lines.filter((l, i) => i > 0 && !l.includes('not-a-number') && l !== 'garbage');
  assert.ok(rows.every((row, i) => row.line === good[i]), 'input order kept, rows unchanged');
  assert.ok(rows.every((row) => row.score >= 0 && row.score <= 1));
  for (const s of spikes) assert.is(rows[s].alert, 1, `spike at ${s}`);
  // a level shift shows in the context a row at a time (one value of eight, then two, …)
  assert.ok(rows.slice(4200, 4208).some((x) => x.alert === 1), 'the level shift, within 8 rows');
  const quiet = rows.slice(200, 1400).filter((x) => x.alert).length;
  assert.ok(quiet <= 12, `${quiet} alerts in a quiet stretch of 1200 rows`);
  const csv = seriesCsv();
  const b = out.batches[0];
  assert.match(csv(b, 0), /^timestamp,value,anomaly_score,label\n2026-01-01 00:00:00,/);
  assert.match(csv(b, 1), /^2026-01-01 00:01:00,[0-9.]+,[0-9.]+,[01]$/);
});

test('timestamps: ISO 8601 with zones, YYYY-MM-DD HH:MM:SS, epoch s/ms/µs by digit count or stated; impossible dates refused', () => {
  const at = Date.UTC(2024, 0, 1, 1, 0, 2) * 1000; // 2024-01-01 01:00:02 UTC, µs
  assert.is(parseTimestamp('2024-01-01T01:00:02Z'), at);
  assert.is(parseTimestamp('2024-01-01 01:00:02'), at);
  assert.is(parseTimestamp('2024-01-01T03:00:02+02:00'), at);
  assert.is(parseTimestamp('2024-01-01T03:00:02+0200'), at);
  assert.is(parseTimestamp('2023-12-31T20:00:02-05:00'), at);
  assert.is(parseTimestamp('2024-01-01T01:00:02.250Z'), at + 250_000);
  assert.is(parseTimestamp('1704070802'), at, 'epoch seconds (10 digits)');
  assert.is(parseTimestamp('1704070802000'), at, 'epoch ms (13 digits)');
  assert.is(parseTimestamp('1704070802000000'), at, 'epoch µs (16 digits)');
  assert.is(parseTimestamp('1704070802.5'), at + 500_000, 'decimal seconds');
  assert.is(parseTimestamp('1704070802', 'ms'), 1704070802 * 1000, 'a stated unit wins');
  for (const bad of ['2024-13-45 99:99:99', '2023-02-29 00:00:00', '2024-04-31 12:00:00', '2024-01-01 24:00:00', '2024-01-01T01:00:02+25:00', '12345', '123456789012345678', 'yesterday', '2024-01-01']) {
    assert.throws(() => parseTimestamp(bad), undefined, bad);
  }
  assert.is(parseTimestamp('2024-02-29 00:00:00'), Date.UTC(2024, 1, 29) * 1000, 'a leap day');
});

test('an impossible date is a dead letter with its reason, and the rows around it are scored', async () => {
  const lines = ['timestamp,value', '2024-01-01T00:00:00Z,1', '2024-13-45 99:99:99,2', '1704070800,3', '12345,4', '2024-01-01 00:10:00,5'];
  const raw = lines.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }));
  const out = collectSink<SeriesOut>(), dead = collectSink<DeadLetterSchema>();
  await new Runtime(timeseriesTopology({ source: memorySource(RawSchema, [raw]), output: out, deadLetters: dead })).run();
  assert.equal(out.rows().map((r) => r.value), [1, 3, 5]);
  assert.equal(dead.rows().map((d) => d.code), ['SLUICE_ERR_MALFORMED_CSV', 'SLUICE_ERR_MALFORMED_CSV']);
  assert.match(dead.rows()[0].reason, /not a real time/);
  assert.match(dead.rows()[1].reason, /cannot be told apart/);
});

test.run();
