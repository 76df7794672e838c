import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SeriesDetector } from './detector.js';
import { ConfigError } from '../../src/errors.js';
import { rng } from '../demo/orderflow.js';

const T0 = Date.UTC(2026, 0, 1);
const STEP = 300_000; // 5 minutes: 288 rows a day
function run(values: (i: number) => number, n: number, d = new SeriesDetector()): number[] {
  const out: number[] = [];
  for (let i = 0; i < n; i++) out.push(d.update(T0 + i * STEP, values(i)));
  return out;
}
const maxAfter = (s: number[], from: number) => Math.max(...s.slice(from));

test('a flat series scores 0 everywhere (no division by a zero spread), and a step off it scores near 1', () => {
  const flat = run(() => 42, 3000);
  assert.ok(flat.every((x) => x === 0), 'flat: all zero');
  const step = run((i) => (i < 2500 ? 42 : 43), 2600);
  assert.ok(step.slice(0, 2500).every((x) => x === 0));
  assert.ok(step[2500] > 0.999, `the first row off the line scores ${step[2500]}`);
});

test('a quantized series flipping between levels is not an anomaly; a value never seen is', () => {
  const r = rng(3);
  const levels = [0, 1, 2];
  const vals: number[] = [];
  for (let i = 0; i < 4000; i++) vals.push(levels[Math.floor(r() * 3)]);
  vals[3500] = 9;
  const s = run((i) => vals[i], 4000);
  const ordinary = s.slice(400, 3500).filter((x) => x > 0.999).length;
  assert.ok(ordinary <= 0.003 * 3100, `${ordinary} rows of 3,100 ordinary ones above 0.999`);
  assert.ok(s[3500] > 0.999, `the new value scores ${s[3500]}`);
  assert.ok(s.every((x) => x >= 0 && x <= 1 && Number.isFinite(x)));
});

test('daily seasonality is learnt: the same shape again is ordinary, the peak at the wrong hour is not', () => {
  const r = rng(5);
  // a peak every day 09:00-11:00 (rows 108-132 of 288), small noise
  const v = (i: number) => ((i % 288) >= 108 && (i % 288) < 132 ? 80 : 20) + (r() - 0.5) * 2;
  const vals = Array.from({ length: 288 * 14 }, (_, i) => v(i));
  const day12 = 288 * 12;
  // day 12: the peak comes at 03:00 instead (rows 36-60); it is a shape seen every day, at an hour it never came
  for (let i = day12 + 36; i < day12 + 60; i++) vals[i] = 80 + (r() - 0.5) * 2;
  const s = run((i) => vals[i], vals.length);
  const normal = s.slice(288 * 3, day12).filter((x) => x > 0.999).length;
  assert.ok(normal <= 0.003 * (day12 - 288 * 3), `${normal} ordinary rows above 0.999 over 9 days`);
  const early = maxAfter(s.slice(0, day12 + 64), day12 + 30);
  const ordinaryMax = Math.max(...s.slice(288 * 3, day12));
  assert.ok(early > 0.999 && early > ordinaryMax, `the early peak scores ${early.toFixed(6)}, ordinary rows up to ${ordinaryMax.toFixed(6)}`);
});

test('a daily peak that does not come is an anomaly (the seasonal deviation sees it; the shape alone does not)', () => {
  const r = rng(6);
  const v = (i: number) => ((i % 288) >= 108 && (i % 288) < 132 ? 80 : 20) + (r() - 0.5) * 2;
  const vals = Array.from({ length: 288 * 14 }, (_, i) => v(i));
  const day12 = 288 * 12;
  for (let i = day12 + 108; i < day12 + 132; i++) vals[i] = 20 + (r() - 0.5) * 2;
  const s = run((i) => vals[i], vals.length);
  const missed = maxAfter(s.slice(0, day12 + 140), day12 + 100);
  const ordinaryMax = Math.max(...s.slice(288 * 3, day12));
  assert.ok(missed > 0.999 && missed > ordinaryMax, `the missing peak scores ${missed.toFixed(6)}, ordinary rows up to ${ordinaryMax.toFixed(6)}`);
});

test('an incident is reported when it starts: the rows after a spike score lower than the spike', () => {
  const r = rng(8);
  const s = run((i) => 50 + (r() - 0.5) * 4 + (i >= 3000 && i < 3010 ? 40 : 0), 3200);
  assert.ok(s[3000] > 0.999, `spike start ${s[3000]}`);
  assert.ok(s.slice(3001, 3010).every((x) => x < s[3000]), 'later rows of the incident damped');
});

test('snapshot and restore: a restored detector continues exactly as the uninterrupted one', () => {
  const r = rng(11);
  const vals = Array.from({ length: 3000 }, (_, i) => 30 + 5 * Math.sin(i / 30) + (r() - 0.5) * 3);
  const a = new SeriesDetector();
  const first = run((i) => vals[i], 2000, a);
  const b = SeriesDetector.restore(JSON.parse(JSON.stringify(a.snapshot())));
  const restA: number[] = [], restB: number[] = [];
  for (let i = 2000; i < 3000; i++) { restA.push(a.update(T0 + i * STEP, vals[i])); restB.push(b.update(T0 + i * STEP, vals[i])); }
  assert.equal(restB, restA);
  assert.ok(first.length === 2000);
});

test('configuration is checked', () => {
  assert.throws(() => new SeriesDetector({ embed: 0 }), (e: unknown) => e instanceof ConfigError);
  assert.throws(() => new SeriesDetector({ clockWeight: -1 }), (e: unknown) => e instanceof ConfigError);
});

test.run();
