/**
 * Exactly-once through Kafka transactions. One transactional producer per process is
 * shared by every Kafka sink of a topology; between two checkpoints all their outputs
 * go into one transaction, and when a checkpoint's barrier has reached every sink, the
 * source offsets recorded at that barrier are added to the same transaction and it
 * commits. Consumers reading with isolation read_committed (kafkajs' default) see each
 * output once, whatever crashes in between: a restart resumes from the offsets of the
 * last committed transaction, and an unfinished one is aborted.
 *
 * The transactional id must be stable for a process slot across restarts (it fences
 * the previous incarnation at once) and unique among live processes.
 *
 *   const eos = kafkaTransactions({ brokers, transactionalId: 'surveillance-0' });
 *   t.source('in', kafkaSource({ brokers, topics, groupId, exactlyOnce: eos }))
 *   ... .to('out', kafkaSink(S, { brokers, topic: 'alerts', exactlyOnce: eos }))
 *
 * kafkajs commits offsets in a transaction by consumer-group id (not the group
 * generation of KIP-447), so a zombie that lost its partitions in a rebalance is fenced
 * only by its transactional id.
 */
import type { Consumer, Message, Producer, Transaction } from 'kafkajs';
import { ConfigError, IoError } from '../errors.js';
import { validateConnection, type KafkaConnection } from './config.js';
import { createTransport, type Transport } from './transport.js';

export interface KafkaTransactionsOptions extends KafkaConnection {
  transactionalId: string;
  /** how long the broker waits before aborting an unfinished transaction (default 30 s) */
  transactionTimeoutMs?: number;
}

type Offsets = { consumer: Consumer; groupId: string; offsets: Record<string, string> };

export class KafkaTransactions {
  #producer: Producer | null = null;
  #transport: Transport | null = null;
  #connecting: Promise<void> | null = null;
  #txn: Transaction | null = null;
  #sinks = 0;
  #closed = 0;
  #arrived = new Map<number, { n: number; waiters: { resolve: () => void; reject: (e: unknown) => void }[] }>();
  #positions = new Map<number, Offsets>();
  #finalPosition: (() => Offsets | null) | null = null;
  #beforeCommit: ((id: number, send: (topic: string, messages: Message[]) => Promise<void>) => Promise<void>) | null = null;
  /** serializes sends and commits: a commit never interleaves with a send */
  #chain: Promise<unknown> = Promise.resolve();
  committed = 0;

  constructor(readonly o: KafkaTransactionsOptions) {
    validateConnection(o, 'kafkaTransactions', ['transactionalId', 'transactionTimeoutMs']);
    if (typeof o.transactionalId !== 'string' || !o.transactionalId) throw new ConfigError('kafkaTransactions: options.transactionalId is required (stable per process slot)');
  }

  /** a sink joins; the transaction commits once every joined sink has passed a barrier */
  async joinSink(): Promise<void> {
    this.#sinks++;
    this.#connecting ??= (async () => {
      this.#transport = createTransport(this.o);
      this.#producer = this.#transport.producer({ transactionalId: this.o.transactionalId, transactionTimeoutMs: this.o.transactionTimeoutMs ?? 30_000 });
      await this.#transport.preflight();
      await this.#producer.connect(); // initTransactions: fences and aborts a previous incarnation
    })();
    await this.#connecting;
  }

  /** the source records, per checkpoint, the offsets to commit with it */
  recordPosition(id: number, consumer: Consumer, groupId: string, offsets: Record<string, string>): void { this.#positions.set(id, { consumer, groupId, offsets }); }
  finalPosition(get: () => Offsets | null): void { this.#finalPosition = get; }
  /**
   * Called inside each transaction just before its offsets and commit, with the
   * checkpoint id (−1: the final one at a clean end): a transactional state store writes
   * the checkpoint's keyed state here, so state, outputs and offsets commit together.
   */
  beforeCommit(fn: (id: number, send: (topic: string, messages: Message[]) => Promise<void>) => Promise<void>): void { this.#beforeCommit = fn; }

  send(topic: string, messages: Message[]): Promise<void> {
    return this.#serial(async () => {
      this.#txn ??= await this.#producer!.transaction();
      await this.#txn.send({ topic, messages });
    });
  }

  /** a sink reached checkpoint `id`; resolves once that checkpoint's transaction committed */
  barrier(id: number): Promise<void> {
    return new Promise((resolve, reject) => {
      const a = this.#arrived.get(id) ?? { n: 0, waiters: [] };
      a.n++;
      a.waiters.push({ resolve, reject });
      this.#arrived.set(id, a);
      if (a.n < this.#sinks) return;
      this.#arrived.delete(id);
      const pos = this.#positions.get(id) ?? null;
      for (const k of this.#positions.keys()) if (k <= id) this.#positions.delete(k);
      this.#commit(pos, id).then(() => a.waiters.forEach((w) => w.resolve()), (e) => a.waiters.forEach((w) => w.reject(e)));
    });
  }

  /** a sink closed after a clean end: the last transaction commits with the final offsets */
  async closeSink(): Promise<void> {
    if (++this.#closed < this.#sinks) return;
    await this.#commit(this.#finalPosition?.() ?? null, -1);
    await this.#producer?.disconnect();
  }

  #commit(pos: Offsets | null, id: number): Promise<void> {
    return this.#serial(async () => {
      const hasOffsets = pos && Object.keys(pos.offsets).length > 0;
      if (!this.#txn && !hasOffsets) return;
      this.#txn ??= await this.#producer!.transaction();
      try {
        if (this.#beforeCommit) { const txn = this.#txn; await this.#beforeCommit(id, async (topic, messages) => { await txn.send({ topic, messages }); }); }
        if (hasOffsets) {
          const topics = new Map<string, { partition: number; offset: string }[]>();
          for (const [k, offset] of Object.entries(pos!.offsets)) {
            const i = k.lastIndexOf('/');
            const list = topics.get(k.slice(0, i)) ?? [];
            list.push({ partition: Number(k.slice(i + 1)), offset });
            topics.set(k.slice(0, i), list);
          }
          const txn = this.#txn;
          await retrying(() => this.#transport!.sendOffsets(txn, pos!.consumer, pos!.groupId, [...topics].map(([topic, partitions]) => ({ topic, partitions }))));
        }
        const txn = this.#txn;
        await retrying(() => txn.commit());
        this.committed++;
      } catch (e) {
        try { await this.#txn.abort(); } catch { /* the broker aborts it on timeout */ }
        throw new IoError(`kafkaTransactions '${this.o.transactionalId}': commit failed: ${(e as Error).message}`, e);
      } finally {
        this.#txn = null;
      }
    });
  }

  #serial<T>(fn: () => Promise<T>): Promise<T> {
    const next = this.#chain.then(fn, fn);
    this.#chain = next.catch(() => undefined);
    return next;
  }
}

/**
 * The coordinator answers CONCURRENT_TRANSACTIONS while it still completes the previous
 * commit; that and other retriable errors are retried with a short backoff.
 */
async function retrying<T>(op: () => Promise<T>, attempts = 20): Promise<T> {
  for (let a = 1; ; a++) {
    try {
      return await op();
    } catch (e) {
      const err = e as { retriable?: boolean; type?: string };
      if (a >= attempts || !(err.retriable || err.type === 'CONCURRENT_TRANSACTIONS')) throw e;
      await new Promise((r) => setTimeout(r, Math.min(500, 10 * a)));
    }
  }
}

export function kafkaTransactions(o: KafkaTransactionsOptions): KafkaTransactions {
  return new KafkaTransactions(o);
}
