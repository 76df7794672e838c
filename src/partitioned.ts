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

export class PartitionedOperator implements Op, PartitionScoped {
  readonly #instances = new Map<string, { op: Op; epoch: number }>();
  /** partitions this process gave up: their records are dropped and their state never saved */
  readonly revoked = new Set<string>();

  constructor(readonly create: () => Op) {}

  #instance(name: string, epoch: number): Op | null {
    let i = this.#instances.get(name);
    if (!i) { i = { op: this.create(), epoch }; this.#instances.set(name, i); }
    return epoch < i.epoch ? null : i.op;
  }

  process(batch: Batch<Schema>, ctx: Ctx): void {
    const name = partitionName(batch.meta);
    // dropped records are counted as 'partition-moved': the partition's new owner (or a re-read) processes them
    if (this.revoked.has(name)) { ctx.dropped('partition-moved', batch.length); return; }
    const op = this.#instance(name, batch.meta.epoch ?? 0);
    if (op) op.process(batch, ctx); // null: read before a rebalance, re-read since
    else ctx.dropped('partition-moved', batch.length);
  }

  onWatermark(wm: number, ctx: Ctx): number {
    let fwd = wm;
    for (const { op } of this.#instances.values()) {
      const r = op.onWatermark?.(wm, ctx);
      if (typeof r === 'number' && r < fwd) fwd = r;
    }
    return fwd;
  }

  onPartitionIdle(p: number, ctx: Ctx): void { for (const { op } of this.#instances.values()) op.onPartitionIdle?.(p, ctx); }
  onTimer(t: number, ctx: Ctx): void { for (const { op } of this.#instances.values()) op.onTimer?.(t, ctx); }
  close(ctx: Ctx): void { for (const { op } of this.#instances.values()) op.close?.(ctx); }

  snapshot(): Record<string, unknown> {
    const out: Record<string, unknown> = {};
    for (const [name, { op }] of this.#instances) if (!this.revoked.has(name)) out[name] = op.snapshot?.() ?? null;
    return out;
  }

  restore(state: unknown): void {
    for (const [name, s] of Object.entries(state as Record<string, unknown>)) this.adopt(name, s, 0);
  }

  /** the partition is (again) ours from `epoch` on, with this saved state (undefined: fresh) */
  adopt(name: string, state: unknown, epoch: number): void {
    this.revoked.delete(name);
    const op = this.create();
    if (state !== undefined && state !== null) op.restore?.(state);
    this.#instances.set(name, { op, epoch });
  }

  drop(name: string): void {
    const i = this.#instances.get(name);
    if (i && isBoundedState(i.op)) { const st = i.op.stateStats(); this.#gone.expired += st.expired; this.#gone.evicted += st.evicted; }
    this.#instances.delete(name);
    this.revoked.add(name);
  }

  /** bounded keyed state over this process's partitions (metrics); null when the operator's state is not bounded */
  readonly #gone = { expired: 0, evicted: 0 };
  get boundedState(): boolean { const first = this.#instances.values().next().value; return first !== undefined && isBoundedState(first.op); }
  stateStats(): StateStats {
    let st: StateStats = { keys: 0, ...this.#gone };
    for (const { op } of this.#instances.values()) if (isBoundedState(op)) st = addStats(st, op.stateStats());
    return st;
  }
}
