import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { EventTimeGuard } from './event-time-guard.js';

const H = 3600e6;
const T = 1_795_444_200_000_000;
type Rec = { offset: number };

/** feeds times to a guard; returns accepted and rejected offsets in the order decided */
function run(times: number[], opts: { skewUs?: number; confirm?: number; maxAheadOfClockUs?: number; now?: number; batch?: number } = {}) {
  const g = new EventTimeGuard<Rec>({ skewUs: opts.skewUs ?? 24 * H, confirm: opts.confirm ?? 8, ...(opts.maxAheadOfClockUs !== undefined ? { maxAheadOfClockUs: opts.maxAheadOfClockUs } : {}) });
  const accepted: number[] = [], rejected: number[] = [];
  const out = { accept: (r: Rec) => accepted.push(r.offset), reject: (r: Rec) => rejected.push(r.offset) };
  const per = opts.batch ?? times.length;
  times.forEach((t, i) => {
    g.offer(t, { offset: i }, opts.now ?? T, out);
    if ((i + 1) % per === 0) g.endOfBatch(out);
  });
  g.endOfBatch(out);
  g.finish(out);
  return { accepted, rejected, guard: g };
}

test('a lone far-future record is rejected; the reference never moves to it', () => {
  const times = [T, T + 1, 9e15, T + 2, T + 3];
  const r = run(times);
  assert.equal(r.rejected, [2]);
  assert.equal(r.accepted, [0, 1, 3, 4]);
  assert.is(r.guard.ref, T + 3);
});

test('a far-future record first in the batch does not set the reference: the largest group does', () => {
  const r = run([9e15, ...Array.from({ length: 20 }, (_, i) => T + i)]);
  assert.equal(r.rejected, [0]);
  assert.is(r.accepted.length, 20);
});

test('a weekend gap: 8 records agreeing on the new time move the reference, none rejected', () => {
  const fri = T - 65 * H;
  const times = [...Array.from({ length: 50 }, (_, i) => fri + i * 1e6), ...Array.from({ length: 50 }, (_, i) => T + i * 1e6)];
  const r = run(times, { batch: 10 });
  assert.equal(r.rejected, []);
  assert.equal(r.accepted, times.map((_, i) => i), 'held records are released in order');
  assert.is(r.guard.ref, T + 49e6);
});

test('held records are rejected when a record fits the old time again', () => {
  const times = [T, T + 1, T + 100 * H, T + 100 * H + 1, T + 2];
  const r = run(times, { confirm: 8 });
  assert.equal(r.rejected, [2, 3]);
  assert.equal(r.accepted, [0, 1, 4]);
});

test('fewer than `confirm` far records at the end of input are rejected', () => {
  const r = run([T, T + 1, T + 100 * H, T + 100 * H + 1], { confirm: 8 });
  assert.equal(r.rejected, [2, 3]);
});

test('maxAheadOfClockUs: a time beyond the clock is rejected outright, even as a group', () => {
  const r = run(Array.from({ length: 10 }, (_, i) => T + 2 * 86_400e6 + i), { maxAheadOfClockUs: 86_400e6, now: T });
  assert.equal(r.accepted, []);
  assert.is(r.rejected.length, 10);
});

test('snapshot and restore keep the reference and what is held', () => {
  const g = new EventTimeGuard<Rec>({ skewUs: H, confirm: 3 });
  const acc: number[] = [];
  const out = { accept: (r: Rec) => acc.push(r.offset), reject: () => undefined };
  g.offer(T, { offset: 0 }, T, out); g.endOfBatch(out);
  g.offer(T + 10 * H, { offset: 1 }, T, out);
  const copy = new EventTimeGuard<Rec>({ skewUs: H, confirm: 3 });
  copy.restore(JSON.parse(JSON.stringify(g.snapshot())));
  assert.is(copy.ref, T);
  assert.is(copy.held, 1);
  copy.offer(T + 10 * H + 1, { offset: 2 }, T, out);
  copy.offer(T + 10 * H + 2, { offset: 3 }, T, out);
  assert.equal(acc, [0, 1, 2, 3], 'the restored hold counts toward the jump');
});

test.run();
