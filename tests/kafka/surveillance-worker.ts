/**
 * A surveillance process for the kill-and-replay test: orders topic → surveillance
 * topology (the statistical scorer: deterministic, so two runs can be compared alert
 * for alert) → alerts topic, keyed state per partition in a changelog topic,
 * checkpoints every 200 ms. SIGTERM: stop (state saved, offsets committed); SIGKILL: crash.
 *
 *   node dist/tests/kafka/surveillance-worker.js BROKERS IN ALERTS DEAD GROUP
 * With SLUICE_EOS_TXID set, alerts and offsets commit in Kafka transactions (exactly-once).
 */
import { DeadLetterSchema } from '../../src/operator.js';
import { Runtime } from '../../src/runtime.js';
import { kafkaChangelog } from '../../src/kafka/changelog.js';
import { deadLetterHeaders, kafkaSink } from '../../src/kafka/sink.js';
import { kafkaSource } from '../../src/kafka/source.js';
import { kafkaTransactions } from '../../src/kafka/exactly-once.js';
import { AlertSchema, alertJson } from '../../apps/surveillance/alerts.js';
import { surveillanceTopology } from '../../apps/surveillance/topology.js';

const [brokers, input, alerts, dead, groupId] = process.argv.slice(2);
const conn = { brokers: brokers.split(',') };
const eos = process.env.SLUICE_EOS_TXID ? { exactlyOnce: kafkaTransactions({ ...conn, transactionalId: process.env.SLUICE_EOS_TXID, transactionTimeoutMs: 15_000 }) } : {};
// SLUICE_CRASH_AFTER_COMMIT=N: SIGKILL this process right after its Nth transaction commits,
// before the runtime's checkpoint completes (the replay test's exactly-once crash point)
const crashAfter = Number(process.env.SLUICE_CRASH_AFTER_COMMIT ?? 0);
// (counting only transactions that moved the offsets: those are the ones whose state matters)
if (eos.exactlyOnce && crashAfter > 0) {
  const tx = eos.exactlyOnce, barrier = tx.barrier.bind(tx), record = tx.recordPosition.bind(tx);
  const positions = new Map<number, string>();
  let last = '', moved = 0;
  tx.recordPosition = (id, consumer, group, offsets) => { positions.set(id, JSON.stringify(offsets)); record(id, consumer, group, offsets); };
  tx.barrier = (id: number) => barrier(id).then(() => {
    const pos = positions.get(id);
    positions.delete(id);
    if (pos === undefined || pos === last || pos === '{}') return;
    last = pos;
    if (++moved >= crashAfter) process.kill(process.pid, 'SIGKILL');
  });
}
const topology = surveillanceTopology({
  source: kafkaSource({ ...conn, topics: [input], groupId, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500, ...eos }),
  parse: { format: 'json', contract: 'order-event' },
  alerts: kafkaSink(AlertSchema, { ...conn, topic: alerts, key: (b, i) => b.columns.symbol[i], serialize: alertJson, ...eos }),
  deadLetters: kafkaSink(DeadLetterSchema, { ...conn, topic: dead, key: () => null, headers: deadLetterHeaders, ...eos }),
});
// negative controls for the replay test: SLUICE_NO_CHANGELOG=1 restarts without the keyed
// state; SLUICE_CHANGELOG_OUTSIDE_TXN=1 (exactly-once) saves it after the transaction instead of in it
const inTxn = process.env.SLUICE_CHANGELOG_OUTSIDE_TXN ? {} : eos;
const store = process.env.SLUICE_NO_CHANGELOG ? {} : { stateStore: kafkaChangelog({ ...conn, topic: `${groupId}-changelog`, ...inTxn }) };
const rt = new Runtime(topology, { checkpointIntervalMs: 200, ...store });
process.once('SIGTERM', () => rt.stop({ drain: false }));
// the handler is in place: a SIGTERM from now on stops cleanly (before it, node's default kills by signal)
process.stdout.write('ready\n');
rt.run().then(() => process.exit(0), (e) => { process.stderr.write(`surveillance worker: ${(e as Error).stack}\n`); process.exit(1); });
