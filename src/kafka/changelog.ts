/**
 * Keyed state per Kafka partition in a compacted changelog topic, one record per state
 * key (Kafka Streams' design): the record key is partition | stage | collection | key
 * (src/state.ts splits a stage's snapshot into its keyed collections and a shared rest,
 * which is one record of its own, as is the source position the state includes). Each
 * checkpoint writes only the records whose value changed since the last one it wrote,
 * and a tombstone for each key whose state is gone; compaction keeps the latest per key.
 * A process that is assigned a partition reads the topic to its end and puts that
 * partition's records back together. No single record may exceed `maxRecordBytes`: a key
 * whose state does is a typed error naming the stage and the key.
 *
 *   new Runtime(topology, { checkpointIntervalMs: 1000, stateStore: kafkaChangelog({ brokers, topic: 'sluice-demo-changelog' }) })
 */
import { Partitioners, type Producer } from 'kafkajs';
import { ConfigError, SluiceError } from '../errors.js';
import { POSITION_KEY, type PartitionStateStore } from '../partitioned.js';
import { joinState, splitState } from '../state.js';
import { validateConnection, type KafkaConnection } from './config.js';
import { createTransport } from './transport.js';
import type { KafkaTransactions } from './exactly-once.js';

export interface KafkaChangelogOptions extends KafkaConnection {
  topic: string;
  /** largest changelog record (key + value bytes) allowed; the broker's message.max.bytes is 1 MiB by default (default 1,000,000) */
  maxRecordBytes?: number;
  /**
   * Exactly-once: write each checkpoint's state inside the output transaction, so state,
   * outputs and offsets commit or abort together (readers of the changelog read committed)
   */
  exactlyOnce?: KafkaTransactions;
}

export function kafkaChangelog(o: KafkaChangelogOptions): PartitionStateStore {
  validateConnection(o, 'kafkaChangelog', ['topic', 'exactlyOnce', 'maxRecordBytes']);
  if (typeof o.topic !== 'string' || !o.topic) throw new ConfigError('kafkaChangelog: options.topic is required');
  const maxRecord = o.maxRecordBytes ?? 1_000_000;
  if (!Number.isInteger(maxRecord) || maxRecord < 1024) throw new ConfigError(`kafkaChangelog: options.maxRecordBytes must be an integer >= 1024, got ${String(o.maxRecordBytes)}`);
  const records = new ChangelogRecords(maxRecord);
  // the store always talks through kafkajs: it needs assign-free whole-topic reads, which both clients offer this way
  const transport = createTransport({ ...o, transport: 'kafkajs' });
  const { kafka } = transport;
  let producer: Producer | null = null;
  let ready: Promise<void> | null = null;
  const ensure = () => (ready ??= (async () => {
    await transport.preflight();
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

  const messagesOf = (states: Map<string, Record<string, unknown>>) => records.changes(states);
  const eos = o.exactlyOnce;
  return {
    ...(eos ? {
      bindCheckpoints(snapshot: (id: number) => Map<string, Record<string, unknown>> | null) {
        eos.beforeCommit(async (id, send) => {
          const states = snapshot(id);
          if (!states || states.size === 0) return;
          await ensure();
          for (const chunk of chunks(messagesOf(states))) await send(o.topic, chunk);
        });
      },
    } : {}),
    async save(states) {
      if (states.size === 0 || eos) return; // exactly-once: written in the transaction (bindCheckpoints)
      await ensure();
      // the changelog has one partition: one request's records form one record batch, which
      // the broker's message.max.bytes bounds, so requests are cut at 512 KiB
      for (const chunk of chunks(messagesOf(states))) await producer!.send({ topic: o.topic, acks: -1, messages: chunk });
    },
    async load(names) {
      await ensure();
      for (const n of names) records.forget(n);
      const wanted = new Set(names);
      const out = new Map<string, Record<string, unknown>>();
      const raw = new Map<string, Map<string, string>>();
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
        // only), means the topic is read to its (stable) end. kafkajs fetches ahead of the
        // messages it hands out, so that empty fetch can come while fetched batches still wait
        // to be processed (a changelog of tens of MiB): it counts only once no message has
        // been handed out for IDLE_MS.
        let fetched = 0, empty = 0, lastMessageAt = Date.now();
        const IDLE_MS = 300;
        const settle = () => { if (Date.now() - lastMessageAt >= IDLE_MS) resolve(); else setTimeout(settle, IDLE_MS); };
        reader.on(reader.events.FETCH, (e: { payload: { numberOfBatches: number } }) => {
          if (e.payload.numberOfBatches > 0) { fetched++; empty = 0; return; }
          if (fetched > 0 || ++empty >= 5) setTimeout(settle, 0);
        });
        reader.run({
          eachMessage: async ({ partition, message }) => {
            lastMessageAt = Date.now();
            const k = message.key?.toString();
            const part = k === undefined ? undefined : partitionOfKey(k);
            if (k !== undefined && part !== undefined && wanted.has(part)) {
              let m = raw.get(part);
              if (!m) { m = new Map(); raw.set(part, m); }
              if (message.value) m.set(k, message.value.toString());
              else m.delete(k);
            }
            left.set(partition, (end.get(partition) ?? 0) - (Number(message.offset) + 1));
            check();
          },
        }).catch(reject);
        check();
      });
      await reader.disconnect();
      for (const [part, m] of raw) out.set(part, records.assemble(part, m));
      return out;
    },
    async close() { await producer?.disconnect(); },
  };
}

const SEP = '|';
const enc = (s: string) => encodeURIComponent(s);

/** the partition a changelog record belongs to ('topic/p'); a record of the older layout is keyed by the partition alone */
function partitionOfKey(k: string): string {
  const i = k.indexOf(SEP);
  return i < 0 ? k : decodeURIComponent(k.slice(0, i));
}

/** 32-bit FNV-1a with the length: what a record was last written with, without keeping its bytes */
function digest(s: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < s.length; i++) { h ^= s.charCodeAt(i); h = Math.imul(h, 0x01000193); }
  return (h >>> 0) * 4096 + (s.length & 4095);
}

/**
 * Per-key records of partition states: what to write at a checkpoint (changed records and
 * tombstones, against what was written last), and how to put records back together.
 */
export class ChangelogRecords {
  /** partition → record key → digest of the value last written (or loaded) */
  readonly #written = new Map<string, Map<string, number>>();
  constructor(readonly maxRecordBytes: number) {}

  /** the records of one partition's state: stage → snapshot, with POSITION_KEY */
  static recordsOf(part: string, state: Record<string, unknown>): Map<string, string> {
    const out = new Map<string, string>();
    const p = enc(part);
    for (const [stage, snap] of Object.entries(state)) {
      if (stage === POSITION_KEY) { out.set(`${p}${SEP}${enc(POSITION_KEY)}`, JSON.stringify(snap)); continue; }
      const { shared, entries } = splitState(snap);
      const st = `${p}${SEP}${enc(stage)}`;
      out.set(st, JSON.stringify(shared ?? null));
      for (const [path, key, v] of entries) out.set(`${st}${SEP}${enc(path)}${SEP}${key}`, JSON.stringify(v));
    }
    return out;
  }

  changes(states: Map<string, Record<string, unknown>>): { key: string; value: string | null }[] {
    const msgs: { key: string; value: string | null }[] = [];
    for (const [part, state] of states) {
      const now = ChangelogRecords.recordsOf(part, state);
      let before = this.#written.get(part);
      if (!before) { before = new Map(); this.#written.set(part, before); }
      for (const [k, v] of now) {
        const bytes = Buffer.byteLength(k) + Buffer.byteLength(v);
        if (bytes > this.maxRecordBytes) {
          const [, stage, , key] = k.split(SEP);
          throw new SluiceError('SLUICE_ERR_STATE_TOO_LARGE', `stage '${decodeURIComponent(stage ?? '')}' holds ${bytes} bytes of state${key !== undefined ? ` for key '${k.split(SEP).slice(3).join(SEP)}'` : ' outside its keyed collections'} on partition ${part}, over the changelog's record limit of ${this.maxRecordBytes} bytes (the broker's message.max.bytes): bound that state, or raise both limits`, { domain: 'user' });
        }
        const d = digest(v);
        if (before.get(k) === d) continue;
        before.set(k, d);
        msgs.push({ key: k, value: v });
      }
      // a key whose state is gone (evicted, expired, window closed): a tombstone, and compaction forgets it
      for (const k of [...before.keys()]) if (!now.has(k)) { before.delete(k); msgs.push({ key: k, value: null }); }
    }
    return msgs;
  }

  /** a partition is loaded afresh: what was written for it before is not known any more */
  forget(part: string): void { this.#written.delete(part); }

  /** one partition's records (record key → value) → stage → snapshot, with POSITION_KEY */
  assemble(part: string, recs: Map<string, string>): Record<string, unknown> {
    const written = new Map<string, number>();
    this.#written.set(part, written);
    let out: Record<string, unknown> = {};
    const shared = new Map<string, unknown>();
    const entries = new Map<string, [string, string, unknown][]>();
    for (const [k, v] of recs) {
      written.set(k, digest(v));
      const parts = k.split(SEP);
      if (parts.length === 1) { out = { ...(JSON.parse(v) as Record<string, unknown>), ...out }; continue; } // the older one-record layout
      const stage = decodeURIComponent(parts[1]);
      if (parts.length === 2) { if (stage === POSITION_KEY) out[POSITION_KEY] = JSON.parse(v); else shared.set(stage, JSON.parse(v)); continue; }
      let l = entries.get(stage);
      if (!l) { l = []; entries.set(stage, l); }
      l.push([decodeURIComponent(parts[2]), parts.slice(3).join(SEP), JSON.parse(v)]);
    }
    for (const [stage, sh] of shared) out[stage] = joinState(sh, entries.get(stage) ?? []);
    return out;
  }
}

/** messages cut into requests of at most 512 KiB (the broker bounds one partition's record batch) */
function chunks<M extends { key: string; value: string | null }>(msgs: M[]): M[][] {
  const out: M[][] = [];
  let cur: M[] = [], bytes = 0;
  for (const m of msgs) {
    const b = m.key.length + (m.value?.length ?? 0) + 64;
    if (cur.length && bytes + b > 512 * 1024) { out.push(cur); cur = []; bytes = 0; }
    cur.push(m); bytes += b;
  }
  if (cur.length) out.push(cur);
  return out;
}
