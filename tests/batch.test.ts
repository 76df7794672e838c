import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { readFileSync, existsSync } from 'node:fs';
import { batchOf, concatBatches, toArrow } from '../src/batch.js';
import { rowStringifier } from '../src/sinks.js';

const S = { ts: 'f64', n: 'i32', s: 'str' } as const;

test('toArrow wraps numeric columns without copying and encodes strings', () => {
  const b = batchOf(S, [{ ts: 1.5, n: 2, s: 'a' }, { ts: 2.5, n: 3, s: 'bé' }]);
  const rb = toArrow(b);
  assert.equal(rb.numRows, 2);
  const ts = rb.getChild('ts')!;
  assert.equal(ts.toArray()[1], 2.5);
  assert.ok((ts.data[0].values as Float64Array).buffer === b.columns.ts.buffer, 'same memory');
  b.columns.ts[0] = 9;
  assert.equal(rb.getChild('ts')!.get(0), 9, 'a write shows through: no copy');
  assert.equal(rb.getChild('s')!.get(1), 'bé');
  assert.equal(rb.getChild('n')!.get(1), 3);
});

test('select and concat keep keys aligned with records', () => {
  const b = batchOf(S, [{ ts: 1, n: 1, s: 'a' }, { ts: 2, n: 2, s: 'b' }, { ts: 3, n: 3, s: 'c' }], { keys: ['x', 'y', 'z'] });
  const sel = b.select([0, 2]);
  assert.equal(sel.rows().map((r) => r.s), ['a', 'c']);
  assert.equal(sel.meta.keys, ['x', 'z']);
  const cat = concatBatches(S, [sel, b], { partition: 0, ingestTime: 0 });
  assert.equal(cat.length, 5);
  assert.equal(cat.meta.keys, ['x', 'z', 'x', 'y', 'z']);
});

test('rows serialize to JSON with absent numbers (NaN, ±Infinity) as null, never as 0', () => {
  const str = rowStringifier({ a: 'f64', b: 'i32', s: 'str' } as const);
  assert.equal(JSON.parse(str({ a: NaN, b: 3, s: 'x' })), { a: null, b: 3, s: 'x' });
  assert.equal(JSON.parse(str({ a: Infinity, b: 0, s: '' })), { a: null, b: 0, s: '' });
  assert.equal(JSON.parse(str({ a: 1.5, b: -2, s: 'q"' })), { a: 1.5, b: -2, s: 'q"' });
});

test('schemas/ holds exactly the shared wire contracts', () => {
  for (const f of ['order-event', 'alert', 'behavior-event', 'push', 'episode']) {
    const shared = new URL(`../../../shared/contracts/${f}.schema.json`, import.meta.url);
    const mine = new URL(`../../schemas/${f}.schema.json`, import.meta.url);
    assert.ok(existsSync(mine), `${f} present`);
    if (existsSync(shared)) assert.equal(readFileSync(mine, 'utf8'), readFileSync(shared, 'utf8'), `${f} identical to ../shared/contracts`);
  }
});

test.run();
