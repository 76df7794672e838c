/**
 * A topology several tests run: raw order lines (one array per partition) → parse →
 * watermarks → keyBy symbol → sliding 1 s / 250 ms window summing qty, dead letters and
 * late records to their own sinks, windows to 'out'.
 */
import { RawSchema } from '../../src/io.js';
import { collectSink } from '../../src/sinks.js';
import { memorySource } from '../../src/sources.js';
import { TopologyBuilder } from '../../src/topology.js';
import { parse } from '../../operators/parse.js';
import { watermarks } from '../../operators/watermarks.js';
import { window, type WindowOutput } from '../../operators/window.js';

export type RawLine = { key: string; value: string; offset: number; timestamp: number };

export function ordersWindowTopology(parts: RawLine[][], batchSize = 50) {
  const t = new TopologyBuilder('orders');
  const out = collectSink<WindowOutput<{ q: { op: 'sum'; field: 'qty' } }>>();
  const parsed = t.source('in', memorySource(RawSchema, parts, { batchSize })).via('parse', parse({ format: 'json', contract: 'order-event' }));
  parsed.side('dead').to('dlq', collectSink());
  const w = parsed.via('wm', watermarks({ timestamp: 'ts', maxOutOfOrdernessUs: 1000 }))
    .keyBy('by-symbol', (c, i) => c.symbol[i])
    .via('win', window({ kind: 'sliding', size: 1_000_000, slide: 250_000, aggregates: { q: { op: 'sum', field: 'qty' } } }));
  w.side('late').to('late', collectSink());
  w.to('out', out);
  return { topology: t.build(), out };
}
