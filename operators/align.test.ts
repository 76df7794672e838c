import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { batchOf } from '../src/batch.js';
import { asOfJoin, resample } from './align.js';

const L = { ts: 'f64', qty: 'f64' } as const;
const R = { ts: 'f64', bid: 'f64', venue: 'str' } as const;
const mk = (tol?: number) => new OperatorHarness(asOfJoin<typeof L, typeof R, 'bid' | 'venue'>({ rightFields: ['bid', 'venue'], ...(tol ? { toleranceUs: tol } : {}) }), { input: L });
const right = (rows: { ts: number; bid: number; venue: string }[], key = 'k') => batchOf(R, rows, { keys: rows.map(() => key) });

test('as-of join takes the latest right record at or before each left record, whatever the arrival order', () => {
  const leftRows = [{ ts: 15, qty: 1 }, { ts: 20, qty: 2 }, { ts: 5, qty: 3 }];
  const rightRows = [{ ts: 10, bid: 100, venue: 'A' }, { ts: 20, bid: 101, venue: 'B' }, { ts: 30, bid: 102, venue: 'C' }];
  const expected = [[5, NaN], [15, 100], [20, 101]];
  for (const order of ['right-first', 'left-first', 'interleaved']) {
    const h = mk();
    if (order === 'right-first') { h.pushRight(right(rightRows)); h.push(leftRows, { keys: ['k', 'k', 'k'] }); }
    else if (order === 'left-first') { h.push(leftRows, { keys: ['k', 'k', 'k'] }); h.pushRight(right(rightRows)); }
    else { h.push(leftRows.slice(0, 1), { keys: ['k'] }); h.pushRight(right(rightRows.slice(1))); h.push(leftRows.slice(1), { keys: ['k', 'k'] }); h.pushRight(right(rightRows.slice(0, 1))); }
    assert.equal(h.output().length, 0, 'left records wait for the watermark');
    h.watermark(25);
    const out = h.output();
    assert.equal(out.map((r) => [r.ts, r.r_bid]), expected, order);
    assert.equal(out[1].r_venue, 'A');
    assert.equal(out[1].r_ageUs, 5);
  }
});

test('tolerance: right records too old do not match; keys do not mix', () => {
  const h = mk(3);
  h.pushRight(right([{ ts: 10, bid: 1, venue: 'A' }], 'k'));
  h.pushRight(right([{ ts: 14, bid: 2, venue: 'B' }], 'other'));
  h.push([{ ts: 12, qty: 1 }, { ts: 14, qty: 1 }], { keys: ['k', 'k'] });
  h.close();
  assert.equal(h.output().map((r) => r.r_bid), [1, NaN]);
  assert.equal(h.outputKeys(), ['k', 'k']);
});

test('as-of join state survives snapshot → restore', () => {
  const h = mk();
  h.pushRight(right([{ ts: 10, bid: 7, venue: 'A' }]));
  h.push([{ ts: 12, qty: 1 }], { keys: ['k'] });
  const r = mk(); r.restore(h.snapshot());
  r.watermark(100);
  assert.equal(r.output().map((x) => x.r_bid), [7]);
});

const V = { ts: 'f64', v: 'f64' } as const;
const rs = (method: 'last' | 'linear' | 'mean', extra = {}) => new OperatorHarness(resample<typeof V, 'v'>({ stepUs: 10, fields: ['v'], method, ...extra }), { input: V });

test('resample onto a grid: last value, linear interpolation, mean per step', () => {
  const data = [{ ts: 3, v: 1 }, { ts: 12, v: 4 }, { ts: 18, v: 10 }, { ts: 41, v: 0 }];
  const last = rs('last'); last.push(data, { keys: data.map(() => 'm') }); last.watermark(45);
  assert.equal(last.output().map((r) => [r.ts, r.v]), [[10, 1], [20, 10], [30, 10], [40, 10]]);
  const lin = rs('linear'); lin.push(data, { keys: data.map(() => 'm') }); lin.watermark(45);
  assert.equal(lin.output().map((r) => [r.ts, Math.round((r.v as number) * 1000) / 1000]), [[10, 3.333], [20, 9.130], [30, 4.783], [40, 0.435]]);
  const mean = rs('mean'); mean.push(data, { keys: data.map(() => 'm') }); mean.close();
  assert.equal(mean.output().map((r) => [r.ts, r.v]), [[10, 1], [20, 7], [30, NaN], [40, NaN], [50, 0]]);
});

test('resample: maxGapUs turns stale values into NaN; late samples go to the late output', () => {
  const h = rs('last', { maxGapUs: 15 });
  h.push([{ ts: 1, v: 5 }], { keys: ['m'] });
  h.watermark(30);
  assert.equal(h.output().map((r) => r.v), [5, NaN, NaN]);
  h.push([{ ts: 25, v: 1 }], { keys: ['m'] });
  assert.equal(h.side('late').length, 1);
});

test.run();
