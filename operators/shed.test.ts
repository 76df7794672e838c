import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ManualClock } from '../src/clock.js';
import { ConfigError } from '../src/errors.js';
import { OperatorHarness } from '../src/harness.js';
import { isShedding, shedStale } from './shed.js';

const S = { ts: 'f64', userId: 'str' } as const;

test('records more than maxAgeMs behind processing time are dropped and counted; fresh ones pass in order', () => {
  const clock = new ManualClock(10_000_000); // 10 s, in µs
  const h = new OperatorHarness(shedStale<typeof S>({ maxAgeMs: 2_000 }), { input: S, clock });
  h.push([{ ts: 9_500_000, userId: 'a' }, { ts: 7_000_000, userId: 'b' }, { ts: 8_000_000, userId: 'c' }, { ts: 7_999_999, userId: 'd' }]);
  assert.equal(h.output().map((r) => r.userId), ['a', 'c'], 'b (3 s old) and d (1 µs past the bound) shed');
  assert.ok(isShedding(h.op));
  assert.equal(h.op.shedRecords, 2);
  clock.advance(5_000_000);
  h.push([{ ts: 9_500_000, userId: 'e' }]);
  assert.equal(h.op.shedRecords, 3, 'the bound moves with processing time');
  assert.equal(h.output().length, 2);
});

test('a batch with nothing stale passes whole; a wrong configuration or schema is a typed error', () => {
  const clock = new ManualClock(1_000_000);
  const h = new OperatorHarness(shedStale<typeof S>({ maxAgeMs: 5_000 }), { input: S, clock });
  h.push([{ ts: 900_000, userId: 'x' }, { ts: 950_000, userId: 'y' }]);
  assert.equal(h.outputs.length, 1);
  assert.equal(h.outputs[0].length, 2);
  assert.throws(() => shedStale({ maxAgeMs: 0 }), (e: unknown) => e instanceof ConfigError);
  assert.throws(() => shedStale({ maxAgeMs: Number.NaN }), (e: unknown) => e instanceof ConfigError);
  const noTs = new OperatorHarness(shedStale({ maxAgeMs: 1, timestamp: 'eventTime' }), { input: S, clock });
  assert.throws(() => noTs.push([{ ts: 1, userId: 'z' }]), /no event-time column 'eventTime'/);
});

test.run();
