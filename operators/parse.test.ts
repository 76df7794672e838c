import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { rawLines } from '../src/sources.js';
import { ConfigError } from '../src/errors.js';
import { inputContract, parse } from './parse.js';

const good = { ts: 1_700_000_000_000_000, venue: 'XLIT', symbol: 'AAPL', orderId: 'o1', participant: 'MM1', side: 'B', type: 'NEW', price: 101.5, qty: 100 };
const json = (o: object) => JSON.stringify(o);
const run = (lines: string[], cfg: Parameters<typeof parse>[0] = { format: 'json', contract: 'order-event' }) => {
  const h = new OperatorHarness(parse(cfg));
  h.push(rawLines(lines));
  return { out: h.output() as Record<string, unknown>[], dead: h.side('dead') };
};

test('valid JSON order events become typed columns; extra fields are passed over; defaults fill absent optionals', () => {
  const { out, dead } = run([json({ ...good, extra: { nested: true } })]);
  assert.equal(dead, []);
  assert.equal(out.length, 1);
  assert.equal(out[0].ts, good.ts);
  assert.equal(out[0].orderType, 'LIMIT');
  assert.ok(Number.isNaN(out[0].seq));
  assert.equal(out[0].counterparty, '');
});

test('every kind of bad record is dead-lettered with a code and a reason naming the field; good ones flow', () => {
  const cases: [string, string, RegExp][] = [
    ['{"ts": 1,', 'SLUICE_ERR_MALFORMED_JSON', /invalid JSON/],
    [json({ ...good, qty: undefined }), 'SLUICE_ERR_SCHEMA', /missing required field 'qty'/],
    [json({ ...good, qty: -5 }), 'SLUICE_ERR_SCHEMA', /field 'qty' must be >= 0/],
    [json({ ...good, qty: 1.5 }), 'SLUICE_ERR_SCHEMA', /field 'qty' must be integer/],
    [json({ ...good, side: 'X' }), 'SLUICE_ERR_SCHEMA', /field 'side' must be one of B, S/],
    [json({ ...good, ts: 'yesterday' }), 'SLUICE_ERR_SCHEMA', /field 'ts' must be integer/],
    [json({ ...good }).replace('101.5', '1e999'), 'SLUICE_ERR_NON_FINITE', /field 'price' is not a finite number/],
    ['[1,2,3]', 'SLUICE_ERR_SCHEMA', /must be a JSON object/],
    ['null', 'SLUICE_ERR_SCHEMA', /must be a JSON object/],
    [json({ ...good, pad: 'x'.repeat(2000) }), 'SLUICE_ERR_RECORD_TOO_LARGE', /exceeds maxLineBytes 1000/],
  ];
  const lines = cases.flatMap(([l]) => [l, json(good)]);
  const { out, dead } = run(lines, { format: 'json', contract: 'order-event', maxLineBytes: 1000 });
  assert.equal(out.length, cases.length, 'every good record passes');
  assert.equal(dead.length, cases.length, 'every bad record is dead-lettered');
  cases.forEach(([, code, reason], i) => {
    assert.equal(dead[i].code, code, `case ${i}`);
    assert.match(dead[i].reason as string, reason);
    assert.equal(dead[i].origin, `partition-0@${2 * i}`);
    assert.equal(dead[i].stage, 'test-parse');
  });
  // dead letters keep the whole record (up to 64 KiB) so it can be recovered and replayed
  assert.equal(dead[9].payload, lines[18]);
  assert.equal(dead[9].payloadEncoding, 'utf8');
});

test('U+FFFD is a valid character; a leading byte-order mark is not part of the record', () => {
  const { out, dead } = run([json({ ...good, venue: 'bad\uFFFD' }), '\uFEFF' + json(good)]);
  assert.equal(dead, []);
  assert.equal(out.map((r) => r.venue), ['bad\uFFFD', 'XLIT']);
});

test('records the source could not hand over as text (invalid UTF-8, tombstones) are dead-lettered with their original bytes', () => {
  const h = new OperatorHarness(parse({ format: 'json', contract: 'order-event' }));
  const b = rawLines(['', json(good), '']);
  const bytes = Buffer.from([0x7b, 0xff, 0xfe, 0x7d]);
  h.push(b.withMeta({ rawIssues: [
    { code: 'SLUICE_ERR_ENCODING', reason: 'invalid UTF-8', payload: bytes.toString('base64'), payloadEncoding: 'base64' },
    null,
    { code: 'SLUICE_ERR_EMPTY_RECORD', reason: 'tombstone: the record has a null value', payload: '', payloadEncoding: 'utf8' },
  ] }));
  const dead = h.side('dead');
  assert.equal(h.output().length, 1);
  assert.equal(dead.map((d) => d.code), ['SLUICE_ERR_ENCODING', 'SLUICE_ERR_EMPTY_RECORD']);
  assert.equal(Buffer.from(dead[0].payload as string, 'base64'), bytes);
  assert.equal(dead[0].payloadEncoding, 'base64');
  assert.equal(dead[1].origin, 'partition-0@2');
});

test('CSV with a header, quoted cells and a wrong column count', () => {
  const { out, dead } = run([
    'ts,venue,symbol,orderId,participant,side,type,price,qty',
    '1000,XLIT,"AA,PL",o1,p,B,NEW,10.5,100',
    '1001,XLIT,AAPL,o2,p,S,NEW,,100',
    '1002,XLIT,AAPL,o3,p,S',
    '1003,XLIT,AAPL,o4,p,S,NEW,abc,100',
  ], { format: 'csv', contract: 'order-event', header: true });
  assert.equal(out.map((r) => r.symbol), ['AA,PL', 'AAPL']);
  assert.ok(Number.isNaN(out[1].price), 'an empty cell is an absent optional field');
  assert.equal(dead.map((d) => d.code), ['SLUICE_ERR_MALFORMED_CSV', 'SLUICE_ERR_SCHEMA']);
  assert.match(dead[1].reason as string, /field 'price' must be number/);
});

test('LOBSTER message rows (excerpt of AMZN 2012-06-21, LOBSTER sample files) map onto order events', () => {
  const lines = [
    '34200.017459617,5,0,1,2238200,-1',
    '34200.18960767,1,11885113,21,2238100,1',
    '34200.190226476,3,11885113,21,2238100,1',
    '34200.19050842,4,11534792,26,2237500,1',
    '34200.201732,2,12000000,10,2239000,-1',
    '34200.3,9,1,1,1,1',
    '34200.3,1,1,1',
  ];
  const { out, dead } = run(lines, { format: 'lobster', symbol: 'AMZN', dateUs: Date.UTC(2012, 5, 21) * 1000 });
  assert.equal(out.map((r) => r.type), ['EXEC', 'NEW', 'CANCEL', 'EXEC', 'CANCEL']);
  assert.equal(out[1].price, 223.81);
  assert.equal(out[1].side, 'B');
  assert.equal(out[0].side, 'S');
  assert.equal(out[0].displayQty, 0, 'hidden execution');
  assert.equal(out[1].ts, Date.UTC(2012, 5, 21) * 1000 + 34200189608);
  assert.equal(out[0].participant, 'anon');
  assert.equal(dead.map((d) => d.code), ['SLUICE_ERR_SCHEMA', 'SLUICE_ERR_MALFORMED_CSV']);
});

test('behaviour events parse against their own contract', () => {
  const { out, dead } = run([
    json({ ts: 5, userId: 'u1', itemId: 'i9', action: 'click' }),
    json({ ts: 6, userId: 'u1', itemId: 'i9', action: 'teleport' }),
  ], { format: 'json', contract: 'behavior-event' });
  assert.equal(out.map((r) => r.itemId), ['i9']);
  assert.match(dead[0].reason as string, /field 'action' must be one of/);
});

test('configuration is validated', () => {
  assert.throws(() => parse({ format: 'xml' } as never), /options.format must be 'json', 'csv' or 'lobster'/);
  assert.throws(() => parse({ format: 'lobster', symbol: '', dateUs: 0 }), /options.symbol is required/);
  assert.throws(() => parse({ format: 'json', contract: 'order-event', nope: 1 } as never), /unknown option 'nope'/);
  assert.throws(() => parse({ format: 'csv', contract: 'order-event', header: false }), /needs options.columns or options.header/);
});

test("a team's own contract: parse takes a contract object (schema + filler), validates against its JSON Schema, dead-letters what fails it", () => {
  const SensorSchema = { at: 'f64', sensor: 'str', celsius: 'f64' } as const;
  const sensor = inputContract({
    name: 'sensor-reading', schema: SensorSchema, eventTime: 'at',
    jsonSchema: { type: 'object', required: ['at', 'sensor', 'celsius'], properties: { at: { type: 'integer', minimum: 0 }, sensor: { type: 'string', minLength: 1 }, celsius: { type: 'number', minimum: -273.15 } } },
    fill: (o, c, i) => { c.at[i] = o.at as number; c.sensor[i] = o.sensor as string; c.celsius[i] = o.celsius as number; },
  });
  const lines = [json({ at: 10, sensor: 's1', celsius: 21.5 }), json({ at: 11, sensor: 's1', celsius: -300 }), json({ at: 12, sensor: '' , celsius: 3 }), json({ at: 13, sensor: 's2', celsius: 4 }).replace('4', '1e999'), json({ at: 14, sensor: 's2', celsius: 19 })];
  const h = new OperatorHarness(parse({ format: 'json', contract: sensor, maxEventTimeSkewUs: 3600e6 }));
  h.push(rawLines(lines));
  const out = h.output();
  assert.equal(out.map((r) => [r.at, r.sensor, r.celsius]), [[10, 's1', 21.5], [14, 's2', 19]]);
  assert.equal(h.side('dead').map((d) => d.code), ['SLUICE_ERR_SCHEMA', 'SLUICE_ERR_SCHEMA', 'SLUICE_ERR_NON_FINITE']);
  assert.match(String(h.side('dead')[0].reason), /field 'celsius' must be >= -273.15/);
  // the same contract from CSV: numbers by the JSON Schema's types
  const csv = run(['at,sensor,celsius', '20,s3,7.25', '21,s3,hot'], { format: 'csv', contract: sensor, header: true });
  assert.equal(csv.out.map((r) => r.celsius), [7.25]);
  assert.equal(csv.dead.map((d) => d.code), ['SLUICE_ERR_SCHEMA']);
});

test('a contract object that cannot work is a ConfigError at build time', () => {
  const base = { name: 'x', schema: { ts: 'f64' } as const, jsonSchema: { type: 'object' }, fill: () => {} };
  for (const [bad, msg] of [
    [{ ...base, fill: undefined }, /fill\(record, columns, i\) is required/],
    [{ ...base, schema: { ts: 'date' } }, /column 'ts' has type 'date'/],
    [{ ...base, jsonSchema: { type: 'no-such-type' } }, /jsonSchema does not compile/],
    [{ ...base, name: '' }, /needs a name/],
  ] as const) assert.throws(() => parse({ format: 'json', contract: bad as never }), (e: unknown) => e instanceof ConfigError && msg.test((e as Error).message));
  assert.throws(() => parse({ format: 'json', contract: { ...base, schema: { when: 'f64' } } as never, maxEventTimeSkewUs: 1e6 }), (e: unknown) => e instanceof ConfigError && /no numeric 'ts' column/.test((e as Error).message));
  assert.throws(() => parse({ format: 'lobster', contract: base as never, symbol: 'X', dateUs: 0 }), (e: unknown) => e instanceof ConfigError && /order-event' records only/.test((e as Error).message));
});

test.run();
