/**
 * Keyed state per Kafka partition in a compacted changelog topic: one record per
 * partition name ('topic/partition'), its value the snapshot of every keyed stage for
 * that partition. Compaction keeps the latest per partition; a process that is assigned
 * a partition reads the topic to its end and restores the newest value.
 *
 *   new Runtime(topology, { checkpointIntervalMs: 1000, stateStore: kafkaChangelog({ brokers, topic: 'sluice-demo-changelog' }) })
 */
import { Partitioners, type Producer } from 'kafkajs';
import { ConfigError } from '../errors.js';
import type { PartitionStateStore } from '../partitioned.js';
import { validateConnection, type KafkaConnection } from './config.js';
import { createTransport } from './transport.js';
import type { KafkaTransactions } from './exactly-once.js';

export interface KafkaChangelogOptions extends KafkaConnection {
  topic: string;
  /**
   * Exactly-once: write each checkpoint's state inside the output transaction, so state,
   * outputs and offsets commit or abort together (readers of the changelog read committed)
   */
  exactlyOnce?: KafkaTransactions;
}

export function kafkaChangelog(o: KafkaChangelogOptions): PartitionStateStore {
  validateConnection(o, 'kafkaChangelog', ['topic', 'exactlyOnce']);
  if (typeof o.topic !== 'string' || !o.topic) throw new ConfigError('kafkaChangelog: options.topic is required');
  // the store always talks through kafkajs: it needs assign-free whole-topic reads, which both clients offer this way
  const { kafka } = createTransport({ ...o, transport: 'kafkajs' });
  let producer: Producer | null = null;
  let ready: Promise<void> | null = null;
  const ensure = () => (ready ??= (async () => {
    const admin = kafka.admin();
    await admin.connect();
    if (!(await admin.listTopics()).includes(o.topic)) {
      try {
        await admin.createTopics({ topics: [{ topic: o.topic, numPartitions: 1, configEntries: [{ name: 'cleanup.policy', value: 'compact' }] }], waitForLeaders: true });
      } catch { /* created meanwhile by another process */ }
    }
    await admin.disconnect();
    producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner, allowAutoTopicCreation: false });
    await producer.connect();
  })());

  const messagesOf = (states: Map<string, Record<string, unknown>>) => [...states].map(([name, value]) => ({ key: name, value: JSON.stringify(value) }));
  const eos = o.exactlyOnce;
  return {
    ...(eos ? {
      bindCheckpoints(snapshot: (id: number) => Map<string, Record<string, unknown>> | null) {
        eos.beforeCommit(async (id, send) => {
          const states = snapshot(id);
          if (!states || states.size === 0) return;
          await ensure();
          await send(o.topic, messagesOf(states));
        });
      },
    } : {}),
    async save(states) {
      if (states.size === 0 || eos) return; // exactly-once: written in the transaction (bindCheckpoints)
      await ensure();
      await producer!.send({ topic: o.topic, acks: -1, messages: messagesOf(states) });
    },
    async load(names) {
      await ensure();
      const wanted = new Set(names);
      const out = new Map<string, Record<string, unknown>>();
      const admin = kafka.admin();
      await admin.connect();
      const ends = await admin.fetchTopicOffsets(o.topic);
      await admin.disconnect();
      const end = new Map(ends.map((e) => [e.partition, Number(e.high)]));
      if ([...end.values()].every((h) => h === 0)) return out;
      // read the whole (compacted, small) topic to its current end
      const reader = kafka.consumer({ groupId: `sluice-changelog-reader-${process.pid}-${Date.now()}-${Math.random().toString(36).slice(2)}`, maxWaitTimeInMs: 50 });
      await reader.connect();
      await reader.subscribe({ topic: o.topic, fromBeginning: true });
      const left = new Map(end);
      await new Promise<void>((resolve, reject) => {
        const check = () => { if ([...left.values()].every((v) => v <= 0)) resolve(); };
        // reading committed records only, the reader stops at the last stable offset, and
        // transaction markers take offsets no message has: a fetch that returns nothing
        // after data, or several in a row before any (a topic of markers and aborted records
        // only), means the topic is read to its (stable) end
        let fetched = 0, empty = 0;
        reader.on(reader.events.FETCH, (e: { payload: { numberOfBatches: number } }) => {
          if (e.payload.numberOfBatches > 0) { fetched++; empty = 0; return; }
          if (fetched > 0 || ++empty >= 5) setTimeout(resolve, 0);
        });
        reader.run({
          eachMessage: async ({ partition, message }) => {
            const k = message.key?.toString();
            if (k && wanted.has(k)) {
              if (message.value) out.set(k, JSON.parse(message.value.toString()) as Record<string, unknown>);
              else out.delete(k);
            }
            left.set(partition, (end.get(partition) ?? 0) - (Number(message.offset) + 1));
            check();
          },
        }).catch(reject);
        check();
      });
      await reader.disconnect();
      return out;
    },
    async close() { await producer?.disconnect(); },
  };
}
