/**
 * Keyed state scoped to source partitions, so it can move with them.
 *
 * With Kafka, a topology's keyed operators see each key from one partition (topics are
 * keyed by the key operators use — co-partitioning, as Kafka Streams requires). When the
 * runtime has a partition state store, every keyed operator runs one instance per
 * source partition (named 'topic/partition'). Each checkpoint saves the instances'
 * snapshots before offsets commit; when the group gives this process a partition, its
 * state is loaded before its records are processed; when the partition goes, its
 * instances go too and this process never saves them again.
 *
 * After a rebalance the consumer re-reads from the committed offsets, so records read
 * before it (an older epoch) are dropped rather than applied twice. Each saved partition
 * state also records the source position it includes (POSITION_KEY): a checkpoint saves
 * state first and commits offsets after, and a commit can fail (a rebalance rejects it),
 * so the state may run ahead of the committed offset; the new owner skips the records
 * the state already holds instead of counting them again.
 */
import { addStats, isBoundedState, type StateStats } from './state.js';
import type { Batch, Schema } from './batch.js';
import type { Operator, OperatorContext, SideSchemas } from './operator.js';

/** key, in a partition's saved record, of the next source offset its state includes */
export const POSITION_KEY = '@position';

/** Where partition state lives between processes (a compacted Kafka topic, for one). */
export interface PartitionStateStore {
  /** latest saved state per partition name: stage → snapshot */
  load(partitions: string[]): Promise<Map<string, Record<string, unknown>>>;
  save(states: Map<string, Record<string, unknown>>): Promise<void>;
  close?(): Promise<void>;
  /**
   * A transactional store writes each checkpoint's state inside the output transaction
   * instead of in save(): the runtime hands it the snapshot per checkpoint id (−1: the
   * final state at a clean end; null: no such checkpoint).
   */
  bindCheckpoints?(snapshot: (id: number) => Map<string, Record<string, unknown>> | null): void;
}

/**
 * An operator whose state is kept per source partition, so the runtime can save it per
 * partition, load it when the group hands this process a partition, and drop it when the
 * partition goes (PartitionedOperator for keyed operators; scoring with a sequence encoder).
 */
export interface PartitionScoped {
  /** partitions this process gave up: their records are dropped and their state never saved */
  readonly revoked: Set<string>;
  /** partition name → that partition's state */
  snapshot(): Record<string, unknown>;
  /** the partition is (again) ours from `epoch` on, with this saved state (undefined/null: fresh) */
  adopt(name: string, state: unknown, epoch: number): void;
  drop(name: string): void;
}

export function isPartitionScoped(op: unknown): op is PartitionScoped {
  const o = op as Partial<PartitionScoped> | null;
  return !!o && o.revoked instanceof Set && typeof o.adopt === 'function' && typeof o.drop === 'function';
}

type Op = Operator<Schema, Schema, SideSchemas>;
type Ctx = OperatorContext<Schema, SideSchemas>;

export function partitionName(meta: { source?: string; partition: number }): string {
  return meta.source ?? `partition-${meta.partition}`;
}

/**
 * One instance of something stateful per source partition (an operator, a scoring stage's
 * encoder), with the bookkeeping every partition-scoped stage needs: which partitions this
 * process gave up, the epoch each was adopted at (records read before it are dropped), the
 * saved state per partition, and the bounded-state counters of instances since dropped.
 */
export class PartitionInstances<T> {
  readonly #instances = new Map<string, { inst: T; epoch: number }>();
  /** partitions this process gave up: their records are dropped and their state never saved */
  readonly revoked = new Set<string>();
  readonly #gone = { expired: 0, evicted: 0 };

  constructor(
    private readonly make: () => T,
    private readonly state: { snapshot(t: T): unknown; restore(t: T, state: unknown): void; stats?(t: T): StateStats | undefined },
  ) {}

  /** the instance for a batch's partition, or null when its records must be dropped (counted 'partition-moved' by the caller) */
  forBatch(meta: { source?: string; partition: number; epoch?: number }): T | null {
    const name = partitionName(meta);
    if (this.revoked.has(name)) return null;
    const epoch = meta.epoch ?? 0;
    let i = this.#instances.get(name);
    if (!i) { i = { inst: this.make(), epoch }; this.#instances.set(name, i); }
    return epoch < i.epoch ? null : i.inst; // read before a rebalance, re-read since
  }

  /** the instance for a partition, made if absent (records accepted before their partition went still finish) */
  get(name: string): T {
    let i = this.#instances.get(name);
    if (!i) { i = { inst: this.make(), epoch: 0 }; this.#instances.set(name, i); }
    return i.inst;
  }

  *values(): IterableIterator<T> { for (const i of this.#instances.values()) yield i.inst; }

  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, { inst }] of this.#instances) if (!this.revoked.has(name)) out[name] = this.state.snapshot(inst) ?? null;
    return out;
  }

  restore(state: unknown): void {
    if (state && typeof state === 'object') for (const [name, s] of Object.entries(state as Record<string, unknown>)) this.adopt(name, s, 0);
  }

  /** the partition is (again) ours from `epoch` on, with this saved state (undefined/null: fresh) */
  adopt(name: string, state: unknown, epoch: number): void {
    this.revoked.delete(name);
    const inst = this.make();
    if (state !== undefined && state !== null) this.state.restore(inst, state);
    this.#instances.set(name, { inst, epoch });
  }

  drop(name: string): void {
    const i = this.#instances.get(name);
    const st = i && this.state.stats?.(i.inst);
    if (st) { this.#gone.expired += st.expired; this.#gone.evicted += st.evicted; }
    this.#instances.delete(name);
    this.revoked.add(name);
  }

  /** bounded keyed state over this process's partitions, with the counters of partitions since given up */
  stats(): StateStats {
    let st: StateStats = { keys: 0, ...this.#gone };
    for (const { inst } of this.#instances.values()) { const s = this.state.stats?.(inst); if (s) st = addStats(st, s); }
    return st;
  }

  /** whether the instances keep bounded state (asked of one; none yet: false) */
  bounded(test: (t: T) => boolean): boolean { const first = this.#instances.values().next().value; return first !== undefined && test(first.inst); }
}

export class PartitionedOperator implements Op, PartitionScoped {
  readonly #parts: PartitionInstances<Op>;

  constructor(readonly create: () => Op) {
    this.#parts = new PartitionInstances(create, {
      snapshot: (op) => op.snapshot?.() ?? null,
      restore: (op, s) => op.restore?.(s),
      stats: (op) => (isBoundedState(op) ? op.stateStats() : undefined),
    });
  }

  /** partitions this process gave up: their records are dropped and their state never saved */
  get revoked(): Set<string> { return this.#parts.revoked; }

  process(batch: Batch<Schema>, ctx: Ctx): void {
    // dropped records are counted as 'partition-moved': the partition's new owner (or a re-read) processes them
    const op = this.#parts.forBatch(batch.meta);
    if (op) op.process(batch, ctx);
    else ctx.dropped('partition-moved', batch.length);
  }

  onWatermark(wm: number, ctx: Ctx): number {
    let fwd = wm;
    for (const op of this.#parts.values()) {
      const r = op.onWatermark?.(wm, ctx);
      if (typeof r === 'number' && r < fwd) fwd = r;
    }
    return fwd;
  }

  onPartitionIdle(p: number, ctx: Ctx): void { for (const op of this.#parts.values()) op.onPartitionIdle?.(p, ctx); }
  onTimer(t: number, ctx: Ctx): void { for (const op of this.#parts.values()) op.onTimer?.(t, ctx); }
  close(ctx: Ctx): void { for (const op of this.#parts.values()) op.close?.(ctx); }

  snapshot(): Record<string, unknown> { return this.#parts.snapshot(); }
  restore(state: unknown): void { this.#parts.restore(state); }
  /** the partition is (again) ours from `epoch` on, with this saved state (undefined: fresh) */
  adopt(name: string, state: unknown, epoch: number): void { this.#parts.adopt(name, state, epoch); }
  drop(name: string): void { this.#parts.drop(name); }

  /** bounded keyed state over this process's partitions (metrics); false when the operator's state is not bounded */
  get boundedState(): boolean { return this.#parts.bounded(isBoundedState); }
  stateStats(): StateStats { return this.#parts.stats(); }
}
