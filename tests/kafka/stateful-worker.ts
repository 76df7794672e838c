/**
 * A stateful Sluice process for the rebalance test: orders → parse → watermarks →
 * keyBy(symbol) → 1 s tumbling windows (count, qty) → topic, keyed state per partition in
 * a changelog topic. SIGTERM: stop without draining (state saved, for whoever takes the
 * partitions next). SIGINT: drain (flush every window) and stop.
 *
 *   node dist/tests/kafka/stateful-worker.js BROKERS IN OUT GROUP TRANSPORT
 */
import { DeadLetterSchema } from '../../src/operator.js';
import { OrderSchema } from '../../src/contracts.js';
import { Runtime } from '../../src/runtime.js';
import { TopologyBuilder } from '../../src/topology.js';
import { kafkaChangelog } from '../../src/kafka/changelog.js';
import { kafkaSink } from '../../src/kafka/sink.js';
import { kafkaSource } from '../../src/kafka/source.js';
import type { TransportName } from '../../src/kafka/config.js';
import { countSink } from '../../src/sinks.js';
import { parse } from '../../operators/parse.js';
import { watermarks } from '../../operators/watermarks.js';
import { window } from '../../operators/window.js';

const [brokers, input, output, groupId, transport] = process.argv.slice(2);
const conn = { brokers: brokers.split(','), transport: transport as TransportName };
const t = new TopologyBuilder('stateful');
const parsed = t.source('in', kafkaSource({ ...conn, topics: [input], groupId, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 }))
  .via('parse', parse({ format: 'json', contract: 'order-event' }));
parsed.side('dead').to('dead', countSink<DeadLetterSchema>());
const w = parsed
  .via('wm', watermarks<OrderSchema>({ timestamp: 'ts', maxOutOfOrdernessUs: 1_000 }))
  .keyBy('by-symbol', (c, i) => c.symbol[i])
  // replayed records after a partition moves may be behind this process's watermark: keep windows open
  .via('win', window({ kind: 'tumbling', size: 1_000_000, allowedLatenessUs: 600_000_000, aggregates: { qty: { op: 'sum', field: 'qty' } } }));
w.side('late').to('late', countSink());
w.to('out', kafkaSink(w.schema, { ...conn, topic: output, key: (b, i) => b.columns.key[i] }));
// SLUICE_NO_CHANGELOG=1 runs without moving state: the negative control for the rebalance test
const store = process.env.SLUICE_NO_CHANGELOG ? {} : { stateStore: kafkaChangelog({ brokers: conn.brokers, topic: `${groupId}-changelog` }) };
const rt = new Runtime(t.build(), { checkpointIntervalMs: 200, ...store });
process.once('SIGTERM', () => rt.stop({ drain: false }));
process.once('SIGINT', () => rt.stop({ drain: true }));
rt.run().then(() => process.exit(0), (e) => { process.stderr.write(`stateful worker: ${(e as Error).stack}\n`); process.exit(1); });
