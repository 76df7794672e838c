/**
 * A Sluice process for the Kafka fault tests: topic in → parse → topic out, dead letters
 * to a third topic. Runs until SIGTERM (drains, commits, exits 0) or SIGKILL.
 *
 *   node dist/tests/kafka/worker.js BROKERS IN OUT DLQ GROUP [transport]
 * With SLUICE_EOS_TXID set, exactly-once through transactions with that transactional id.
 */
import { OrderSchema } from '../../src/contracts.js';
import { DeadLetterSchema } from '../../src/operator.js';
import { Runtime } from '../../src/runtime.js';
import { TopologyBuilder } from '../../src/topology.js';
import { deadLetterHeaders, kafkaSink } from '../../src/kafka/sink.js';
import { kafkaSource } from '../../src/kafka/source.js';
import type { TransportName } from '../../src/kafka/config.js';
import { kafkaTransactions } from '../../src/kafka/exactly-once.js';
import { parse } from '../../operators/parse.js';

const [brokers, input, output, dlq, groupId, transport] = process.argv.slice(2);
const conn = { brokers: brokers.split(','), transport: (transport ?? 'kafkajs') as TransportName };
const eos = process.env.SLUICE_EOS_TXID ? { exactlyOnce: kafkaTransactions({ ...conn, transactionalId: process.env.SLUICE_EOS_TXID, transactionTimeoutMs: 15_000 }) } : {};
const t = new TopologyBuilder('worker');
const parsed = t.source('in', kafkaSource({ ...conn, topics: [input], groupId, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, ...eos })).via('parse', parse({ format: 'json', contract: 'order-event' }));
parsed.side('dead').to('dlq', kafkaSink(DeadLetterSchema, { ...conn, topic: dlq, key: () => null, headers: deadLetterHeaders, ...eos }));
parsed.to('out', kafkaSink(OrderSchema, { ...conn, topic: output, key: (b, i) => b.columns.symbol[i], ...eos }));
const rt = new Runtime(t.build(), { checkpointIntervalMs: 100 });
process.once('SIGTERM', () => rt.stop());
rt.run().then(() => { process.stdout.write('worker: stopped cleanly\n'); process.exit(0); }, (e) => { process.stderr.write(`worker: ${(e as Error).stack}\n`); process.exit(1); });
process.stdout.write('worker: running\n');
