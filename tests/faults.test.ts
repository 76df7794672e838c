/**
 * Faults inside one process (issue #8): a sink that stalls for seconds. Records keep
 * arriving on a wall-clock schedule; while the sink is stuck the engine holds them
 * (backpressure up to the source, queues bounded), loses none, and catches up after.
 * The recovery time is measured and printed, not asserted (timing is the report's job).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchOf, type Batch } from '../src/batch.js';
import type { SourceDef } from '../src/io.js';
import { Runtime } from '../src/runtime.js';
import { TopologyBuilder } from '../src/topology.js';

const T = { seq: 'f64', due: 'f64' } as const;
type T = typeof T;

/** `total` records due at `rate` per second from the first read, each stamped with its due time (ms) */
function paced(total: number, rate: number): SourceDef<T> {
  return {
    kind: 'paced', output: T,
    async open() {
      let next = 0, t0 = -1;
      return {
        partitions: () => [0],
        position: () => next,
        close: async () => {},
        async read(max: number) {
          if (t0 < 0) t0 = performance.now();
          if (next >= total) return { batches: [], done: true };
          const due = Math.min(total, Math.floor(((performance.now() - t0) / 1000) * rate));
          if (due <= next) { await new Promise((r) => setTimeout(r, 1)); return { batches: [], done: false }; }
          const rows = [];
          for (const end = Math.min(due, next + max); next < end; next++) rows.push({ seq: next, due: t0 + (next / rate) * 1000 });
          return { batches: [batchOf(T, rows, { partition: 0 })], done: false };
        },
      };
    },
  };
}

test('a sink that stalls for 2 s: nothing lost or reordered, the source held back with bounded queues, the backlog drained after', async () => {
  const RATE = 2000, TOTAL = 10_000, STALL_MS = 2000;
  const seen: number[] = [];
  const lag: [number, number][] = []; // [arrival ms, lag ms]
  let stall = null as { from: number; to: number } | null;
  const t = new TopologyBuilder('stall');
  t.source('in', paced(TOTAL, RATE))
    .filter('pass', () => true)
    .to('stalling', {
      kind: 'stalling-sink',
      async open() {
        return {
          write(b: Batch<T>) {
            const now = performance.now();
            for (let i = 0; i < b.length; i++) { seen.push(b.columns.seq[i]); lag.push([now, now - b.columns.due[i]]); }
            // one write, a second into the run, takes two seconds to be acknowledged
            if (!stall && seen.length >= RATE) { stall = { from: now, to: now + STALL_MS }; return new Promise<void>((r) => setTimeout(r, STALL_MS)); }
            return undefined;
          },
          close: async () => {},
        };
      },
    });
  const summary = await new Runtime(t.build(), { queueCapacity: 1000, sourceBatchSize: 100 }).run();
  assert.equal(seen.length, TOTAL, 'every record reached the sink');
  assert.ok(seen.every((v, i) => v === i), 'in order');
  assert.ok(stall, 'the sink stalled');
  assert.ok(summary.maxQueuedRecords <= 1100, `queues bounded while stalled: ${summary.maxQueuedRecords}`);
  const pass = summary.stages.find((s) => s.name === 'pass')!;
  assert.ok(pass.backpressuredMs >= STALL_MS * 0.5, `the stage before the sink waited out the stall: ${pass.backpressuredMs.toFixed(0)} ms`);
  const worst = Math.max(...lag.map(([, l]) => l));
  assert.ok(worst >= STALL_MS * 0.9, `records due during the stall waited for it: ${worst.toFixed(0)} ms`);
  // recovery: from the end of the stall until records arrive within 50 ms of their due time again
  const back = lag.find(([at, l]) => at > stall!.to && l < 50);
  assert.ok(back, 'caught up before the end of the input');
  process.stdout.write(`\n  stalled sink: ${STALL_MS} ms stall at ${RATE}/s; worst lag ${worst.toFixed(0)} ms; caught up ${(back![0] - stall!.to).toFixed(0)} ms after the stall ended; max queued ${summary.maxQueuedRecords}; ${TOTAL} records, none lost\n`);
});

test.run();
