import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { ConfigError } from '../src/errors.js';
import { window } from './window.js';

const S = { ts: 'f64', v: 'f64' } as const;
type R = { ts: number; v: number };
const agg = { sum: { op: 'sum', field: 'v' }, mx: { op: 'max', field: 'v' }, sd: { op: 'std', field: 'v' } } as const;
const h = (cfg: Parameters<typeof window<typeof S, typeof agg>>[0]) => new OperatorHarness(window<typeof S, typeof agg>(cfg), { input: S });
const push = (hh: ReturnType<typeof h>, rows: R[], key = 'k') => hh.push(rows, { keys: rows.map(() => key) });

test('tumbling: windows fire when the watermark passes their end; boundaries are half-open', () => {
  const w = h({ kind: 'tumbling', size: 10, aggregates: agg });
  push(w, [{ ts: 0, v: 1 }, { ts: 9, v: 2 }, { ts: 10, v: 5 }]);
  assert.equal(w.output().length, 0, 'nothing before the watermark');
  w.watermark(8);
  assert.equal(w.output().length, 0, 'window [0,10) is not complete at watermark 8');
  w.watermark(9);
  assert.equal(w.output(), [{ key: 'k', windowStart: 0, windowEnd: 10, count: 2, sum: 3, mx: 2, sd: 0.5 }]);
  w.clear().close();
  assert.equal(w.output().map((r) => [r.windowStart, r.count, r.sum]), [[10, 1, 5]]);
});

test('empty windows emit nothing', () => {
  const w = h({ kind: 'tumbling', size: 10, aggregates: agg });
  push(w, [{ ts: 5, v: 1 }, { ts: 95, v: 1 }]);
  w.watermark(1000);
  assert.equal(w.output().map((r) => r.windowStart), [0, 90]);
});

test('sliding: a record lands in size/slide windows; out-of-order records before the watermark count', () => {
  const w = h({ kind: 'sliding', size: 10, slide: 5, aggregates: agg });
  push(w, [{ ts: 7, v: 1 }, { ts: 3, v: 2 }, { ts: 12, v: 4 }]);
  w.watermark(100);
  assert.equal(w.output().map((r) => [r.windowStart, r.windowEnd, r.count, r.sum]), [[-5, 5, 1, 2], [0, 10, 2, 3], [5, 15, 2, 5], [10, 20, 1, 4]]);
});

test('late records: within allowed lateness they update emitted windows, beyond it they go to the late output', () => {
  const w = h({ kind: 'tumbling', size: 10, allowedLatenessUs: 5, aggregates: agg });
  push(w, [{ ts: 1, v: 1 }]);
  w.watermark(11);
  assert.equal(w.output().map((r) => r.sum), [1]);
  push(w, [{ ts: 2, v: 10 }]); // late by 9, window [0,10) still open for lateness (9 + 5 > 11)
  assert.equal(w.output().map((r) => r.sum), [1, 11], 'updated window emitted again');
  w.watermark(20);
  push(w, [{ ts: 3, v: 100 }]);
  assert.equal(w.output().length, 2);
  const late = w.side('late');
  assert.equal(late.length, 1);
  assert.equal(late[0].latenessUs, 17);
  assert.equal(late[0].key, 'k');
  assert.equal(JSON.parse(late[0].record as string), { ts: 3, v: 100 });
});

test('idle key next to a busy one: each key fires on its own data only', () => {
  const w = h({ kind: 'tumbling', size: 10, aggregates: agg });
  push(w, [{ ts: 1, v: 1 }], 'quiet');
  for (let t = 0; t < 100; t += 5) push(w, [{ ts: t, v: 1 }], 'busy');
  w.watermark(49);
  const out = w.output();
  assert.equal(out.filter((r) => r.key === 'quiet').length, 1);
  assert.equal(out.filter((r) => r.key === 'busy').length, 5);
  assert.equal(w.outputs[0].meta.keys!.length, w.outputs[0].length, 'outputs carry keys');
});

test('session windows merge when a record bridges two sessions', () => {
  const w = h({ kind: 'session', gap: 10, aggregates: agg });
  push(w, [{ ts: 0, v: 1 }, { ts: 5, v: 1 }, { ts: 30, v: 1 }]);
  assert.equal(w.output().length, 0);
  push(w, [{ ts: 20, v: 1 }]); // [20,30) touches [30,40): they merge (as Flink)
  w.watermark(16);
  assert.equal(w.output().map((r) => [r.windowStart, r.windowEnd, r.count]), [[0, 15, 2]]);
  w.clear();
  push(w, [{ ts: 21, v: 1 }]);
  w.watermark(1000);
  assert.equal(w.output().map((r) => [r.windowStart, r.windowEnd, r.count]), [[20, 40, 3]]);
});

test('a record between two open sessions bridges them into one', () => {
  const w = h({ kind: 'session', gap: 10, aggregates: agg });
  push(w, [{ ts: 0, v: 1 }, { ts: 25, v: 2 }]);
  push(w, [{ ts: 12, v: 4 }]); // [12,22) overlaps [0,10)? touches at 10..12? no: 10 < 12; overlaps [25,35)? 22 < 25 no
  push(w, [{ ts: 9, v: 8 }]); // [9,19) bridges [0,10) and [12,22) → [0,22)
  push(w, [{ ts: 18, v: 16 }]); // [18,28) bridges [0,22) and [25,35) → [0,35)
  w.watermark(1000);
  assert.equal(w.output().map((r) => [r.windowStart, r.windowEnd, r.count, r.sum]), [[0, 35, 5, 31]]);
});

test('session late update within lateness re-emits the merged session', () => {
  const w = h({ kind: 'session', gap: 10, allowedLatenessUs: 100, aggregates: agg });
  push(w, [{ ts: 0, v: 1 }]);
  w.watermark(50);
  push(w, [{ ts: 5, v: 2 }]);
  assert.equal(w.output().map((r) => [r.windowStart, r.windowEnd, r.count]), [[0, 10, 1], [0, 15, 2]]);
});

test('count windows: tumbling and sliding', () => {
  const t = h({ kind: 'tumbling', by: 'count', size: 3, aggregates: agg });
  push(t, [1, 2, 3, 4, 5, 6, 7].map((v) => ({ ts: v * 10, v })));
  assert.equal(t.output().map((r) => [r.windowStart, r.windowEnd, r.sum]), [[10, 30, 6], [40, 60, 15]]);
  const s = h({ kind: 'sliding', by: 'count', size: 4, slide: 2, aggregates: agg });
  push(s, [1, 2, 3, 4, 5, 6].map((v) => ({ ts: v, v })));
  assert.equal(s.output().map((r) => [r.count, r.sum]), [[2, 3], [4, 10], [4, 18]]);
});

test('sliding windows equal a brute-force recomputation on random data, with restore mid-stream', () => {
  let seed = 7;
  const rnd = () => ((seed = (seed * 1103515245 + 12345) % 2147483648) / 2147483648);
  const rows: { ts: number; v: number; k: string }[] = [];
  for (let i = 0; i < 2000; i++) rows.push({ ts: Math.floor(i * 5 + rnd() * 40), v: Math.round(rnd() * 100) - 20, k: `k${Math.floor(rnd() * 5)}` });
  const cfg = { kind: 'sliding', size: 60, slide: 20, aggregates: agg } as const;
  const run = (restoreAt: number) => {
    let w = h(cfg);
    for (let i = 0; i < rows.length; i += 50) {
      if (i === restoreAt) { const snap = w.snapshot(); const before = w.outputs.slice(); w = h(cfg); w.restore(snap); w.outputs.push(...before); }
      const chunk = rows.slice(i, i + 50);
      w.push(chunk.map(({ ts, v }) => ({ ts, v })), { keys: chunk.map((r) => r.k) });
      w.watermark(Math.max(...chunk.map((r) => r.ts)) - 41);
    }
    w.close();
    return w.output();
  };
  const out = run(-1);
  // brute force: each (key, window) over all rows (no row is late: out-of-orderness 40 < 41)
  const expect = new Map<string, number[]>();
  for (const r of rows) for (let s = Math.floor(r.ts / 20) * 20 - 40; s <= r.ts; s += 20) {
    const id = `${r.k}|${s}`;
    const vs = expect.get(id) ?? [];
    vs.push(r.v);
    expect.set(id, vs);
  }
  assert.equal(out.length, expect.size);
  for (const r of out) {
    const vs = expect.get(`${r.key}|${r.windowStart}`)!;
    assert.ok(vs, `window ${r.key} ${r.windowStart} expected`);
    assert.equal(r.count, vs.length);
    assert.equal(r.sum, vs.reduce((a, b) => a + b, 0));
    assert.equal(r.mx, Math.max(...vs));
    const mean = vs.reduce((a, b) => a + b, 0) / vs.length;
    assert.ok(Math.abs((r.sd as number) - Math.sqrt(vs.reduce((a, b) => a + (b - mean) ** 2, 0) / vs.length)) < 1e-9);
  }
  assert.equal(run(1000), out, 'snapshot → restore mid-stream gives identical output');
});

test('config is validated with exact messages', () => {
  assert.throws(() => window({ kind: 'sliding', size: 10, slide: 3, aggregates: {} }), (e: unknown) => e instanceof ConfigError && /multiple of options.slide/.test((e as Error).message));
  assert.throws(() => window({ kind: 'tumbling', size: 0, aggregates: {} }), /options.size must be a positive integer/);
  assert.throws(() => window({ kind: 'session', gap: 5, by: 'count', aggregates: {} }), /session windows are by time only/);
  assert.throws(() => window({ kind: 'tumbling', size: 5, aggregates: {}, bogus: 1 } as never), /unknown option 'bogus'/);
  assert.throws(() => window({ kind: 'tumbling', size: 5, aggregates: { s: { op: 'sum' } } }), /needs a field/);
});

test.run();
