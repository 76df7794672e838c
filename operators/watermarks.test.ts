import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { watermarks } from './watermarks.js';

const S = { ts: 'f64' } as const;
const mk = () => new OperatorHarness(watermarks<typeof S>({ timestamp: 'ts', maxOutOfOrdernessUs: 10 }), { input: S });

test('watermark = largest timestamp − out-of-orderness − 1, never going back', () => {
  const h = mk();
  h.push([{ ts: 100 }, { ts: 50 }]);
  h.push([{ ts: 80 }]);
  h.push([{ ts: 120 }]);
  assert.equal(h.watermarks, [89, 109]);
  assert.equal(h.output().length, 4, 'records pass through, out-of-order ones included');
});

test('the slowest partition holds event time back; an idle one does not; it rejoins when it speaks', () => {
  const h = mk();
  h.push([{ ts: 1000 }], { partition: 0 });
  h.push([{ ts: 100 }], { partition: 1 });
  h.push([{ ts: 2000 }], { partition: 0 });
  assert.equal(h.watermarks, [989], 'held by partition 1 at 89 after partition 0 moved first');
  h.partitionIdle(1);
  assert.equal(h.watermarks.at(-1), 1989, 'idle partition 1 no longer holds it back');
  h.push([{ ts: 3000 }], { partition: 1 });
  h.push([{ ts: 5000 }], { partition: 0 });
  assert.equal(h.watermarks.at(-1), 2989, 'partition 1 active again');
});

test('snapshot → restore keeps per-partition progress', () => {
  const h = mk();
  h.push([{ ts: 500 }], { partition: 1 });
  h.push([{ ts: 1000 }], { partition: 0 });
  assert.equal(h.watermarks, [489, 489].slice(0, 1));
  const s = h.snapshot();
  const r = mk(); r.restore(s);
  r.push([{ ts: 400 }], { partition: 1 });
  assert.equal(r.watermarks, [], 'restored progress: nothing moves backwards');
  r.push([{ ts: 3000 }], { partition: 1 });
  assert.equal(r.watermarks, [989], 'partition 0 progress (1000) survived the restore');
});

test('configuration is validated', () => {
  assert.throws(() => watermarks({ timestamp: 'ts', maxOutOfOrdernessUs: -1 }), /maxOutOfOrdernessUs must be a finite number >= 0/);
});

test.run();
