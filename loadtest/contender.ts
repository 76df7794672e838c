/**
 * One load-test contender as its own process (as it would be deployed), reading order
 * events from an input topic and writing one record per event to an output topic that
 * carries the event's `seq`, so the load generator can pair outputs with inputs.
 *
 *   node dist/loadtest/contender.js KIND TRANSPORT BROKERS INPUT OUTPUT GROUP SUMMARY_FILE
 *
 * KIND:
 *   sluice-passthrough   Sluice topology source → sink (the Kafka floor through the engine)
 *   raw-passthrough      the client by hand: consume a batch, produce it, commit
 *   sluice-surveillance  the surveillance topology (transformer on the worker pool, adaptive
 *                        thresholds); every decision {seq, score, alert} to OUTPUT, alerts to
 *                        OUTPUT-alerts, dead letters to OUTPUT-dead
 *   naive-surveillance   what a team might write by hand: a kafkajs consumer, per event
 *                        JSON.parse → the same features → onnxruntime-node on the main
 *                        thread → a static threshold → await producer.send (the kafkajs
 *                        README's eachMessage pattern)
 *   sluice-windowed      the demo job (apps/demo/topology.ts: normalize, featurize, sliding
 *                        windows 10 s / 1 s per participant × symbol); every window row to
 *                        OUTPUT as JSON, dead letters (late events too) to OUTPUT-dead
 *
 * On SIGTERM it stops, writes {processed, inEngine: {p50, p99, ...} µs} to SUMMARY_FILE and
 * exits 0. "In engine" is what the process itself measures: for Sluice the runtime's
 * ingest → sink histogram, for the naive service message handed over → send acknowledged.
 */
import { writeFileSync } from 'node:fs';
import { build as hdr } from 'hdr-histogram-js';
import ort from 'onnxruntime-node';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { Consumer as PConsumer, Producer as PProducer, compatibilityPartitioner, type Message as PMessage } from '@platformatic/kafka';
import { encodeOne } from './encode-one.js';
import { RawSchema } from '../src/io.js';
import { DeadLetterSchema } from '../src/operator.js';
import { Runtime, type RunSummary } from '../src/runtime.js';
import { TopologyBuilder } from '../src/topology.js';
import { deadLetterHeaders, kafkaSink } from '../src/kafka/sink.js';
import { kafkaSource } from '../src/kafka/source.js';
import { createTransport } from '../src/kafka/transport.js';
import type { TransportName } from '../src/kafka/config.js';
import { ModelRegistry } from '../src/inference/registry.js';
import { AlertSchema } from '../apps/surveillance/alerts.js';
import { OrderSequenceEncoder } from '../apps/surveillance/order-sequence.js';
import { openSurveillanceModel, surveillanceTopology } from '../apps/surveillance/topology.js';
import { DemoWindowSchema, demoTopology } from '../apps/demo/topology.js';

/** 'streams-*' are the Java contenders (loadtest/streams/, run by run.ts with java, not by this file) */
export type ContenderKind = 'sluice-passthrough' | 'raw-passthrough' | 'sluice-surveillance' | 'naive-surveillance' | 'streams-surveillance' | 'sluice-windowed' | 'streams-windowed' | 'streams-windowed-grace';
export interface ContenderSummary { processed: number; inEngine: { p50: number; p99: number; p999: number; max: number; count: number } | null }

const [kind, transport, brokerList, input, output, groupId, summaryFile] = process.argv.slice(2) as [ContenderKind, TransportName, string, string, string, string, string];
const brokers = brokerList.split(',');
const conn = { brokers, transport };
const fromSummary = (s: RunSummary, sink: string): ContenderSummary => {
  const l = s.latency[sink];
  return { processed: l?.count ?? 0, inEngine: l ? { p50: l.p50, p99: l.p99, p999: l.p999, max: l.max, count: l.count } : null };
};

async function sluicePassthrough(): Promise<() => Promise<ContenderSummary>> {
  const t = new TopologyBuilder('passthrough');
  t.source('in', kafkaSource({ ...conn, topics: [input], groupId }))
    .to('out', kafkaSink(RawSchema, { ...conn, topic: output, key: (b, i) => b.columns.key[i] || null, serialize: (b, i) => b.columns.value[i] }));
  const rt = new Runtime(t.build(), { checkpointIntervalMs: 1000 });
  const running = rt.run();
  return async () => { rt.stop(); return fromSummary(await running, 'out'); };
}

async function rawPassthrough(): Promise<() => Promise<ContenderSummary>> {
  if (transport === 'platformatic') return rawPlatformaticPassthrough();
  // the same client settings Sluice uses, driven by hand
  const t = createTransport(conn);
  const producer = t.producer({ acks: -1 });
  const sendOptions = t.sendOptions({ acks: -1 });
  const c = t.consumer({ groupId, fromBeginning: true, maxWaitMs: 20, maxBytesPerPartition: 256 * 1024, sessionTimeoutMs: 10_000, heartbeatIntervalMs: 1_000, onAssignment: () => {} });
  await producer.connect();
  await c.consumer.connect();
  await c.subscribe([input]);
  let processed = 0;
  await c.consumer.run({
    ...c.runOptions,
    eachBatch: async ({ batch, resolveOffset }) => {
      await producer.send({ topic: output, messages: batch.messages.map((m) => ({ key: m.key, value: m.value })), ...sendOptions });
      processed += batch.messages.length;
      resolveOffset(batch.messages[batch.messages.length - 1].offset);
      await c.consumer.commitOffsets([{ topic: batch.topic, partition: batch.partition, offset: String(Number(batch.lastOffset()) + 1) }]);
    },
  });
  return async () => { await c.consumer.disconnect(); await producer.disconnect(); return { processed, inEngine: null }; };
}

/**
 * @platformatic/kafka by hand through its own API (not Sluice's adapter): its message
 * stream, what arrived in one event-loop turn produced as one send, then committed.
 */
async function rawPlatformaticPassthrough(): Promise<() => Promise<ContenderSummary>> {
  const base = { clientId: 'raw-platformatic', bootstrapBrokers: brokers };
  const producer = new PProducer({ ...base, acks: -1, partitioner: compatibilityPartitioner });
  const consumer = new PConsumer({ ...base, groupId, autocommit: false, maxWaitTime: 20, maxBytesPerPartition: 256 * 1024 });
  const stream = await consumer.consume({ topics: [input], mode: 'committed', fallbackMode: 'earliest', autocommit: false, maxWaitTime: 20, maxBytesPerPartition: 256 * 1024 });
  let processed = 0;
  let pending: PMessage[] = [];
  let chain = Promise.resolve();
  stream.on('data', (m: PMessage) => {
    pending.push(m);
    if (pending.length > 1) return;
    setImmediate(() => {
      const batch = pending;
      pending = [];
      stream.pause();
      chain = chain.then(async () => {
        await producer.send({ messages: batch.map((x) => ({ topic: output, key: x.key, value: x.value })) });
        const last = new Map<string, PMessage>();
        for (const x of batch) last.set(`${x.topic}/${x.partition}`, x);
        await consumer.commit({ offsets: [...last.values()].map((x) => ({ topic: x.topic, partition: x.partition, offset: x.offset + 1n, leaderEpoch: -1 })) });
        processed += batch.length;
      }).finally(() => stream.resume());
    });
  });
  return async () => { await chain; await stream.close(); await consumer.close(); await producer.close(); return { processed, inEngine: null }; };
}

async function sluiceSurveillance(): Promise<() => Promise<ContenderSummary>> {
  // LOADTEST_INLINE_SMALL=off: every batch to the worker, for paired runs against the default
  // (small batches on the event loop's thread while no worker is busy, src/inference/inline-small.ts)
  const slot = await openSurveillanceModel(process.env.LOADTEST_INLINE_SMALL === 'off' ? { pool: { inlineSmallBatches: false } } : {});
  const topology = surveillanceTopology({
    source: kafkaSource({ ...conn, topics: [input], groupId }),
    parse: { format: 'json', contract: 'order-event', maxLineBytes: 65_536, maxEventTimeSkewUs: 86_400e6 }, slot,
    alerts: kafkaSink(AlertSchema, { ...conn, topic: `${output}-alerts`, key: (b, i) => b.columns.symbol[i] }),
    deadLetters: kafkaSink(DeadLetterSchema, { ...conn, topic: `${output}-dead`, key: () => null, headers: deadLetterHeaders }),
    decisions: kafkaSink({ seq: 'f64', score: 'f64', alert: 'f64', symbol: 'str' }, {
      ...conn, topic: output, key: (b, i) => b.columns.symbol[i],
      serialize: (b, i) => `{"seq":${b.columns.seq[i]},"score":${b.columns.score[i]},"alert":${b.columns.alert[i]}}`,
    }) as never,
  });
  // LOADTEST_CHECKPOINT_MS: the checkpoint interval (default 1,000 ms, as the other contenders commit), for paired runs
  const rt = new Runtime(topology, { checkpointIntervalMs: Number(process.env.LOADTEST_CHECKPOINT_MS ?? 1000) });
  const running = rt.run();
  return async () => { rt.stop(); const s = await running; await slot.close(); return fromSummary(s, 'decisions'); };
}

async function sluiceWindowed(): Promise<() => Promise<ContenderSummary>> {
  const topology = demoTopology({
    source: kafkaSource({ ...conn, topics: [input], groupId }),
    parse: { format: 'json', contract: 'order-event', maxLineBytes: 65_536, maxEventTimeSkewUs: 86_400e6 },
    // the row as JSON (NaN → null), keyed participant|symbol: what WindowedContender.java writes
    output: kafkaSink(DemoWindowSchema, { ...conn, topic: output, key: (b, i) => b.columns.key[i] }),
    deadLetters: kafkaSink(DeadLetterSchema, { ...conn, topic: `${output}-dead`, key: () => null, headers: deadLetterHeaders }),
  });
  const rt = new Runtime(topology, { checkpointIntervalMs: 1000 });
  const running = rt.run();
  // a Kafka job stops without drain: open windows stay in its state for the next process,
  // not flushed half-full (Kafka Streams does not flush suppressed windows on close either)
  return async () => { rt.stop({ drain: false }); return fromSummary(await running, 'windows-out'); };
}

async function naiveSurveillance(): Promise<() => Promise<ContenderSummary>> {
  const model = new ModelRegistry().load('surveillance-detector');
  const session = await ort.InferenceSession.create(model.path, { intraOpNumThreads: 1, interOpNumThreads: 1 });
  const encoder = new OrderSequenceEncoder();
  const width = encoder.widths[0];
  const kafka = new Kafka({ brokers, clientId: 'naive-surveillance', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId, maxWaitTimeInMs: 20 });
  const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  await consumer.connect();
  await consumer.subscribe({ topic: input, fromBeginning: true });
  const h = hdr({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  let processed = 0;
  await consumer.run({
    eachMessage: async ({ message }) => {
      const t0 = performance.now();
      const o = JSON.parse(message.value!.toString()) as Record<string, unknown>;
      const buf = encodeOne(encoder, o);
      const r = await session.run({ events: new ort.Tensor('float32', buf, [1, encoder.length, width / encoder.length]) });
      const score = (r.score.data as Float32Array)[0];
      await producer.send({ topic: output, messages: [{ key: String(o.symbol), value: `{"seq":${o.seq},"score":${score},"alert":${score > 0.95 ? 1 : 0}}` }] });
      processed++;
      h.recordValue(Math.max(1, Math.round((performance.now() - t0) * 1000)));
    },
  });
  return async () => {
    await consumer.disconnect(); await producer.disconnect(); await session.release();
    return { processed, inEngine: { p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue, count: h.totalCount } };
  };
}

const starters: Record<Exclude<ContenderKind, 'streams-surveillance' | 'streams-windowed' | 'streams-windowed-grace'>, () => Promise<() => Promise<ContenderSummary>>> = {
  'sluice-passthrough': sluicePassthrough, 'raw-passthrough': rawPassthrough, 'sluice-surveillance': sluiceSurveillance, 'naive-surveillance': naiveSurveillance, 'sluice-windowed': sluiceWindowed,
};
if (!(kind in starters)) { process.stderr.write(`contender: unknown kind '${kind}'\n`); process.exit(2); }
const stop = await starters[kind as keyof typeof starters]();
process.stdout.write('ready\n');
process.once('SIGTERM', () => {
  stop().then((s) => { writeFileSync(summaryFile, JSON.stringify(s)); process.exit(0); }, (e) => { process.stderr.write(`contender: ${(e as Error).stack}\n`); process.exit(1); });
});
