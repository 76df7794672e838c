import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { rng } from '../apps/demo/orderflow.js';
import { rolling } from './rolling.js';

const S = { ts: 'f64', x: 'f64' } as const;
const mk = () => new OperatorHarness(rolling<typeof S, 'x'>({ fields: ['x'], horizonUs: 100 }), { input: S });

test('rolling mean/std/min/max equal brute force over the horizon, NaN ignored, across restore', () => {
  const r = rng(2);
  let t = 0;
  const rows = Array.from({ length: 3000 }, () => ({ ts: (t += Math.floor(r() * 20)), x: r() < 0.05 ? NaN : Math.round(r() * 1000) }));
  const keys = rows.map((_, i) => (i % 3 ? 'a' : 'b'));
  const a = mk(); a.push(rows.slice(0, 1500), { keys: keys.slice(0, 1500) });
  const b = mk(); b.restore(a.snapshot()); b.push(rows.slice(1500), { keys: keys.slice(1500) });
  const out = [...a.output(), ...b.output()];
  for (let i = 0; i < rows.length; i += 7) {
    const win = rows.filter((w, j) => j <= i && keys[j] === keys[i] && w.ts > rows[i].ts - 100).map((w) => w.x).filter((x) => !Number.isNaN(x));
    const mean = win.reduce((s, x) => s + x, 0) / win.length;
    assert.ok(Math.abs((out[i].x_mean as number) - mean) < 1e-6, `mean at ${i}`);
    assert.equal(out[i].x_min, Math.min(...win));
    assert.equal(out[i].x_max, Math.max(...win));
    const sd = Math.sqrt(win.reduce((s, x) => s + (x - mean) ** 2, 0) / win.length);
    assert.ok(Math.abs((out[i].x_std as number) - sd) < 1e-6, `std at ${i}`);
  }
});

test.run();
