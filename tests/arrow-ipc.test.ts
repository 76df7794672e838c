/**
 * The Arrow IPC sink: every topology's output written as an Arrow IPC file by `sluice run`,
 * then read back in Python with pyarrow (scripts/read-arrow.py, interpreter from
 * scripts/arrow-python.sh), must hold the same rows as the JSON lines output of the same run.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { arrowFormatOf, arrowIpcSink } from '../src/arrow-sink.js';
import { batchOf } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';
import { systemClock } from '../src/clock.js';

const root = fileURLToPath(new URL('../..', import.meta.url));
const dir = mkdtempSync(join(tmpdir(), 'sluice-arrow-'));
const python = execFileSync('bash', [join(root, 'scripts/arrow-python.sh')], { encoding: 'utf8' }).trim();

interface ReadBack { format: 'file' | 'stream'; fields: Record<string, string>; rows: number; batches: number; head: Record<string, unknown>[] }
const readBack = (path: string, head = 3): ReadBack => JSON.parse(execFileSync(python, [join(root, 'scripts/read-arrow.py'), path, String(head)], { encoding: 'utf8' }).replace(/\bNaN\b/g, 'null'));
const sluice = (args: string[]) => {
  const r = spawnSync(process.execPath, [join(root, 'dist/bin/sluice.js'), ...args], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  return r;
};
const jsonLines = (path: string) => readFileSync(path, 'utf8').split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, unknown>);

for (const [topology, columns] of [
  ['demo', ['key', 'windowStart', 'windowEnd', 'count']],
  ['surveillance', ['ts', 'participant', 'symbol', 'score', 'threshold', 'pattern']],
  ['timeseries', ['ts', 'value', 'series', 'score', 'alert']],
  ['personalization', ['ts', 'userId', 'items', 'modelVersion']],
] as const) {
  test(`${topology}: its output as an Arrow IPC file, read back by pyarrow, has the JSON run's rows and columns`, () => {
    const common = ['run', topology, '--events', '3000', '--seed', '2', '--dead-letters', 'none'];
    const arrowPath = join(dir, `${topology}.arrow`);
    const jsonPath = join(dir, `${topology}.out`);
    sluice([...common, '--output', arrowPath]);
    sluice([...common, '--output', jsonPath]);
    const got = readBack(arrowPath, 2);
    assert.equal(got.format, 'file');
    const expected = topology === 'timeseries' ? readFileSync(jsonPath, 'utf8').split('\n').filter(Boolean).length - 1 /* csv header */ : jsonLines(jsonPath).length;
    assert.ok(expected > 0, `${topology} wrote no rows`);
    assert.equal(got.rows, expected);
    for (const c of columns) assert.ok(c in got.fields, `column ${c} missing: ${Object.keys(got.fields).join(', ')}`);
    assert.is(got.fields.ts ?? got.fields.windowStart, 'double');
  });
}

test('demo: the Arrow values equal the JSON values, in the file and the stream format', () => {
  const common = ['run', 'demo', '--events', '2000', '--seed', '5', '--dead-letters', 'none'];
  sluice([...common, '--output', join(dir, 'd.jsonl')]);
  sluice([...common, '--output', join(dir, 'd.arrows')]);
  const json = jsonLines(join(dir, 'd.jsonl'));
  const got = readBack(join(dir, 'd.arrows'), 5);
  assert.equal(got.format, 'stream');
  assert.equal(got.rows, json.length);
  for (let i = 0; i < 5; i++) for (const [k, v] of Object.entries(json[i])) assert.equal(got.head[i][k], v, `row ${i} field ${k}`);
});

test('arrowIpcSink: batches in, one record batch each; an empty output still carries its schema; bad options are ConfigErrors', async () => {
  const schema = { id: 'str', x: 'f64', n: 'i32' } as const;
  const open = (path: string) => arrowIpcSink(schema, { path }).open({ name: 'out', clock: systemClock });
  const w = await open(join(dir, 'unit.arrow'));
  await w.write(batchOf(schema, [{ id: 'a', x: 1.5, n: 1 }, { id: 'b', x: Number.NaN, n: 2 }]));
  await w.write(batchOf(schema, []));
  await w.write(batchOf(schema, [{ id: 'é', x: -3, n: 3 }]));
  await w.close();
  const got = readBack(join(dir, 'unit.arrow'), 5);
  assert.equal(got.fields, { id: 'string', x: 'double', n: 'int32' });
  assert.equal(got.rows, 3);
  assert.equal(got.batches, 2, 'an empty batch writes nothing');
  assert.equal(got.head.map((r) => r.id), ['a', 'b', 'é']);
  assert.equal(got.head[1].x, null, 'NaN reads back as NaN (null after JSON)');
  const empty = await open(join(dir, 'empty.arrow'));
  await empty.close();
  const e = readBack(join(dir, 'empty.arrow'));
  assert.equal([e.rows, e.fields], [0, { id: 'string', x: 'double', n: 'int32' }]);
  assert.equal([arrowFormatOf('x.ARROW'), arrowFormatOf('x.feather'), arrowFormatOf('x.arrows'), arrowFormatOf('x.jsonl'), arrowFormatOf('-')], ['file', 'file', 'stream', null, null]);
  assert.throws(() => arrowIpcSink(schema, { path: '-', format: 'file' }), (err: unknown) => err instanceof ConfigError);
  assert.throws(() => arrowIpcSink(schema, { path: '' }), (err: unknown) => err instanceof ConfigError);
});

test.run();
