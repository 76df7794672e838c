import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawSchema } from '../src/io.js';
import type { DeadLetterSchema } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { rng } from '../apps/demo/orderflow.js';
import { seriesCsv, timeseriesTopology, type SeriesOut } from '../apps/timeseries/topology.js';

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
  assert.is(rows[4200].alert, 1, 'the level shift');
  const quiet = rows.slice(200, 1400).filter((x) => x.alert).length;
  assert.ok(quiet <= 12, `${quiet} alerts in a quiet stretch of 1200 rows`);
  const csv = seriesCsv();
  const b = out.batches[0];
  assert.match(csv(b, 0), /^timestamp,value,anomaly_score,label\n2026-01-01 00:00:00,/);
  assert.match(csv(b, 1), /^2026-01-01 00:01:00,[0-9.]+,[0-9.]+,[01]$/);
});

test.run();
