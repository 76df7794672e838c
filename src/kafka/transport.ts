/**
 * One client interface, three implementations: kafkajs, @confluentinc/kafka-javascript
 * (librdkafka) through its KafkaJS-compatible API, and @platformatic/kafka through an
 * adapter to the members Sluice calls (./platformatic.ts says how it differs). kafkajs and
 * the confluent client differ in where options
 * live (the confluent client takes KafkaJS options in a `kafkaJS` block, and sets
 * fromBeginning / autoCommit / acks per client rather than per call), in how a member
 * learns its assignment (GROUP_JOIN event vs rebalance listener), in how offsets join a
 * transaction, and in the default partitioner (set here to Java's murmur2 for both, so a
 * key lands on the same partition whichever client wrote it). This module hides all of
 * that; sources, sinks and transactions use only what it returns.
 *
 * The confluent client is optional: asked for and not installed, Sluice says so in one
 * log line and uses the default transport (DEFAULT_TRANSPORT, ./config.ts).
 */
import { log as logger } from '../log.js';
import { createRequire } from 'node:module';
import { connect as tlsConnect, type ConnectionOptions } from 'node:tls';
import { isIP } from 'node:net';
import { SluiceError } from '../errors.js';
import { CompressionTypes, Kafka, logLevel, Partitioners, type Consumer, type KafkaConfig, type Producer, type SASLOptions, type Transaction } from 'kafkajs';
import { DEFAULT_TRANSPORT, type KafkaConnection, type TransportName } from './config.js';
import { asConsumer, asProducer, PlatformaticConsumer, PlatformaticProducer, sendPlatformaticOffsets } from './platformatic.js';

const require = createRequire(import.meta.url);

export interface ConsumerSettings {
  groupId: string;
  fromBeginning: boolean;
  sessionTimeoutMs: number;
  heartbeatIntervalMs: number;
  maxWaitMs: number;
  /** most bytes fetched per partition per request: with the buffer cap, bounds memory */
  maxBytesPerPartition: number;
  /** the member's partitions after every change ('topic/partition' keys); joined: a new assignment, not a revoke */
  onAssignment(assigned: Set<string>, joined: boolean): void;
}

export interface ProducerSettings {
  transactionalId?: string;
  transactionTimeoutMs?: number;
  acks?: -1 | 1;
  gzip?: boolean;
}

export interface TransportConsumer {
  readonly consumer: Consumer;
  subscribe(topics: (string | RegExp)[]): Promise<void>;
  /** run() options this client takes besides the handler (kafkajs: autoCommit off here) */
  readonly runOptions: { autoCommit?: boolean };
  /**
   * How a full buffer pushes back: 'pause' the partition (kafkajs: cheap, and a held
   * callback would stall every partition of the fetch), or 'hold' the batch callback
   * until the buffer drains (librdkafka: its pause/resume costs a re-fetch, and it
   * heartbeats from its own thread, so holding does not risk the group membership).
   */
  readonly backpressure: 'pause' | 'hold';
}

export interface Transport {
  /** the implementation actually in use */
  readonly name: TransportName;
  consumer(s: ConsumerSettings): TransportConsumer;
  producer(s: ProducerSettings): Producer;
  /** send(): per-call options that this client accepts */
  sendOptions(s: ProducerSettings): { acks?: number; compression?: CompressionTypes };
  /** add the consumer's offsets to a transaction */
  sendOffsets(txn: Transaction, consumer: Consumer, groupId: string, topics: { topic: string; partitions: { partition: number; offset: string }[] }[]): Promise<void>;
  /** a plain KafkaJS-shaped client, for admin work */
  readonly kafka: Kafka;
  /**
   * Checks what retrying cannot heal before the client connects (call it before connect):
   * kafkajs only. Rejects with SLUICE_ERR_KAFKA_UNREACHABLE when a broker's TLS certificate
   * is not trusted.
   */
  preflight(): Promise<void>;
}

/** Node's codes for a certificate the client does not trust (tls.TLSSocket 'error' e.code) */
const CERTIFICATE_REJECTED = /CERT|SELF_SIGNED|SIGNATURE|ALTNAME/;

/**
 * One TLS handshake with each broker in turn, with the client's own TLS options. kafkajs
 * treats a certificate it does not trust as a retriable connection error: with retries 8
 * from 100 ms that is ~25 s of backoff plus a handshake per try before the job fails (one
 * clean-clone CI run saw it pass 45 s under load), although no retry can make the
 * certificate trusted. So the first broker that answers decides: a rejected certificate
 * fails the job at once; an unreachable broker is left to the client's own retries (it may
 * come up).
 */
export async function checkBrokerCertificates(brokers: string[], ssl: boolean | ConnectionOptions, timeoutMs: number): Promise<void> {
  const opts: ConnectionOptions = typeof ssl === 'object' ? ssl : {};
  for (const b of brokers) {
    const at = b.lastIndexOf(':');
    const host = b.slice(0, at), port = Number(b.slice(at + 1));
    const verdict = await new Promise<Error | 'ok' | 'unreachable'>((resolve) => {
      const socket = tlsConnect({ ...opts, host, port, ...(isIP(host) ? {} : { servername: host }) }, () => { socket.end(); resolve('ok'); });
      socket.setTimeout(timeoutMs, () => { socket.destroy(); resolve('unreachable'); });
      socket.on('error', (e: NodeJS.ErrnoException) => { socket.destroy(); resolve(e.code && CERTIFICATE_REJECTED.test(e.code) ? e : 'unreachable'); });
    });
    if (verdict === 'ok') return;
    if (verdict instanceof Error) {
      throw new SluiceError('SLUICE_ERR_KAFKA_UNREACHABLE', `the Kafka broker's TLS certificate is not trusted (${(verdict as NodeJS.ErrnoException).code}: ${verdict.message}); give its CA in ssl.ca, retrying will not help`, { domain: 'external', cause: verdict });
    }
  }
}

let warnedFallback = false;

/** stderr logger at WARN and above; messages never include configs (secrets) */
const logCreator = () => ({ namespace, level, log }: { namespace: string; level: number; log: { message: string; error?: string } }) => {
  if (level > logLevel.WARN) return;
  logger().warn(`[kafka ${namespace}] ${log.message}${log.error ? `: ${log.error}` : ''}`);
};

const key = (topic: string, partition: number) => `${topic}/${partition}`;

export function createTransport(c: KafkaConnection): Transport {
  const asked = c.transport ?? DEFAULT_TRANSPORT;
  if (asked === 'platformatic') return platformaticTransport(c);
  if (asked === 'confluent') {
    let mod: { KafkaJS: { Kafka: new (cfg: object) => Kafka } } | undefined;
    try { mod = require('@confluentinc/kafka-javascript'); } catch { mod = undefined; }
    if (mod) return confluentTransport(mod.KafkaJS.Kafka, c);
    if (!warnedFallback) {
      warnedFallback = true;
      logger().warn(`sluice: @confluentinc/kafka-javascript is not installed; using ${DEFAULT_TRANSPORT} (bash scripts/install-confluent.sh installs it)`);
    }
    return createTransport({ ...c, transport: DEFAULT_TRANSPORT });
  }
  return kafkajsTransport(c);
}

function kafkajsTransport(c: KafkaConnection): Transport {
  const cfg: KafkaConfig = { brokers: c.brokers, clientId: c.clientId ?? 'sluice', logLevel: logLevel.WARN, logCreator, retry: { retries: 8, initialRetryTime: 100 } };
  if (c.ssl) cfg.ssl = c.ssl;
  if (c.sasl) cfg.sasl = c.sasl as SASLOptions;
  if (c.connectionTimeoutMs) cfg.connectionTimeout = c.connectionTimeoutMs;
  if (c.requestTimeoutMs) cfg.requestTimeout = c.requestTimeoutMs;
  const kafka = new Kafka(cfg);
  let checked = false;
  return {
    name: 'kafkajs',
    kafka,
    consumer(s) {
      const consumer = kafka.consumer({ groupId: s.groupId, maxWaitTimeInMs: s.maxWaitMs, maxBytesPerPartition: s.maxBytesPerPartition, sessionTimeout: s.sessionTimeoutMs, heartbeatInterval: s.heartbeatIntervalMs, rebalanceTimeout: 20_000, retry: { retries: 8 } });
      consumer.on(consumer.events.GROUP_JOIN, (e) => {
        const now = new Set<string>();
        for (const [topic, parts] of Object.entries(e.payload.memberAssignment)) for (const p of parts) now.add(key(topic, p));
        s.onAssignment(now, true);
      });
      return { consumer, runOptions: { autoCommit: false }, backpressure: 'pause', subscribe: async (topics) => { for (const topic of topics) await consumer.subscribe({ topic, fromBeginning: s.fromBeginning }); } };
    },
    producer(s) {
      if (s.transactionalId) {
        // an idempotent producer must not give up on retries (kafkajs warns it breaks EoS otherwise)
        return kafka.producer({ transactionalId: s.transactionalId, idempotent: true, maxInFlightRequests: 1, transactionTimeout: s.transactionTimeoutMs ?? 30_000, retry: { retries: Number.MAX_SAFE_INTEGER, maxRetryTime: 2_000 }, createPartitioner: Partitioners.DefaultPartitioner });
      }
      return kafka.producer({ allowAutoTopicCreation: false, retry: { retries: 8 }, createPartitioner: Partitioners.DefaultPartitioner });
    },
    sendOptions: (s) => ({ acks: s.acks ?? -1, compression: s.gzip ? CompressionTypes.GZIP : CompressionTypes.None }),
    sendOffsets: (txn, _consumer, groupId, topics) => txn.sendOffsets({ consumerGroupId: groupId, topics }),
    preflight: async () => { if (c.ssl && !checked) { await checkBrokerCertificates(c.brokers, c.ssl, c.connectionTimeoutMs ?? 10_000); checked = true; } },
  };
}

function confluentTransport(KafkaCtor: new (cfg: object) => Kafka, c: KafkaConnection): Transport {
  const kafkaJS: Record<string, unknown> = { brokers: c.brokers, clientId: c.clientId ?? 'sluice', logLevel: logLevel.WARN };
  const rdkafka: Record<string, unknown> = {};
  if (c.ssl) {
    // this client takes `ssl: true` only; certificates go to librdkafka's own properties
    kafkaJS.ssl = true;
    if (typeof c.ssl === 'object') {
      const pem = (v: unknown) => (Array.isArray(v) ? v : [v]).map(String).join('\n');
      if (c.ssl.ca) rdkafka['ssl.ca.pem'] = pem(c.ssl.ca);
      if (c.ssl.cert) rdkafka['ssl.certificate.pem'] = pem(c.ssl.cert);
      if (c.ssl.key) rdkafka['ssl.key.pem'] = pem(c.ssl.key);
      if (c.ssl.rejectUnauthorized === false) rdkafka['enable.ssl.certificate.verification'] = false;
    }
  }
  if (c.sasl) kafkaJS.sasl = c.sasl;
  if (c.connectionTimeoutMs) kafkaJS.connectionTimeout = c.connectionTimeoutMs;
  if (c.requestTimeoutMs) kafkaJS.requestTimeout = c.requestTimeoutMs;
  const kafka = new KafkaCtor({ kafkaJS, ...rdkafka });
  return {
    name: 'confluent',
    kafka,
    consumer(s) {
      const assigned = new Set<string>();
      const consumer = kafka.consumer({
        kafkaJS: {
          groupId: s.groupId, fromBeginning: s.fromBeginning, autoCommit: false, maxWaitTimeInMs: s.maxWaitMs,
          // rebalanceTimeout is also max.poll.interval: a batch callback held by backpressure
          // (a stalled sink) may wait this long before the member is considered gone
          sessionTimeout: s.sessionTimeoutMs, heartbeatInterval: s.heartbeatIntervalMs, rebalanceTimeout: 300_000,
        },
        // librdkafka's rebalance callback (codes ERR__ASSIGN_PARTITIONS −175, ERR__REVOKE_PARTITIONS −174);
        // returning nothing keeps the client's own (un)assignment
        rebalance_cb: (err: { code: number }, tps: { topic: string; partition: number }[]) => {
          if (err.code === -175) for (const t of tps) assigned.add(key(t.topic, t.partition));
          else if (err.code === -174) for (const t of tps) assigned.delete(key(t.topic, t.partition));
          s.onAssignment(new Set(assigned), err.code === -175);
        },
        // batches as large as the engine's, and fetches that return at once (low latency)
        'js.consumer.max.batch.size': 1024,
        'fetch.wait.max.ms': s.maxWaitMs,
        'max.partition.fetch.bytes': s.maxBytesPerPartition,
      } as never);
      return { consumer, runOptions: {}, backpressure: 'hold', subscribe: (topics) => consumer.subscribe({ topics } as never) };
    },
    producer(s) {
      // this client names codecs by string (librdkafka's compression.codec)
      const k: Record<string, unknown> = { acks: s.acks ?? -1, compression: s.gzip ? 'gzip' : 'none', allowAutoTopicCreation: false };
      if (s.transactionalId) Object.assign(k, { transactionalId: s.transactionalId, idempotent: true, transactionTimeout: s.transactionTimeoutMs ?? 30_000 });
      // librdkafka lingers 5 ms by default; Java's murmur2 partitioner keeps keys where other clients put them
      return kafka.producer({ kafkaJS: k, 'linger.ms': 1, partitioner: 'murmur2_random' } as never);
    },
    sendOptions: () => ({}),
    sendOffsets: (txn, consumer, _groupId, topics) => txn.sendOffsets({ consumer, topics } as never),
    // librdkafka fails an untrusted certificate by itself (tests/security.test.ts)
    preflight: async () => undefined,
  };
}

function platformaticTransport(c: KafkaConnection): Transport {
  // admin work (topic checks, the changelog's reader) stays on kafkajs, as for the other transports
  const admin = kafkajsTransport(c);
  return {
    name: 'platformatic',
    kafka: admin.kafka,
    consumer(s) {
      const consumer = new PlatformaticConsumer(c, s);
      // a stream pauses as a whole: push back by holding the batch callback (the stream pauses while it is held)
      return { consumer: asConsumer(consumer), runOptions: {}, backpressure: 'hold', subscribe: async (topics) => consumer.subscribe(topics.map(String)) };
    },
    producer: (s) => asProducer(new PlatformaticProducer(c, s)),
    // acks and compression are set per producer
    sendOptions: () => ({}),
    sendOffsets: (txn, consumer, _groupId, topics) => sendPlatformaticOffsets(txn, consumer, topics),
    // the TLS handshake fails on an untrusted certificate before any retry (tests/security.test.ts)
    preflight: async () => undefined,
  };
}
