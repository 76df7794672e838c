/**
 * Edges let go of what was taken from them: a spent batch still referenced from the edge's
 * array survived scavenges and was promoted to the old generation, which made the young
 * generation's pauses long enough to be the p99 of the model-free surveillance path (issue #17).
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchOf } from '../src/batch.js';
import { Edge, ItemKind } from '../src/queue.js';

const S = { v: 'f64' } as const;

test('a drained edge holds no taken item; a busy one compacts; records and order are kept', () => {
  const e = new Edge('a', 'b', 100);
  for (let i = 0; i < 3; i++) e.push({ k: ItemKind.Batch, b: batchOf(S, [{ v: i }]) });
  assert.is(e.records, 3);
  const got: number[] = [];
  for (let item = e.shift(); item; item = e.shift()) if (item.k === ItemKind.Batch) got.push(item.b.columns.v[0] as number);
  assert.equal(got, [0, 1, 2]);
  assert.is(e.records, 0);
  assert.is(e.slotsHeld, 0, 'nothing taken stays referenced once the edge drains');
  // never drained: taken slots are let go of, and the array is compacted past 1024 of them
  for (let i = 0; i < 3000; i++) e.push({ k: ItemKind.Watermark, wm: i, ingest: 0 });
  for (let i = 0; i < 2000; i++) e.shift();
  assert.is(e.size, 1000);
  assert.ok(e.slotsHeld < 3000, `compacted (${e.slotsHeld} slots for ${e.size} items)`);
  assert.is((e.peek() as { wm: number }).wm, 2000);
});

test.run();
