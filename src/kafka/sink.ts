/**
 * Kafka sink: each batch is sent (in requests of at most maxRequestBytes) and acknowledged
 * (acks=all by default) before the runtime writes the next, so a completed checkpoint means every
 * output before it is durable — which is what lets the source commit its offsets.
 *
 *   alerts.to('alerts-out', kafkaSink(AlertSchema, { brokers, topic: 'alerts', key: (b, i) => b.columns.symbol[i] }))
 */
import type { IHeaders, Producer } from 'kafkajs';
import type { Batch, Schema } from '../batch.js';
import { ConfigError, IoError } from '../errors.js';
import type { SinkDef } from '../io.js';
import type { DeadLetterSchema } from '../operator.js';
import { rowStringifier } from '../sinks.js';
import { DEFAULT_TRANSPORT, validateConnection, type KafkaConnection } from './config.js';
import { createTransport } from './transport.js';
import { kafkaObserver } from './stats.js';
import type { KafkaTransactions } from './exactly-once.js';

export interface KafkaSinkOptions<S extends Schema> extends KafkaConnection {
  topic: string;
  /** message key per record (contracts: alerts by symbol, pushes by userId); default: the record's stream key */
  key?: (batch: Batch<S>, i: number) => string | null;
  /** message value per record; default: the record as JSON */
  serialize?: (batch: Batch<S>, i: number) => string;
  headers?: (batch: Batch<S>, i: number) => IHeaders;
  /** -1 = all in-sync replicas (default), 1 = leader only */
  acks?: -1 | 1;
  compression?: 'none' | 'gzip';
  /** write inside the topology's Kafka transactions (exactly-once) */
  exactlyOnce?: KafkaTransactions;
  /**
   * most bytes (keys, values, headers) per produce request (default 512 KiB): coalesced
   * writes are split so no record batch passes the broker's message.max.bytes (1 MiB by
   * default), which would reject the whole send
   */
  maxRequestBytes?: number;
}

type OutMessage = { key: string | null; value: string; headers?: IHeaders; timestamp?: string };

/** consecutive runs of messages of at most `maxBytes` each (a larger message goes alone: the broker then says why) */
export function chunksBySize<M extends OutMessage>(messages: M[], maxBytes: number): M[][] {
  const out: M[][] = [];
  let cur: M[] = [], bytes = 0;
  for (const m of messages) {
    let size = 70 + Buffer.byteLength(m.value) + (m.key ? Buffer.byteLength(m.key) : 0); // 70: a record's framing, generously
    if (m.headers) for (const [k, v] of Object.entries(m.headers)) size += k.length + (v === undefined ? 0 : Buffer.byteLength(String(v))) + 8;
    if (cur.length && bytes + size > maxBytes) { out.push(cur); cur = []; bytes = 0; }
    cur.push(m);
    bytes += size;
  }
  if (cur.length) out.push(cur);
  return out;
}

export function kafkaSink<S extends Schema>(schema: S, o: KafkaSinkOptions<S>): SinkDef<S> & { transportName(): string } {
  validateConnection(o, 'kafkaSink', ['topic', 'key', 'serialize', 'headers', 'acks', 'compression', 'exactlyOnce', 'maxRequestBytes']);
  const maxBytes = o.maxRequestBytes ?? 512 * 1024;
  if (!Number.isInteger(maxBytes) || maxBytes < 1024) throw new ConfigError(`kafkaSink: options.maxRequestBytes must be an integer ≥ 1024, got ${String(o.maxRequestBytes)}`);
  if (typeof o.topic !== 'string' || !o.topic) throw new ConfigError('kafkaSink: options.topic is required');
  if (o.acks !== undefined && o.acks !== -1 && o.acks !== 1) throw new ConfigError('kafkaSink: options.acks must be -1 (all) or 1');
  if (o.compression !== undefined && o.compression !== 'none' && o.compression !== 'gzip') throw new ConfigError("kafkaSink: options.compression must be 'none' or 'gzip' (others need codec packages)");
  let transportName: string = DEFAULT_TRANSPORT;
  return {
    kind: 'kafka-sink',
    transportName: () => transportName,
    async open(ctx) {
      const str = rowStringifier(schema);
      const value = o.serialize ?? ((b: Batch<S>, i: number) => str(b.row(i)));
      const key = o.key ?? ((b: Batch<S>, i: number) => b.meta.keys?.[i] ?? null);
      const messagesOf = (b: Batch<S>) => {
        const messages = new Array<OutMessage>(b.length);
        // input headers and record times carried through record-wise stages go out again
        const inHeaders = b.meta.headers;
        const inTimes = b.meta.timestamps;
        for (let i = 0; i < b.length; i++) {
          const m: OutMessage = { key: key(b, i), value: value(b, i) };
          const carried = inHeaders?.[i];
          if (carried || o.headers) m.headers = { ...(carried ?? {}), ...(o.headers ? o.headers(b, i) : {}) };
          if (inTimes && inTimes[i] > 0) m.timestamp = String(Math.round(inTimes[i] / 1000));
          messages[i] = m;
        }
        return messages;
      };
      const eos = o.exactlyOnce;
      if (eos) {
        await eos.joinSink();
        return {
          write: async (b: Batch<S>) => { for (const part of chunksBySize(messagesOf(b), maxBytes)) await eos.send(o.topic, part); },
          checkpoint: (id: number) => eos.barrier(id),
          close: () => eos.closeSink(),
        };
      }
      const t = createTransport(o);
      transportName = t.name;
      const settings = { acks: o.acks ?? -1, gzip: o.compression === 'gzip' } as const;
      const producer: Producer = t.producer(settings);
      const sendOptions = t.sendOptions(settings);
      await t.preflight();
      await producer.connect();
      // Writes accepted while a send is in flight are coalesced into the next send: one
      // sender, sends in order, so per-partition order holds and each acks=all round trip
      // carries everything that arrived meanwhile.
      let pending: { messages: OutMessage[]; waiters: { resolve: () => void; reject: (e: unknown) => void }[] } | null = null;
      let sending = false;
      const pump = async () => {
        sending = true;
        while (pending) {
          const { messages, waiters } = pending;
          pending = null;
          try {
            for (const part of chunksBySize(messages, maxBytes)) await producer.send({ topic: o.topic, messages: part as never, ...sendOptions });
            for (const w of waiters) w.resolve();
          } catch (e) {
            kafkaObserver()?.produceFailed(ctx.name, o.topic);
            const err = new IoError(`kafkaSink '${ctx.name}': producing to '${o.topic}' failed: ${(e as Error).message}`, e);
            for (const w of waiters) w.reject(err);
          }
        }
        sending = false;
      };
      return {
        maxInFlight: 16,
        write(b: Batch<S>) {
          const messages = messagesOf(b);
          return new Promise<void>((resolve, reject) => {
            pending ??= { messages: [], waiters: [] };
            for (const m of messages) pending.messages.push(m);
            pending.waiters.push({ resolve, reject });
            if (!sending) void pump();
          });
        },
        async close() { await producer.disconnect(); },
      };
    },
  };
}

/** Dead-letter messages carry the reason and origin in headers as well as in the value. */
export function deadLetterHeaders(b: Batch<DeadLetterSchema>, i: number): IHeaders {
  const c = b.columns;
  const h: IHeaders = { 'sluice-error-code': c.code[i], 'sluice-stage': c.stage[i], 'sluice-reason': c.reason[i].slice(0, 512), 'sluice-payload-encoding': c.payloadEncoding?.[i] || 'utf8' };
  const m = /^(.+)\/(\d+)@(\d+)$/.exec(c.origin[i]); // topic/partition@offset
  if (m) { h['sluice-source-topic'] = m[1]; h['sluice-source-partition'] = m[2]; h['sluice-source-offset'] = m[3]; }
  else h['sluice-origin'] = c.origin[i];
  return h;
}
