import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { TopologyError } from '../src/errors.js';
import { RawSchema } from '../src/io.js';
import { collectSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { TopologyBuilder } from '../src/topology.js';
import type { OrderSchema } from '../src/contracts.js';
import { parse } from '../operators/parse.js';
import { normalize } from '../operators/normalize.js';
import { window } from '../operators/window.js';
import { featurize } from '../operators/featurize.js';

const problems = (fn: () => unknown): string => {
  try { fn(); } catch (e) { assert.instance(e, TopologyError); assert.equal((e as TopologyError).code, 'SLUICE_ERR_TOPOLOGY'); return (e as Error).message; }
  throw new Error('expected a TopologyError');
};

test('every problem of a graph is listed at once: duplicate names, unconnected outputs, unconnected side outputs', () => {
  const t = new TopologyBuilder('bad');
  const raw = t.source('in', memorySource(RawSchema, [[]]));
  const parsed = raw.via('parse', parse({ format: 'json', contract: 'order-event' }));
  parsed.to('in', collectSink()); // duplicate name
  raw.via('dangling', parse({ format: 'json', contract: 'order-event' })).side('dead').to('dlq', collectSink());
  const msg = problems(() => t.build());
  assert.match(msg, /stage name 'in' is used twice/);
  assert.match(msg, /side output 'parse.dead' goes nowhere/);
  assert.match(msg, /output of stage 'dangling' goes nowhere: every branch must end in a sink/);
});

test('a keyed operator behind an unkeyed stream is rejected at build time too (for JavaScript callers)', () => {
  const t = new TopologyBuilder('unkeyed');
  const parsed = t.source('in', memorySource(RawSchema, [[]])).via('parse', parse({ format: 'json', contract: 'order-event' }));
  parsed.side('dead').to('dlq', collectSink());
  // the cast stands in for untyped JavaScript; TypeScript rejects this line (see below)
  (parsed as unknown as { via: (n: string, d: unknown) => { to: (n: string, s: unknown) => void } }).via('norm', normalize({ fields: ['qty'], method: 'robust' })).to('out', collectSink());
  assert.match(problems(() => t.build()), /stage 'norm' \(normalize\) keeps per-key state and needs keyed input: put keyBy before it/);
});

test('cycles and unknown inputs are reported', () => {
  const t = new TopologyBuilder('cyclic');
  t.source('in', memorySource(RawSchema, [[]])).to('out', collectSink());
  t.add({ kind: 'op', name: 'a', def: parse({ format: 'json', contract: 'order-event' }) as never, inputs: [{ node: 'b', port: 'main' }], output: {}, sides: {}, keyedOut: false });
  t.add({ kind: 'op', name: 'b', def: parse({ format: 'json', contract: 'order-event' }) as never, inputs: [{ node: 'a', port: 'main' }], output: {}, sides: {}, keyedOut: false });
  t.add({ kind: 'sink', name: 's', def: collectSink() as never, inputs: [{ node: 'ghost', port: 'main' }], output: null, sides: {}, keyedOut: false });
  const msg = problems(() => t.build());
  assert.match(msg, /cycle through stages a, b/);
  assert.match(msg, /stage 's' reads from unknown stage 'ghost'/);
});

test('names are checked for use in metrics labels', () => {
  assert.throws(() => new TopologyBuilder('has space'), /topology name 'has space' must match/);
});

test('wrong wirings are compile-time errors (checked by tsc when the tests build)', () => {
  const t = new TopologyBuilder('types');
  const parsed = t.source('in', memorySource(RawSchema, [[]])).via('parse', parse({ format: 'json', contract: 'order-event' }));
  const keyed = parsed.keyBy('k', (c, i) => c.symbol[i]);
  if (Math.random() < 2) return; // typed wiring only: never run
  // @ts-expect-error a keyed operator on an unkeyed stream
  parsed.via('n1', normalize<OrderSchema, 'qty'>({ fields: ['qty'], method: 'robust' }));
  // @ts-expect-error featurize reads order fields a raw-line stream does not have
  t.source('raw', memorySource(RawSchema, [[]])).keyBy('k2', () => 'x').via('f', featurize());
  // @ts-expect-error a sink of another schema
  keyed.to('wrong', collectSink<RawSchema>());
  // @ts-expect-error side outputs are typed by name
  parsed.side('nope');
  keyed.via('w', window({ kind: 'tumbling', size: 10, aggregates: { n: { op: 'count' } } })).to('ok', collectSink());
});

test.run();
