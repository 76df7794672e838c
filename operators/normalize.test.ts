import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { rng } from '../apps/demo/orderflow.js';
import { normalize } from './normalize.js';
import { entriesOf, type KeyedEntries } from '../src/state.js';

const S = { ts: 'f64', x: 'f64' } as const;
const mk = (method: 'ewma-z' | 'robust' | 'minmax', extra = {}) => new OperatorHarness(normalize<typeof S, 'x'>({ fields: ['x'], method, warmup: 5, ...extra }), { input: S });
const feed = (h: ReturnType<typeof mk>, xs: number[], key = 'k') => h.push(xs.map((x, i) => ({ ts: i, x })), { keys: xs.map(() => key) });
const normal = (r: () => number) => Math.sqrt(-2 * Math.log(1 - r())) * Math.cos(2 * Math.PI * r());

test('ewma-z: a spike after a stable regime scores high; warmup outputs 0', () => {
  const h = mk('ewma-z', { alpha: 0.1 });
  const r = rng(3);
  feed(h, [...Array.from({ length: 200 }, () => 10 + normal(r)), 30]);
  const z = h.output().map((o) => o.x_norm as number);
  assert.equal(z.slice(0, 5), [0, 0, 0, 0, 0]);
  assert.ok(z[200] > 8, `spike z = ${z[200]}`);
  assert.ok(Math.abs(z[150]) < 4);
});

test('robust: median and MAD estimates converge and resist 10% outliers', () => {
  const h = mk('robust');
  const r = rng(5);
  const xs = Array.from({ length: 20000 }, () => (r() < 0.1 ? 1e6 : 50 + 2 * normal(r)));
  feed(h, xs);
  const st = entriesOf(h.snapshot() as KeyedEntries<number[][]>)[0][1][0];
  assert.ok(Math.abs(st[1] - 50) < 0.6, `median ${st[1]}`);
  // MAD of N(50, 2) is 1.349; with 10% outliers the true MAD of the mixture is ~1.6
  assert.ok(st[2] > 1 && st[2] < 2.2, `mad ${st[2]}`);
  const z = h.output().map((o) => o.x_norm as number);
  const outlierZ = z.filter((_, i) => xs[i] === 1e6 && i > 1000);
  assert.ok(outlierZ.every((v) => v > 1000), 'outliers still score as outliers');
});

test('minmax scales into [0, 1]; keys are independent', () => {
  const h = mk('minmax', { warmup: 0 });
  feed(h, [0, 10, 5], 'a');
  feed(h, [100, 300, 200], 'b');
  assert.equal(h.output().map((o) => o.x_norm), [0, 1, 0.5, 0, 1, 0.5]);
});

test('NaN input gives NaN and leaves the state untouched', () => {
  const h = mk('ewma-z', { warmup: 0 });
  feed(h, [1, 2, 3]);
  const before = JSON.stringify(h.snapshot());
  feed(h, [NaN]);
  assert.ok(Number.isNaN(h.output()[3].x_norm));
  assert.equal(JSON.stringify(h.snapshot()), before);
});

test('snapshot → restore gives identical output to an uninterrupted run', () => {
  for (const m of ['ewma-z', 'robust', 'minmax'] as const) {
    const r = rng(9);
    const xs = Array.from({ length: 500 }, () => r() * 100);
    const a = mk(m); feed(a, xs.slice(0, 250)); feed(a, xs.slice(250));
    const b = mk(m); feed(b, xs.slice(0, 250));
    const snap = b.snapshot();
    const c = mk(m); c.restore(snap); feed(c, xs.slice(250));
    assert.equal([...b.output(), ...c.output()], a.output(), m);
  }
});

test('configuration is validated', () => {
  assert.throws(() => normalize({ fields: [], method: 'robust' }), /at least one f64 field/);
  assert.throws(() => normalize({ fields: ['x'], method: 'zscore' as never }), /options.method must be/);
  assert.throws(() => normalize({ fields: ['x'], method: 'ewma-z', alpha: 1 }), /alpha must be in \(0, 1\)/);
});

test.run();
