/**
 * The third transport: @platformatic/kafka, a maintained pure-JavaScript client (no native
 * build, transactions supported). Its API is not KafkaJS-shaped — a consumer is a Readable
 * stream of single messages, offsets are bigints, a transaction adds offsets by message —
 * so this module adapts it to the few KafkaJS members that Sluice's source, sinks and
 * transactions call (and no others):
 *
 *   consumer: connect, run({ eachBatch }), commitOffsets, disconnect (pause/resume: unused,
 *             the transport pushes back by holding the batch callback)
 *   producer: connect, send, transaction() → send / commit / abort, disconnect
 *   offsets into a transaction: `sendPlatformaticOffsets`
 *
 * Admin work (topic checks, the changelog) stays on kafkajs, as it does for every transport.
 *
 * How it differs from the other two, and why this adapter does what it does:
 * - Messages arrive one at a time on the stream's 'data' event. The adapter pauses the
 *   stream at a fetch's first message, gathers the rest of that fetch and hands it over as
 *   one batch per partition, so the engine sees batches as it does from kafkajs and
 *   librdkafka; the stream resumes (and fetches again) once every batch callback returned.
 * - Backpressure: a stream pauses as a whole, not per partition. While the source holds a
 *   batch callback (its buffer is full) nothing more is fetched for any partition;
 *   heartbeats run on the client's own timer, so holding does not cost the group membership
 *   (tests/kafka.test.ts, the slow-sink test, checks both).
 * - The stream reports no high watermark: the adapter asks for each partition's end offset
 *   once a second (one ListOffsets request) and hands the latest to the source with each
 *   batch, so the lag gauge reads up to a second behind the log's end.
 * - A stream that fails (a broker restart) is destroyed by the client; the adapter opens a
 *   new one from the committed offsets every second until one opens, as the source does
 *   for kafkajs after a crash it will not restart from.
 * - Partitioning: the client's `compatibilityPartitioner` is Java's murmur2 masked with
 *   0x7fffffff, and the producer takes it modulo the partition count — the same partition
 *   kafkajs's DefaultPartitioner and librdkafka's murmur2_random give a key.
 */
import { Consumer as PConsumer, Producer as PProducer, compatibilityPartitioner, type Message as PMessage } from '@platformatic/kafka';
import type { ConnectionOptions } from 'node:tls';
import type { Consumer, EachBatchPayload, KafkaMessage, Producer, ProducerRecord, Transaction } from 'kafkajs';
import { log } from '../log.js';
import type { KafkaConnection } from './config.js';
import type { ConsumerSettings, ProducerSettings } from './transport.js';

/** what both client kinds take to reach the brokers */
function connectionOptions(c: KafkaConnection) {
  const o: Record<string, unknown> = { clientId: c.clientId ?? 'sluice', bootstrapBrokers: c.brokers, retries: 8, retryDelay: backoff };
  if (c.ssl) o.tls = typeof c.ssl === 'object' ? (c.ssl as ConnectionOptions) : {};
  if (c.sasl) o.sasl = { mechanism: c.sasl.mechanism.toUpperCase(), username: c.sasl.username, password: c.sasl.password };
  if (c.connectionTimeoutMs) o.connectTimeout = c.connectionTimeoutMs;
  if (c.requestTimeoutMs) o.requestTimeout = c.requestTimeoutMs;
  return o;
}

type PTransaction = Awaited<ReturnType<PProducer['beginTransaction']>>;

const key = (topic: string, partition: number) => `${topic}/${partition}`;

/**
 * Retry delays as kafkajs spaces them (100 ms doubling, ±20% jitter): 8 retries span about
 * 25 s. The client's own default is a constant delay, which spends 8 retries in under a
 * second: a producer then gave up while a restarted broker was still down, and the job
 * ended (tests/kafka-faults.test.ts, the broker-restart test, found it).
 */
export function backoff(_client: unknown, _operation: string, attempt: number): number {
  return Math.min(100 * 2 ** (attempt - 1), 30_000) * (0.8 + Math.random() * 0.4);
}

/** a platformatic message in the KafkaJS shape the source reads (offset and timestamp as strings, headers as a record) */
function toKafkaJsMessage(m: PMessage): KafkaMessage {
  let headers: Record<string, Buffer> | undefined;
  if (m.headers.size) {
    headers = {};
    for (const [k, v] of m.headers) headers[String(k)] = v as Buffer;
  }
  // a tombstone arrives as an empty value here; the source turns both into dead letters
  return { key: m.key && (m.key as Buffer).length ? (m.key as Buffer) : null, value: (m.value as Buffer | undefined) ?? null, offset: String(m.offset), timestamp: String(m.timestamp), headers, attributes: 0, size: 0 } as KafkaMessage;
}

export class PlatformaticConsumer {
  readonly client: PConsumer;
  #topics: string[] = [];
  #stream: Awaited<ReturnType<PConsumer['consume']>> | null = null;
  get stream() { return this.#stream; }
  #pending = new Map<string, { topic: string; partition: number; messages: KafkaMessage[] }>();
  /** a fetch's messages are being gathered or handed over: the stream is paused until they are taken */
  #cycleOpen = false;
  #assigned = new Set<string>();
  #closed = false;
  #eachBatch: ((p: EachBatchPayload) => Promise<void>) | null = null;
  /** end offset per 'topic/partition', refreshed every second for the lag gauge */
  #ends = new Map<string, string>();
  #endsTimer: NodeJS.Timeout | null = null;

  constructor(readonly c: KafkaConnection, readonly s: ConsumerSettings) {
    this.client = new PConsumer({
      ...connectionOptions(c),
      groupId: s.groupId, sessionTimeout: s.sessionTimeoutMs, heartbeatInterval: s.heartbeatIntervalMs,
      // as for librdkafka: a held batch callback (a stalled sink) never ends the membership by itself
      rebalanceTimeout: 300_000,
      autocommit: false, maxWaitTime: s.maxWaitMs, maxBytesPerPartition: s.maxBytesPerPartition, minBytes: 1,
    } as never);
    this.client.on('consumer:group:join', () => {
      const now = new Set<string>();
      for (const a of this.client.assignments ?? []) for (const p of a.partitions) now.add(key(a.topic, p));
      this.#assigned = now;
      s.onAssignment(new Set(now), true);
    });
  }

  async connect(): Promise<void> {
    // the client connects on first use; asking for metadata fails here, at start, when no broker answers
    await this.client.metadata({ topics: [] });
  }

  subscribe(topics: string[]): void { this.#topics = topics; }

  async run(o: { eachBatch: (p: EachBatchPayload) => Promise<void> }): Promise<void> {
    this.#eachBatch = o.eachBatch;
    await this.#open();
    const refresh = () => {
      this.client.listOffsets({ topics: this.#topics }).then((ends) => {
        for (const [topic, parts] of ends) parts.forEach((end, partition) => this.#ends.set(key(topic, partition), String(end)));
      }, () => undefined /* a broker away: the gauge keeps its last figure */);
    };
    refresh();
    this.#endsTimer = setInterval(refresh, 1000);
    this.#endsTimer.unref();
  }

  async #open(): Promise<void> {
    const stream = await this.client.consume({
      topics: this.#topics, mode: 'committed', fallbackMode: this.s.fromBeginning ? 'earliest' : 'latest',
      autocommit: false, maxWaitTime: this.s.maxWaitMs, maxBytesPerPartition: this.s.maxBytesPerPartition,
      // the stream fetches again only once what it fetched has been read (its default buffers 1,024
      // messages beyond that): with backpressure on, at most one fetch lands past the source's cap
      highWaterMark: 1,
      sessionTimeout: this.s.sessionTimeoutMs, heartbeatInterval: this.s.heartbeatIntervalMs, rebalanceTimeout: 300_000,
    } as never);
    this.#stream = stream;
    this.#cycleOpen = false;
    stream.on('data', (m: PMessage) => {
      const k = key(m.topic, m.partition);
      let p = this.#pending.get(k);
      if (!p) { p = { topic: m.topic, partition: m.partition, messages: [] }; this.#pending.set(k, p); }
      p.messages.push(toKafkaJsMessage(m));
      if (!this.#cycleOpen) {
        // Pause at a fetch's first message: the rest of that fetch stays in the stream's buffer and
        // no next fetch starts (the client schedules it on the next tick unless paused). Resuming
        // only once the source has taken the batches bounds what is buffered past its cap to one
        // fetch; pausing later let a second fetch land (the slow-sink test buffered 2,655 records
        // against a bound of 2,142 on Kafka 4.4).
        this.#cycleOpen = true;
        stream.pause();
        setImmediate(() => this.#flush(stream));
      }
    });
    stream.on('error', (e: Error) => {
      if (this.#closed || this.#stream !== stream) return;
      this.#stream = null;
      log().warn(`sluice: platformatic consumer stopped (${e.message}); reopening from the committed offsets`);
      this.#reopen();
    });
  }

  #reopen(): void {
    setTimeout(() => {
      if (this.#closed) return;
      this.#open().catch((e) => { log().warn(`sluice: platformatic consumer: reopening failed (${(e as Error).message}); retrying in 1 s`); this.#reopen(); });
    }, 1000);
  }

  #flush(stream: NonNullable<PlatformaticConsumer['stream']>): void {
    // the rest of the fetch, buffered since the pause: read() hands each message to the 'data' handler
    while (stream.read() !== null) { /* gathered by the handler */ }
    const batches = [...this.#pending.values()];
    this.#pending.clear();
    let held = 0;
    const release = () => { if (held === 0 && this.#stream === stream) { this.#cycleOpen = false; if (!this.#closed) stream.resume(); } };
    for (const b of batches) {
      // a partition revoked while its records sat in the stream's buffer: the new owner reads them
      const stale = () => !this.#assigned.has(key(b.topic, b.partition));
      if (stale()) continue;
      const last = b.messages[b.messages.length - 1].offset;
      const done = this.#eachBatch!({
        batch: { topic: b.topic, partition: b.partition, messages: b.messages, highWatermark: this.#ends.get(key(b.topic, b.partition)) ?? '-1', lastOffset: () => last, firstOffset: () => b.messages[0].offset, isEmpty: () => false, offsetLag: () => '0', offsetLagLow: () => '0' },
        resolveOffset: () => undefined, heartbeat: async () => undefined, isStale: stale, isRunning: () => !this.#closed,
        commitOffsetsIfNecessary: async () => undefined, uncommittedOffsets: () => ({ topics: [] }), pause: () => () => undefined,
      } as unknown as EachBatchPayload);
      // a callback still running holds the source's backpressure: no more fetches until every one returns
      held++;
      done.catch((e) => log().error(`sluice: platformatic consumer: batch handler failed: ${(e as Error).message}`)).finally(() => { held--; release(); });
    }
    release();
  }

  async commitOffsets(offsets: { topic: string; partition: number; offset: string }[]): Promise<void> {
    // leaderEpoch −1: "unknown", which every broker accepts
    await this.client.commit({ offsets: offsets.map((o) => ({ topic: o.topic, partition: o.partition, offset: BigInt(o.offset), leaderEpoch: -1 })) });
  }

  pause(): void { this.#stream?.pause(); }
  resume(): void { this.#stream?.resume(); }
  on(): void { /* the KafkaJS instrumentation events have no counterpart here */ }

  async disconnect(): Promise<void> {
    this.#closed = true;
    if (this.#endsTimer) clearInterval(this.#endsTimer);
    const stream = this.#stream;
    this.#stream = null;
    await stream?.close().catch(() => undefined);
    await this.client.close().catch(() => undefined);
  }
}

/** kafkajs send() input → platformatic messages (keys and values as Buffers, headers as a Map, time as bigint) */
function toPlatformaticMessages(r: ProducerRecord) {
  const buf = (v: unknown) => (v === null || v === undefined ? undefined : Buffer.isBuffer(v) ? v : Buffer.from(String(v)));
  return r.messages.map((m) => {
    const out: Record<string, unknown> = { topic: r.topic, key: buf(m.key), value: buf(m.value) ?? Buffer.alloc(0) };
    if (m.partition !== undefined && m.partition !== null) out.partition = m.partition;
    if (m.timestamp) out.timestamp = BigInt(m.timestamp);
    if (m.headers) {
      const h = new Map<Buffer, Buffer>();
      for (const [k, v] of Object.entries(m.headers)) if (v !== undefined) h.set(Buffer.from(k), buf(Array.isArray(v) ? v[v.length - 1] : v)!);
      out.headers = h;
    }
    return out;
  });
}

export class PlatformaticProducer {
  readonly client: PProducer;

  constructor(readonly c: KafkaConnection, readonly s: ProducerSettings) {
    this.client = new PProducer({
      ...connectionOptions(c),
      acks: s.acks ?? -1, compression: s.gzip ? 'gzip' : 'none', autocreateTopics: false, partitioner: compatibilityPartitioner,
      // producer id and epoch −1: "a new incarnation". The client's default (0, 0) asks the broker to
      // bump the epoch of producer 0, which it refuses with PRODUCER_FENCED once an earlier process
      // used this transactional id (a restart after SIGKILL: tests/replay.test.ts found it)
      ...(s.transactionalId ? { transactionalId: s.transactionalId, idempotent: true, producerId: -1n, producerEpoch: -1, retries: Number.MAX_SAFE_INTEGER } : {}),
    } as never);
  }

  async connect(): Promise<void> {
    // fails at start when no broker answers. A transactional producer takes its id and epoch
    // (InitProducerId, which fences a previous incarnation with the same transactional id and
    // aborts its open transaction) when its first transaction begins, not here as KafkaJS's
    // initTransactions does: still before it writes anything
    await this.client.metadata({ topics: [] });
  }

  async send(r: ProducerRecord): Promise<[]> {
    await this.client.send({ messages: toPlatformaticMessages(r) as never });
    return [];
  }

  async transaction(): Promise<Transaction> {
    const txn: PTransaction = await this.client.beginTransaction();
    return {
      send: async (r: ProducerRecord) => { await txn.send({ messages: toPlatformaticMessages(r) as never }); return []; },
      commit: () => txn.commit(),
      abort: () => txn.abort(),
      isActive: () => !txn.completed,
      platformatic: txn,
    } as unknown as Transaction;
  }

  async disconnect(): Promise<void> { await this.client.close().catch(() => undefined); }
}

/**
 * The consumer's next offsets into the transaction. This client adds an offset by message
 * (its TxnOffsetCommit writes `offset + 1`), with the group membership the message carries,
 * so each partition's position becomes a message one before it.
 */
export async function sendPlatformaticOffsets(txn: Transaction, consumer: Consumer, topics: { topic: string; partitions: { partition: number; offset: string }[] }[]): Promise<void> {
  const t = (txn as unknown as { platformatic: PTransaction }).platformatic;
  const pc = (consumer as unknown as PlatformaticConsumer).client;
  await t.addConsumer(pc);
  const membership = { consumer: { groupId: pc.groupId, generationId: pc.generationId, memberId: pc.memberId, coordinatorId: pc.coordinatorId } };
  for (const { topic, partitions } of topics) {
    for (const p of partitions) await t.addOffset({ topic, partition: p.partition, offset: BigInt(p.offset) - 1n, metadata: membership } as never);
  }
}

export const asConsumer = (c: PlatformaticConsumer) => c as unknown as Consumer;
export const asProducer = (p: PlatformaticProducer) => p as unknown as Producer;
