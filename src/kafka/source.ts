/**
 * Kafka source: a consumer-group member whose records become raw batches.
 *
 * - Per partition, records keep their order; partitions interleave.
 * - Backpressure: fetched records wait in a bounded buffer per partition; a full buffer
 *   pauses that partition (kafkajs) or holds its batch callback (librdkafka) until the
 *   engine has drained it. Heartbeats never wait for processing (kafkajs: the callback
 *   returns at once; librdkafka: its own thread), so slow processing never causes a
 *   rebalance.
 * - At-least-once: offsets are committed only when a runtime checkpoint completes, i.e.
 *   when every sink has acknowledged every output derived from records before it.
 * - On rebalance, records buffered for partitions this member lost are dropped (the
 *   new owner reads them again from the committed offset).
 *
 *   t.source('orders', kafkaSource({ brokers: ['localhost:9092'], topics: ['orders'], groupId: 'surveillance' }))
 */
import { log } from '../log.js';
import type { Consumer, KafkaMessage } from 'kafkajs';
import { isUtf8 } from 'node:buffer';
import { BatchBuilder, type RawIssue } from '../batch.js';
import { ConfigError, DeadLetterCode } from '../errors.js';
import { RawSchema, type SourceDef, type SourceRead, type SourceReader } from '../io.js';
import { DEFAULT_TRANSPORT, validateConnection, type KafkaConnection } from './config.js';
import { createTransport } from './transport.js';
import type { KafkaTransactions } from './exactly-once.js';
import { kafkaObserver, openKafkaSources, type KafkaSourceView } from './stats.js';

export interface KafkaSourceOptions extends KafkaConnection {
  topics: (string | RegExp)[];
  groupId: string;
  /** where a group with no committed offset starts (default: earliest) */
  fromBeginning?: boolean;
  /** records buffered per partition before it is paused (default 4096) */
  maxBufferedPerPartition?: number;
  /** fetch wait when no data, ms (default 20: low latency) */
  maxWaitMs?: number;
  /** most bytes per partition per fetch (default 256 KiB); buffered records ≤ cap + one fetch */
  maxBytesPerPartition?: number;
  sessionTimeoutMs?: number;
  heartbeatIntervalMs?: number;
  /** commit offsets inside the sinks' transactions instead of on their own */
  exactlyOnce?: KafkaTransactions;
}

interface PartitionBuffer {
  topic: string; partition: number; id: number; msgs: KafkaMessage[]; head: number; paused: boolean;
  /** next offset to commit (after the last record handed to the engine) */
  next: string | null;
  /** last offset buffered: a fetch that goes back over it (after a rebalance) is skipped */
  last: number;
  /** the partition's high watermark at the last fetch (for consumer lag) */
  high: number;
  /** assignment generation; records carry it so state restored later drops older reads */
  epoch: number;
  /** held until the partition's keyed state is loaded */
  restoring: boolean;
  drained?: () => void;
}

/** What the source has seen, for metrics and tests. */
export interface KafkaSourceStats {
  /** assignments received on joining (1 = joined once, never rebalanced) */
  assignments: number;
  /** times a partition was paused (kafkajs) or its callback held (librdkafka) for backpressure */
  backpressureEvents: number;
  /** most records buffered for one partition at any time */
  maxBuffered: number;
  /** records skipped because a partition's restored state already included them */
  skippedIncluded: number;
  /** times the consumer was rejoined after a crash the client would not restart from */
  restarts: number;
}

export function kafkaSource(o: KafkaSourceOptions): SourceDef<RawSchema> & { transportName(): string; stats: KafkaSourceStats } {
  validateConnection(o, 'kafkaSource', ['topics', 'groupId', 'fromBeginning', 'maxBufferedPerPartition', 'maxWaitMs', 'maxBytesPerPartition', 'sessionTimeoutMs', 'heartbeatIntervalMs', 'exactlyOnce']);
  if (!Array.isArray(o.topics) || o.topics.length === 0) throw new ConfigError('kafkaSource: options.topics must list at least one topic or pattern');
  if (typeof o.groupId !== 'string' || !o.groupId) throw new ConfigError('kafkaSource: options.groupId is required (scale-out is by consumer group)');
  const cap = o.maxBufferedPerPartition ?? 4096;
  if (!Number.isInteger(cap) || cap <= 0) throw new ConfigError(`kafkaSource: options.maxBufferedPerPartition must be a positive integer, got ${cap}`);
  let transportName: string = DEFAULT_TRANSPORT;
  const stats: KafkaSourceStats = { assignments: 0, backpressureEvents: 0, maxBuffered: 0, skippedIncluded: 0, restarts: 0 };
  return {
    kind: 'kafka-source',
    output: RawSchema,
    stats,
    transportName: () => transportName,
    async open(ctx) {
      const t = createTransport(o);
      transportName = t.name;
      let reader: KafkaReader | null = null;
      const c = t.consumer({
        groupId: o.groupId, fromBeginning: o.fromBeginning ?? true, maxWaitMs: o.maxWaitMs ?? 20,
        sessionTimeoutMs: o.sessionTimeoutMs ?? 10_000, heartbeatIntervalMs: o.heartbeatIntervalMs ?? 1_000,
        maxBytesPerPartition: o.maxBytesPerPartition ?? 256 * 1024,
        onAssignment: (assigned, joined) => { if (joined) stats.assignments++; reader?.assign(assigned); },
      });
      reader = new KafkaReader(c.consumer, cap, ctx.name, o.groupId, o.exactlyOnce ?? null, c.runOptions, c.backpressure, stats, ctx.partitionsAssigned, ctx.partitionsRevoked);
      await t.preflight();
      await c.consumer.connect();
      await c.subscribe(o.topics);
      await reader.start();
      reader.restartAfterCrash(() => c.subscribe(o.topics));
      return reader;
    },
  };
}

class KafkaReader implements SourceReader<RawSchema>, KafkaSourceView {
  #bufs = new Map<string, PartitionBuffer>();
  #ids = new Map<string, number>();
  #order: PartitionBuffer[] = [];
  #rr = 0;
  #wake: (() => void) | null = null;
  #closed = false;
  #assigned = new Set<string>();

  constructor(readonly consumer: Consumer, readonly cap: number, readonly name: string, readonly groupId: string, readonly eos: KafkaTransactions | null, readonly runOptions: { autoCommit?: boolean }, readonly backpressure: 'pause' | 'hold', readonly stats: KafkaSourceStats,
    readonly onAssigned?: (names: string[], epoch: number) => Promise<Map<string, string>>, readonly onRevoked?: (names: string[]) => void) {
    eos?.finalPosition(() => ({ consumer, groupId, offsets: this.#assignedOnly(this.position()) }));
    openKafkaSources.add(this);
  }

  get stage(): string { return this.name; }

  lag(): Map<string, number> {
    const out = new Map<string, number>();
    for (const [k, b] of this.#bufs) {
      if (b.high < 0) continue;
      // next offset the engine takes: after what it took, else the oldest buffered record
      const next = b.next !== null ? Number(b.next) : b.head < b.msgs.length ? Number(b.msgs[b.head].offset) : b.last + 1;
      out.set(k, Math.max(0, b.high - next));
    }
    return out;
  }

  pausedPartitions(): number {
    let n = 0;
    for (const b of this.#bufs.values()) if (b.paused || b.msgs.length - b.head >= this.cap) n++;
    return n;
  }

  #assignedOnly(pos: Record<string, string>): Record<string, string> {
    return Object.fromEntries(Object.entries(pos).filter(([k]) => this.#assigned.has(k)));
  }

  barrier(id: number, position: unknown): void {
    this.eos?.recordPosition(id, this.consumer, this.groupId, this.#assignedOnly(position as Record<string, string>));
  }

  #epoch = 0;

  /** the member's partitions after a rebalance */
  assign(now: Set<string>): void {
    // partitions moved to another member: forget what we buffered, they re-read from the commit
    const lost: string[] = [];
    for (const [k, b] of this.#bufs) if (!now.has(k)) { this.#bufs.delete(k); this.#order = this.#order.filter((x) => x !== b); }
    for (const k of this.#assigned) if (!now.has(k)) lost.push(k);
    const gained = [...now].filter((k) => !this.#assigned.has(k));
    this.#assigned = now;
    if (lost.length) this.onRevoked?.(lost);
    if (gained.length && this.onAssigned) {
      // hold the new partitions' records until their keyed state is loaded
      const epoch = ++this.#epoch;
      for (const k of gained) { const i = k.lastIndexOf('/'); const b = this.#buffer(k.slice(0, i), Number(k.slice(i + 1))); b.restoring = true; b.epoch = epoch; }
      this.onAssigned(gained, epoch).then((included) => {
        for (const k of gained) {
          const b = this.#bufs.get(k);
          if (!b || b.epoch !== epoch) continue;
          const from = included.get(k);
          if (from !== undefined) this.#skipBefore(b, Number(from));
          b.restoring = false;
        }
        this.#wake?.();
      }, (e) => log().error(`sluice: source '${this.name}': loading partition state failed: ${(e as Error).message}`));
    }
  }

  /**
   * The partition's loaded state already includes records before `from` (saved by a
   * checkpoint whose offset commit the rebalance rejected): drop them, buffered or still
   * to be fetched, and let the next commit move the group's offset up to the state.
   */
  #skipBefore(b: PartitionBuffer, from: number): void {
    const kept = b.msgs.slice(b.head).filter((m) => Number(m.offset) >= from);
    this.stats.skippedIncluded += b.msgs.length - b.head - kept.length;
    b.msgs = kept;
    b.head = 0;
    // not fetched yet: the fetch loop skips offsets up to b.last (counted as offsets: a gap may hold markers)
    if (from - 1 > b.last) { this.stats.skippedIncluded += from - 1 - b.last; b.last = from - 1; }
    if (b.next === null || Number(b.next) < from) b.next = String(from);
  }

  /**
   * kafkajs stops a consumer for good after a "non-retriable" crash — e.g. no group
   * coordinator while a broker restarts — and restarts it only after retriable ones.
   * Here it rejoins after any crash, every second until it succeeds, so a broker outage
   * pauses the source instead of ending it; rejoining resumes from the committed offsets
   * (records already buffered are skipped by offset).
   */
  restartAfterCrash(resubscribe: () => Promise<void>): void {
    // kafkajs only: librdkafka reconnects by itself, and its consumer's `events` getter throws
    if (this.backpressure !== 'pause') return;
    let events: { CRASH?: string } | undefined;
    try { events = (this.consumer as { events?: { CRASH?: string } }).events; } catch { return; }
    if (!events?.CRASH) return;
    this.consumer.on(events.CRASH as never, (e: { payload: { error: Error; restart: boolean } }) => {
      if (e.payload.restart || this.#closed) return;
      log().warn(`sluice: source '${this.name}': consumer stopped (${e.payload.error.message}); rejoining`);
      const attempt = async (): Promise<void> => {
        if (this.#closed) return;
        try {
          await this.consumer.disconnect().catch(() => undefined);
          await this.consumer.connect();
          await resubscribe();
          await this.start();
          this.stats.restarts++;
        } catch (err) {
          log().warn(`sluice: source '${this.name}': rejoin failed (${(err as Error).message}); retrying in 1 s`);
          setTimeout(() => { void attempt(); }, 1000);
        }
      };
      setTimeout(() => { void attempt(); }, 1000);
    });
  }

  async start(): Promise<void> {
    await this.consumer.run({
      ...this.runOptions,
      eachBatchAutoResolve: false,
      partitionsConsumedConcurrently: 4,
      eachBatch: async ({ batch, resolveOffset, heartbeat, isStale }) => {
        if (isStale?.()) return;
        const b = this.#buffer(batch.topic, batch.partition);
        const high = Number(batch.highWatermark);
        if (Number.isFinite(high)) b.high = high;
        for (const m of batch.messages) {
          const off = Number(m.offset);
          // after a rebalance the client may fetch a kept partition again from the committed offset
          if (off <= b.last) { resolveOffset(m.offset); continue; }
          b.last = off;
          b.msgs.push(m);
          // "resolved" = fetched into our buffer: the fetch position moves on; commits are separate
          resolveOffset(m.offset);
        }
        this.#wake?.();
        const buffered = b.msgs.length - b.head;
        if (buffered > this.stats.maxBuffered) this.stats.maxBuffered = buffered;
        if (buffered >= this.cap && !b.paused) this.stats.backpressureEvents++;
        if (this.backpressure === 'pause') {
          if (b.msgs.length - b.head >= this.cap && !b.paused) {
            b.paused = true;
            this.consumer.pause([{ topic: b.topic, partitions: [b.partition] }]);
          }
          await heartbeat?.();
        } else {
          // hold this partition's callback until the engine has drained its buffer
          while (b.msgs.length - b.head >= this.cap && !this.#closed && this.#bufs.get(`${b.topic}/${b.partition}`) === b) {
            await new Promise<void>((resolve) => { b.drained = resolve; setTimeout(resolve, 200); });
          }
        }
      },
    });
  }

  #buffer(topic: string, partition: number): PartitionBuffer {
    const k = `${topic}/${partition}`;
    let b = this.#bufs.get(k);
    if (!b) {
      let id = this.#ids.get(k);
      if (id === undefined) { id = this.#ids.size; this.#ids.set(k, id); }
      b = { topic, partition, id, msgs: [], head: 0, paused: false, next: null, last: -1, high: -1, epoch: this.#epoch, restoring: false };
      this.#bufs.set(k, b);
      this.#order.push(b);
    }
    return b;
  }

  partitions(): number[] { return [...this.#bufs.values()].map((b) => b.id); }

  /** next offset to read per topic/partition: what a checkpoint commits */
  position(): Record<string, string> {
    const pos: Record<string, string> = {};
    for (const [k, b] of this.#bufs) if (b.next !== null) pos[k] = b.next;
    return pos;
  }

  async commit(position: unknown): Promise<void> {
    if (this.eos) return; // offsets were committed inside the output transaction
    const pos = position as Record<string, string>;
    const offsets = Object.entries(pos)
      .filter(([k]) => this.#assigned.has(k))
      .map(([k, offset]) => { const i = k.lastIndexOf('/'); return { topic: k.slice(0, i), partition: Number(k.slice(i + 1)), offset }; });
    if (offsets.length === 0) return;
    const t0 = performance.now();
    try {
      await this.consumer.commitOffsets(offsets);
      kafkaObserver()?.committed(this.name, (performance.now() - t0) / 1000, true);
    } catch (e) {
      kafkaObserver()?.committed(this.name, (performance.now() - t0) / 1000, false);
      // a rebalance in progress rejects commits; the next checkpoint commits again
      log().warn(`sluice: source '${this.name}': offset commit deferred: ${(e as Error).message}`);
    }
  }

  async read(max: number): Promise<SourceRead<RawSchema>> {
    for (let attempt = 0; attempt < 2; attempt++) {
      // one batch per partition with records waiting, round-robin, up to `max` records in all
      const batches = [];
      let left = max;
      const n = this.#order.length;
      const start = this.#rr;
      for (let j = 0; j < n && left > 0; j++) {
        const b = this.#order[(start + j) % n];
        const avail = b.msgs.length - b.head;
        if (avail === 0 || b.restoring) continue;
        this.#rr = (start + j + 1) % n;
        const take = Math.min(avail, left);
        left -= take;
        batches.push(this.#take(b, take));
      }
      if (batches.length) return { batches, done: false };
      if (attempt === 0) {
        // nothing buffered: wait for the fetch loop, briefly, so timers and idleness still run
        await new Promise<void>((resolve) => { const t = setTimeout(resolve, 20); this.#wake = () => { clearTimeout(t); resolve(); }; });
        this.#wake = null;
      }
    }
    return { batches: [], done: this.#closed };
  }

  #take(b: PartitionBuffer, take: number) {
    const out = new BatchBuilder(RawSchema, take);
    const c = out.columns;
    let headers: (Record<string, string> | null)[] | undefined;
    let issues: (RawIssue | null)[] | undefined;
    for (let i = 0; i < take; i++) {
      const m = b.msgs[b.head + i];
      c.key[i] = m.key ? m.key.toString('utf8') : '';
      // a tombstone, an empty value or bytes that are not UTF-8 carry no event: they reach
      // parse as raw issues and become dead letters with the original bytes, never vanish
      const issue = rawIssueOf(m.value);
      if (issue) { (issues ??= new Array(take).fill(null))[i] = issue; c.value[i] = ''; }
      else c.value[i] = m.value!.toString('utf8');
      c.offset[i] = Number(m.offset);
      c.timestamp[i] = Number(m.timestamp) * 1000;
      const h = m.headers;
      if (h && Object.keys(h).length) {
        headers ??= new Array(take).fill(null);
        const rec: Record<string, string> = {};
        for (const [k, v] of Object.entries(h)) if (v !== undefined) rec[k] = Array.isArray(v) ? String(v[v.length - 1]) : String(v);
        headers[i] = rec;
      }
    }
    out.length = take;
    b.head += take;
    b.next = String(Number(b.msgs[b.head - 1].offset) + 1);
    // taken messages must not stay referenced (their buffers and the batches made from them
    // would outlive a scavenge and be promoted: src/queue.ts says what that cost)
    if (b.head === b.msgs.length) { b.msgs.length = 0; b.head = 0; }
    else if (b.head > 4096 && b.head * 2 > b.msgs.length) { b.msgs = b.msgs.slice(b.head); b.head = 0; }
    if (b.paused && b.msgs.length - b.head < this.cap / 2) {
      b.paused = false;
      this.consumer.resume([{ topic: b.topic, partitions: [b.partition] }]);
    }
    if (b.drained && b.msgs.length - b.head < this.cap) { const d = b.drained; b.drained = undefined; d(); }
    return out.finish({ partition: b.id, ingestTime: 0, source: `${b.topic}/${b.partition}`, epoch: b.epoch, ...(headers ? { headers } : {}), ...(issues ? { rawIssues: issues } : {}) });
  }

  async close(): Promise<void> {
    this.#closed = true;
    openKafkaSources.delete(this);
    await this.consumer.disconnect();
  }
}

/** what is wrong with a message value before any parsing, or null when it is text */
export function rawIssueOf(value: Buffer | null): RawIssue | null {
  if (value === null) return { code: DeadLetterCode.EMPTY, reason: 'tombstone: the record has a null value', payload: '', payloadEncoding: 'utf8' };
  if (value.length === 0) return { code: DeadLetterCode.EMPTY, reason: 'the record has an empty value', payload: '', payloadEncoding: 'utf8' };
  if (!isUtf8(value)) return { code: DeadLetterCode.ENCODING, reason: 'invalid UTF-8; the original bytes are in the payload, base64', payload: value.toString('base64'), payloadEncoding: 'base64' };
  return null;
}
