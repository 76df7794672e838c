import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { rawLines } from '../src/sources.js';
import { parseJsonRecords } from './parse-json.js';

test('contract-valid records pass as text with their key; the rest are dead letters with code, reason and origin', () => {
  const h = new OperatorHarness(parseJsonRecords({ contract: 'user-profile', keyField: 'userId', check: (r) => (r.userId === 'banned' ? 'user is banned' : undefined) }));
  h.push(rawLines([JSON.stringify({ userId: 'u1', age: 30 }), '{"userId":', JSON.stringify({ age: 3 }), JSON.stringify({ userId: 'banned' }), JSON.stringify({ userId: 'u2' })]));
  assert.equal(h.output().map((r) => r.key), ['u1', 'u2']);
  assert.equal(JSON.parse(h.output()[0].json as string), { userId: 'u1', age: 30 });
  const dead = h.side('dead');
  assert.equal(dead.map((d) => d.code), ['SLUICE_ERR_MALFORMED_JSON', 'SLUICE_ERR_SCHEMA', 'SLUICE_ERR_SCHEMA']);
  assert.match(dead[1].reason as string, /userId/);
  assert.match(dead[2].reason as string, /user is banned/);
  assert.equal(dead.map((d) => d.origin), ['partition-0@1', 'partition-0@2', 'partition-0@3']);
});

test('a tombstone or bytes that are not UTF-8 are dead-lettered with the original bytes, not passed on', () => {
  const h = new OperatorHarness(parseJsonRecords({ contract: 'user-profile', keyField: 'userId' }));
  const bytes = Buffer.from([0x7b, 0xff, 0x7d]);
  h.push(rawLines(['', JSON.stringify({ userId: 'u1' }), '']).withMeta({ rawIssues: [
    { code: 'SLUICE_ERR_EMPTY_RECORD', reason: 'tombstone', payload: '', payloadEncoding: 'utf8' },
    null,
    { code: 'SLUICE_ERR_ENCODING', reason: 'invalid UTF-8', payload: bytes.toString('base64'), payloadEncoding: 'base64' },
  ] }));
  assert.equal(h.output().map((r) => r.key), ['u1']);
  const dead = h.side('dead');
  assert.equal(dead.map((d) => d.code), ['SLUICE_ERR_EMPTY_RECORD', 'SLUICE_ERR_ENCODING']);
  assert.equal(Buffer.from(dead[1].payload as string, 'base64'), bytes);
});

test.run();
