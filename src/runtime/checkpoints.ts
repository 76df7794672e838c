/**
 * Checkpoint coordination, the whole protocol in one place (aligned barriers, as Flink):
 *
 *  1. begin(): a new id; every source is asked to emit a barrier at its next chance.
 *  2. sourcePassed(): a source emitted the barrier; its position is the checkpoint's.
 *  3. recordState(): an operator cell aligned the barrier on all its inputs; its snapshot
 *     (a copy) is the checkpoint's.
 *  4. sinkAcked(): a sink acknowledged every write before the barrier (and pre-committed,
 *     if transactional); when all sinks have, the checkpoint is complete.
 *  5. persist: keyed state per partition is saved to the PartitionStateStore first, then
 *     onCheckpoint, then each source commits its position — offsets follow saved state,
 *     never lead it, so a restart never finds offsets ahead of its state.
 *
 * One checkpoint at a time: the periodic timer starts the next only when the previous is
 * saved. At a clean end the final state and positions are saved and committed the same way.
 * Partition state moves with its partition: adoptPartitions / dropPartitions on rebalance.
 */
import type { Schema } from '../batch.js';
import type { SourceReader } from '../io.js';
import { POSITION_KEY, isPartitionScoped, type PartitionScoped, type PartitionStateStore } from '../partitioned.js';
import type { Checkpoint } from './options.js';
import { SluiceError } from '../errors.js';

/** what the coordinator reads of the graph */
export interface CheckpointGraph {
  topology: string;
  sources: { readonly name: string; readonly reader: SourceReader<Schema>; pendingBarrier: number | null; readonly done: boolean }[];
  cells: { readonly stage: string; readonly op: unknown }[];
  sinks: number;
}

export interface CheckpointOptions {
  intervalMs?: number;
  onCheckpoint?: (cp: Checkpoint) => void | Promise<void>;
  store?: PartitionStateStore;
}

interface InFlight { cp: Checkpoint; acks: number; complete: (cp: Checkpoint) => void; reject: (e: Error) => void }

/** A checkpoint that cannot be taken or finished: every source has ended, or the run ended first. */
export class CheckpointUnavailableError extends SluiceError {
  constructor(message: string) { super('SLUICE_ERR_CHECKPOINT_UNAVAILABLE', message, { domain: 'user' }); }
}

export class CheckpointCoordinator {
  #nextId = 1;
  readonly #inFlight = new Map<number, InFlight>();
  /** the completed checkpoint whose state and offsets are being saved (null when none) */
  #persisting: Promise<void> | null = null;
  #completed = 0;
  #timer: NodeJS.Timeout | undefined;

  constructor(
    private readonly graph: CheckpointGraph,
    private readonly opts: CheckpointOptions,
    private readonly host: { schedule(): void; fail(err: unknown): void; stopped(): boolean },
  ) {
    // the store asks for the state of a checkpoint being committed (exactly-once), or at the end (id < 0)
    opts.store?.bindCheckpoints?.((id) => {
      if (id >= 0) { const c = this.#inFlight.get(id); return c ? this.#partitionStates(c.cp) : null; }
      return this.#partitionStates(this.finalState());
    });
  }

  get completed(): number { return this.#completed; }

  /** periodic checkpoints, one at a time: a save still in flight is waited for */
  startTimer(): void {
    if (!this.opts.intervalMs) return;
    this.#timer = setInterval(() => {
      if (this.#inFlight.size === 0 && !this.#persisting && !this.host.stopped() && !this.graph.sources.every((s) => s.done)) this.begin().catch((e) => this.host.fail(e));
    }, this.opts.intervalMs);
  }
  stopTimer(): void { clearInterval(this.#timer); }

  /** 1. Take a consistent checkpoint of source positions and operator state. */
  begin(): Promise<Checkpoint> {
    // an ended source emits no more barriers: with none left to carry one, nothing could
    // complete (the run's final state and positions are saved when it finishes)
    if (this.graph.sources.every((s) => s.done)) return Promise.reject(new CheckpointUnavailableError('checkpoint: every source has ended; the final state is saved when the run finishes'));
    const id = this.#nextId++;
    return new Promise((resolve, reject) => {
      const complete = (cp: Checkpoint) => {
        const persist = this.#persist(cp);
        this.#persisting = persist;
        persist.finally(() => { if (this.#persisting === persist) this.#persisting = null; }).catch(() => undefined);
        persist.then(() => resolve(cp), reject);
      };
      this.#inFlight.set(id, { cp: { id, topology: this.graph.topology, sources: {}, operators: {} }, acks: 0, complete, reject });
      for (const s of this.graph.sources) {
        // an ended source is at its final position; the cells count its inputs as aligned
        if (s.done) this.sourcePassed(id, s.name, s.reader.position());
        else s.pendingBarrier = id;
      }
      this.host.schedule();
    });
  }

  /** 2. a source emitted barrier `id` at `position` */
  sourcePassed(id: number, source: string, position: unknown): void {
    const c = this.#inFlight.get(id);
    if (c) c.cp.sources[source] = position;
  }

  /** 3. an operator cell aligned barrier `id` */
  recordState(id: number, stage: string, state: unknown): void {
    const c = this.#inFlight.get(id);
    // a copy taken now: operators may hand out their live structures (arrays they keep
    // mutating), and the checkpoint is serialized only when it completes, records later
    if (c && state !== undefined) c.cp.operators[stage] = structuredClone(state);
  }

  /** 4. a sink acknowledged everything before barrier `id` */
  sinkAcked(id: number): void {
    const c = this.#inFlight.get(id);
    if (c && ++c.acks === this.graph.sinks) {
      this.#inFlight.delete(id);
      this.#completed++;
      c.complete(c.cp);
    }
  }

  /** 5. keyed state first, then the callback, then offsets */
  async #persist(cp: Checkpoint): Promise<void> {
    if (this.opts.store) await this.opts.store.save(this.#partitionStates(cp));
    await this.opts.onCheckpoint?.(cp);
    for (const s of this.graph.sources) await s.reader.commit?.(cp.sources[s.name]);
  }

  /**
   * The end of a run: no periodic checkpoint from here on, and one still being saved lands
   * before the final save and before the store closes (else: a save on a closed producer).
   * A clean end has every output written and acknowledged, so the final state and
   * positions commit; a failed or aborted one commits nothing more.
   */
  async finish(clean: boolean): Promise<void> {
    this.stopTimer();
    for (const [id, c] of this.#inFlight) c.reject(new CheckpointUnavailableError(`checkpoint ${id}: the run ended before it completed`));
    this.#inFlight.clear();
    if (this.#persisting) await this.#persisting.catch(() => undefined);
    if (clean) {
      if (this.opts.store) await this.opts.store.save(this.#partitionStates(this.finalState()));
      for (const s of this.graph.sources) await s.reader.commit?.(s.reader.position());
    }
    await this.opts.store?.close?.();
  }

  /** keyed state and source positions now, at a clean end (everything processed) */
  finalState(): Checkpoint {
    const cp: Checkpoint = { id: -1, topology: this.graph.topology, sources: {}, operators: {} };
    for (const s of this.graph.sources) cp.sources[s.name] = s.reader.position();
    for (const { stage, op } of this.#partitioned()) cp.operators[stage] = op.snapshot();
    return cp;
  }

  /** partitions assigned to this process: load their state into every partition-scoped stage; their saved source positions */
  async adoptPartitions(names: string[], epoch: number): Promise<Map<string, string>> {
    const loaded = await this.opts.store!.load(names);
    for (const { stage, op } of this.#partitioned()) for (const n of names) op.adopt(n, loaded.get(n)?.[stage], epoch);
    const positions = new Map<string, string>();
    for (const n of names) { const p = loaded.get(n)?.[POSITION_KEY]; if (typeof p === 'string') positions.set(n, p); }
    return positions;
  }

  /** partitions revoked: their state leaves with them */
  dropPartitions(names: string[]): void {
    for (const { op } of this.#partitioned()) for (const n of names) op.drop(n);
  }

  #partitioned(): { stage: string; op: PartitionScoped }[] {
    return this.graph.cells.filter((o) => isPartitionScoped(o.op)).map((o) => ({ stage: o.stage, op: o.op as PartitionScoped }));
  }

  /**
   * checkpoint snapshots regrouped by partition: name → stage → state (revoked ones left
   * out), each with the source position the state includes under POSITION_KEY
   */
  #partitionStates(cp: Checkpoint): Map<string, Record<string, unknown>> {
    const out = new Map<string, Record<string, unknown>>();
    for (const { stage, op } of this.#partitioned()) {
      for (const [name, state] of Object.entries((cp.operators[stage] ?? {}) as Record<string, unknown>)) {
        if (op.revoked.has(name)) continue;
        const rec = out.get(name) ?? {};
        rec[stage] = state;
        out.set(name, rec);
      }
    }
    for (const [name, rec] of out) {
      for (const pos of Object.values(cp.sources)) {
        const p = (pos && typeof pos === 'object') ? (pos as Record<string, unknown>)[name] : undefined;
        if (typeof p === 'string') { rec[POSITION_KEY] = p; break; }
      }
    }
    return out;
  }
}
