import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchOf } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';
import { compileAggregates } from './aggregates.js';
import { Ring } from './ring.js';

const S = { ts: 'f64', x: 'f64' } as const;
const xs = [4, 1, 7, 2, 9, 3];

test('aggregates over one pane equal the direct computation', () => {
  const aggs = compileAggregates<typeof S>({ n: { op: 'count' }, s: { op: 'sum', field: 'x' }, lo: { op: 'min', field: 'x' }, hi: { op: 'max', field: 'x' }, m: { op: 'mean', field: 'x' }, sd: { op: 'std', field: 'x' }, a: { op: 'first', field: 'x' }, z: { op: 'last', field: 'x' } });
  const b = batchOf(S, xs.map((x, i) => ({ ts: i, x })));
  const acc = aggs.init();
  for (let i = 0; i < b.length; i++) aggs.add(acc, b.columns, i, i);
  const mean = xs.reduce((s, x) => s + x, 0) / xs.length;
  const sd = Math.sqrt(xs.reduce((s, x) => s + (x - mean) ** 2, 0) / xs.length);
  const r = aggs.names.map((_, j) => aggs.result(acc, j));
  assert.equal(r.slice(0, 5), [6, 26, 1, 9, mean]);
  assert.ok(Math.abs(r[5] - sd) < 1e-9, `population std ${r[5]} vs ${sd}`);
  assert.equal(r.slice(6), [4, 3], 'first and last by event time');
});

test('merging panes gives what one pane over all records gives (sliding windows are merges)', () => {
  const aggs = compileAggregates<typeof S>({ s: { op: 'sum', field: 'x' }, m: { op: 'mean', field: 'x' }, sd: { op: 'std', field: 'x' }, a: { op: 'first', field: 'x' }, z: { op: 'last', field: 'x' }, hi: { op: 'max', field: 'x' } });
  const b = batchOf(S, xs.map((x, i) => ({ ts: i, x })));
  const whole = aggs.init(), left = aggs.init(), right = aggs.init();
  for (let i = 0; i < b.length; i++) { aggs.add(whole, b.columns, i, i); aggs.add(i < 3 ? left : right, b.columns, i, i); }
  const merged = aggs.init();
  aggs.merge(merged, right); aggs.merge(merged, left); // order of merging must not matter
  for (let j = 0; j < aggs.names.length; j++) assert.ok(Math.abs(aggs.result(merged, j) - aggs.result(whole, j)) < 1e-9, aggs.names[j]);
});

test('where filters records; unknown ops and missing fields are configuration errors', () => {
  const aggs = compileAggregates<typeof S>({ big: { op: 'count', where: (c, i) => c.x[i] > 3 } });
  const b = batchOf(S, xs.map((x, i) => ({ ts: i, x })));
  const acc = aggs.init();
  for (let i = 0; i < b.length; i++) aggs.add(acc, b.columns, i, i);
  assert.is(aggs.result(acc, 0), 3);
  assert.throws(() => compileAggregates({ q: { op: 'median' as never, field: 'x' } }), (e: Error) => e instanceof ConfigError && /unknown op 'median'/.test(e.message));
  assert.throws(() => compileAggregates({ q: { op: 'sum' } }), (e: Error) => e instanceof ConfigError && /needs a field/.test(e.message));
});

test('Ring: FIFO of fixed-width rows, compacts as it goes, round-trips through JSON', () => {
  const r = new Ring(2);
  for (let i = 0; i < 5000; i++) r.push2(i, i * 10);
  for (let i = 0; i < 4990; i++) r.shift();
  assert.is(r.length, 10);
  assert.is(r.front(0), 4990);
  assert.is(r.front(1), 49_900);
  assert.ok(r.data.length < 5000 * 2, 'shifted rows are released');
  const copy = Ring.from(2, JSON.parse(JSON.stringify(r)) as number[]);
  assert.is(copy.length, 10);
  assert.is(copy.front(0), 4990);
});

test.run();
