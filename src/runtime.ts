/**
 * The embedded runtime: runs a built Topology on the calling thread.
 *
 * Scheduling is a pump: in each round every stage, in topological order, takes at most
 * one item from its inputs, provided every edge it writes to has credit. Items are
 * batches and in-band control markers (watermark, partition idle, checkpoint barrier,
 * end), so markers stay ordered with the data around them. Sources are read only for
 * as many records as their out-edges have credit for: a slow sink pauses the source.
 *
 * Checkpoints use aligned barriers (as Flink): a barrier enters at every source with the
 * source's position; a stage with several inputs holds each input from the moment its
 * barrier arrives until all have it, then snapshots and forwards the barrier; sinks
 * complete the checkpoint once the writes before the barrier are acknowledged.
 */
import { isBoundedState, type BoundedState, type StateStats } from './state.js';
import { build as hdrBuild, type Histogram } from 'hdr-histogram-js';
import { PER_RECORD, type Batch, type Schema } from './batch.js';
import { systemClock, type Clock } from './clock.js';
import { ConfigError, IoError, OperatorError, SluiceError } from './errors.js';
import type { SinkWriter, SourceDef, SourceReader } from './io.js';
import { type Operator, type OperatorContext, type OperatorHooks, type SideSchemas } from './operator.js';
import { Edge, ItemKind, type Item } from './queue.js';
import type { NodeSpec, Topology } from './topology.js';
import { POSITION_KEY, PartitionedOperator, isPartitionScoped, type PartitionScoped, type PartitionStateStore } from './partitioned.js';

export interface RuntimeOptions {
  /** processing-time clock; default the system clock */
  clock?: Clock;
  /** records an edge holds before its writer pauses (default 8192) */
  queueCapacity?: number;
  /** most records per source read (default 1024) */
  sourceBatchSize?: number;
  /** a source partition with no records for this long (µs of unpaused time) is idle (default 5 s) */
  partitionIdleTimeoutUs?: number;
  /** how often (ms) the runtime wakes to run timers and idleness checks (default 20) */
  tickMs?: number;
  /**
   * the event-time column (µs) sinks read for the event-time-to-output metric, when a
   * batch has it (default 'ts', as every contract names it)
   */
  eventTimeField?: string;
  /** resume from this checkpoint */
  restoreFrom?: Checkpoint;
  /** take a checkpoint this often (ms); completed checkpoints commit source positions (Kafka offsets) */
  checkpointIntervalMs?: number;
  /** called with every completed checkpoint (to persist it) */
  onCheckpoint?: (cp: Checkpoint) => void | Promise<void>;
  /**
   * Keyed state per source partition, saved here at every checkpoint (before offsets
   * commit) and loaded when a partition is assigned (see src/partitioned.ts).
   */
  stateStore?: PartitionStateStore;
  /** told of what counters alone cannot show (metrics) */
  observer?: RuntimeObserver;
  /**
   * called at once when the job fails (before run() settles, which waits for sources and
   * sinks to close): a CLI ends the process from here, so a failed job never lingers
   */
  onFailure?: (err: unknown) => void;
}

/** Events for metrics; called on the hot path only when an observer is set. */
export interface RuntimeObserver {
  /**
   * records reached sink `sink`, `latencyUs` after their ingestion; `eventTimes` (µs)
   * when the records carry an event-time column (RuntimeOptions.eventTimeField)
   */
  delivered(sink: string, latencyUs: number, records: number, eventTimes?: ArrayLike<number>, nowUs?: number): void;
  /** a stage dead-lettered a record with this code */
  deadLettered(stage: string, code: string): void;
  /** an operator stage handled a batch of `records` in `seconds` (processing latency per batch) */
  processed?(stage: string, seconds: number, records: number): void;
}

/** A live view of the runtime for metrics endpoints. */
export interface RuntimeView {
  stages: StageStats[];
  edges: { from: string; to: string; records: number; capacity: number }[];
  /** event-time watermark (µs) each operator stage has seen; −Infinity before the first */
  watermarks: { stage: string; watermark: number }[];
  /** per source: partitions it reads and how many of them are idle (no records for partitionIdleTimeoutUs) */
  partitions: { stage: string; partitions: number; idle: number }[];
  /** records dropped without output, by stage and reason (partition-moved: read before a rebalance, re-read by the new owner; shed: load shedding, when configured) */
  dropped: { stage: string; reason: string; records: number }[];
  /** per stage with bounded keyed state: keys held, and keys dropped by TTL (expired) and by the key bound (evicted) */
  state: ({ stage: string } & StateStats)[];
  /** wall-clock ms since run() started */
  uptimeMs: number;
  now: number;
  checkpoints: number;
}

export interface Checkpoint {
  id: number;
  topology: string;
  sources: Record<string, unknown>;
  operators: Record<string, unknown>;
}

export interface StageStats {
  name: string;
  kind: string;
  recordsIn: number;
  recordsOut: number;
  batchesIn: number;
  /** ms spent inside the operator */
  busyMs: number;
  /** ms with input waiting but no credit downstream */
  backpressuredMs: number;
  /** records emitted per side port (late, dead, ...) */
  sideOut: Record<string, number>;
}

export interface RunSummary {
  topology: string;
  wallMs: number;
  stages: StageStats[];
  /** ingest → sink latency per sink, µs percentiles */
  latency: Record<string, { count: number; p50: number; p90: number; p99: number; p999: number; max: number }>;
  /** largest number of records held on any edge */
  maxQueuedRecords: number;
  checkpoints: number;
  /** records dropped on purpose, by stage and reason (only those above 0) */
  dropped: { stage: string; reason: string; records: number }[];
  /** bounded keyed state at the end, per stage that held any */
  state?: ({ stage: string } & StateStats)[];
}

/** how long run() waits for sources and sinks to close after a failure or a stop */
const CLOSE_TIMEOUT_MS = 5000;
const settleWithin = <T>(p: Promise<T>, ms: number): Promise<T | undefined> => {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<undefined>((r) => { t = setTimeout(() => r(undefined), ms); })]).finally(() => clearTimeout(t));
};

const DEFAULTS = { queueCapacity: 8192, sourceBatchSize: 1024, partitionIdleTimeoutUs: 5_000_000, tickMs: 20 };

function validate(o: RuntimeOptions): typeof DEFAULTS & { eventTimeField: string } {
  const known = new Set(['clock', 'queueCapacity', 'sourceBatchSize', 'partitionIdleTimeoutUs', 'tickMs', 'restoreFrom', 'checkpointIntervalMs', 'onCheckpoint', 'stateStore', 'observer', 'eventTimeField', 'onFailure']);
  if (o.eventTimeField !== undefined && (typeof o.eventTimeField !== 'string' || !o.eventTimeField)) throw new ConfigError('runtime: options.eventTimeField must be a column name');
  if (o.checkpointIntervalMs !== undefined && !(Number.isInteger(o.checkpointIntervalMs) && o.checkpointIntervalMs > 0)) {
    throw new ConfigError(`runtime: options.checkpointIntervalMs must be a positive integer, got ${String(o.checkpointIntervalMs)}`);
  }
  for (const k of Object.keys(o)) if (!known.has(k)) throw new ConfigError(`runtime: unknown option '${k}'`);
  const r = { ...DEFAULTS } as typeof DEFAULTS;
  for (const k of Object.keys(DEFAULTS) as (keyof typeof DEFAULTS)[]) if (o[k] !== undefined) r[k] = o[k] as number;
  const posInt = (name: keyof typeof DEFAULTS) => {
    if (!Number.isInteger(r[name]) || r[name] <= 0) throw new ConfigError(`runtime: options.${name} must be a positive integer, got ${String(r[name])}`);
  };
  posInt('queueCapacity'); posInt('sourceBatchSize'); posInt('partitionIdleTimeoutUs'); posInt('tickMs');
  return { ...r, eventTimeField: o.eventTimeField ?? 'ts' };
}

abstract class NodeRt {
  readonly inputs: Edge[] = [];
  /** out edges per port ('main' and side names) */
  readonly outs = new Map<string, Edge[]>();
  readonly stats: StageStats;
  constructor(readonly spec: NodeSpec) {
    this.stats = { name: spec.name, kind: spec.def.kind, recordsIn: 0, recordsOut: 0, batchesIn: 0, busyMs: 0, backpressuredMs: 0, sideOut: {} };
  }
  allOut(): Edge[] { const a: Edge[] = []; for (const es of this.outs.values()) a.push(...es); return a; }
  hasCredit(): boolean { for (const es of this.outs.values()) for (const e of es) if (!e.hasCredit()) return false; return true; }
  broadcast(item: Item): void { for (const es of this.outs.values()) for (const e of es) e.push(item); }
}

class OpNodeRt extends NodeRt implements OperatorContext<Schema, SideSchemas> {
  readonly op: OperatorHooks<Schema, SideSchemas> & { process?(b: Batch<Schema>, c: OperatorContext<Schema, SideSchemas>): void };
  inWm: number[] = [];
  ended: boolean[] = [];
  barrierAt: (number | null)[] = [];
  watermark = -Infinity;
  forwarded = -Infinity;
  ingestTime = 0;
  timers: number[] = [];
  #rr = 0;
  #bpSince = 0;
  readonly stage: string;
  readonly keyedOut: boolean;

  constructor(spec: NodeSpec & { kind: 'op' | 'join' }, readonly clock: Clock, private rt: Runtime, partitioned: boolean) {
    super(spec);
    this.stage = spec.name;
    this.keyedOut = spec.keyedOut;
    this.op = (partitioned && spec.kind === 'op' && (spec.def.keyed || spec.def.partitionState)
      ? new PartitionedOperator(() => spec.def.create() as never)
      : spec.def.create()) as OpNodeRt['op'];
  }

  emit(batch: Batch<Schema>): void { this.emitSide('main', batch); }
  emitSide(port: string, batch: Batch<Schema>): void {
    if (batch.length === 0) return;
    const edges = this.outs.get(port);
    if (!edges) throw new SluiceError('SLUICE_ERR_NO_SUCH_PORT', `stage '${this.stage}' emitted on undeclared port '${port}'`, { domain: 'internal' });
    for (const f of PER_RECORD) {
      const v = batch.meta[f];
      if (v && v.length !== batch.length) throw new SluiceError('SLUICE_ERR_META_MISALIGNED', `stage '${this.stage}' emitted ${batch.length} records with ${v.length} meta.${f}: per-record meta must stay aligned (use originOnly() for new records)`, { domain: 'internal' });
    }
    if (port === 'main' && this.keyedOut && !batch.meta.keys) {
      throw new SluiceError('SLUICE_ERR_KEYS_DROPPED', `stage '${this.stage}' emitted a batch without keys on a keyed stream`, { domain: 'internal' });
    }
    this.stats.recordsOut += batch.length;
    if (port !== 'main') this.stats.sideOut[port] = (this.stats.sideOut[port] ?? 0) + batch.length;
    if (port === 'dead') this.rt.observeDeadLetters(this.stage, batch);
    const item: Item = { k: ItemKind.Batch, b: batch };
    for (const e of edges) e.push(item);
  }
  registerTimer(time: number): void { this.timers.push(time); }
  /** records dropped on purpose, by reason (OperatorContext.dropped) */
  readonly droppedBy = new Map<string, number>();
  dropped(reason: string, records: number): void { if (records > 0) this.droppedBy.set(reason, (this.droppedBy.get(reason) ?? 0) + records); }
  wake(): void { this.rt.wake(); }
  fail(err: unknown): void { this.rt.failFrom(this.stage, err); }
  /** end of input reached an asynchronous operator with outputs still to come */
  endPending = false;
  emitWatermark(wm: number): void {
    if (wm > this.forwarded) { this.forwarded = wm; this.broadcast({ k: ItemKind.Watermark, wm, ingest: this.ingestTime }); }
  }

  /** take and handle one item; false when nothing could be done */
  step(): boolean {
    if (this.endPending) {
      if ((this.op.inFlight?.() ?? 0) > 0) return false;
      this.endPending = false;
      this.broadcast({ k: ItemKind.End });
      return true;
    }
    const n = this.inputs.length;
    let input = -1;
    for (let j = 0; j < n; j++) {
      const i = (this.#rr + j) % n;
      if (this.barrierAt[i] === null && this.inputs[i].size > 0 && this.#canTake(this.inputs[i].peek()!)) { input = i; break; }
    }
    if (input < 0) return false;
    if (!this.hasCredit()) {
      if (this.#bpSince === 0) this.#bpSince = performance.now();
      return false;
    }
    if (this.#bpSince !== 0) { this.stats.backpressuredMs += performance.now() - this.#bpSince; this.#bpSince = 0; }
    this.#rr = input + 1;
    const item = this.inputs[input].shift()!;
    const t0 = performance.now();
    try {
      this.handle(item, input);
    } catch (err) {
      throw err instanceof SluiceError && err.stage ? err : new OperatorError(this.stage, err);
    }
    const ms = performance.now() - t0;
    this.stats.busyMs += ms;
    if (item.k === ItemKind.Batch) this.rt.observeProcessed(this.stage, ms / 1000, item.b.length);
    return true;
  }

  /** asynchronous operators: a barrier or the end waits for outputs in flight; batches wait for room */
  #canTake(item: Item): boolean {
    const op = this.op;
    if (!op.inFlight) return true;
    if (item.k === ItemKind.Batch) return op.canAccept?.() ?? true;
    if (item.k === ItemKind.Barrier || item.k === ItemKind.End) {
      if (op.inFlight() === 0) return true;
      op.flush?.(this);
      return false;
    }
    return true;
  }

  private handle(item: Item, input: number): void {
    switch (item.k) {
      case ItemKind.Batch: {
        const b = item.b;
        this.stats.recordsIn += b.length;
        this.stats.batchesIn++;
        this.ingestTime = b.meta.ingestTime;
        if (this.spec.kind === 'join') {
          const j = this.op as unknown as { processLeft(b: Batch<Schema>, c: OpNodeRt): void; processRight(b: Batch<Schema>, c: OpNodeRt): void };
          if (input === 0) j.processLeft(b, this); else j.processRight(b, this);
        } else {
          (this.op as Operator<Schema, Schema, SideSchemas>).process(b, this);
        }
        return;
      }
      case ItemKind.Watermark:
        this.ingestTime = item.ingest;
        this.inWm[input] = Math.max(this.inWm[input], item.wm);
        this.advanceWatermark();
        return;
      case ItemKind.Idle:
        if (this.op.onPartitionIdle) this.op.onPartitionIdle(item.partition, this);
        else this.broadcast(item);
        return;
      case ItemKind.Barrier:
        this.barrierAt[input] = item.id;
        this.maybeCompleteBarrier(item.id);
        return;
      case ItemKind.End:
        this.ended[input] = true;
        this.barrierAt[input] = null;
        if (this.ended.every(Boolean)) {
          // end of input flushes (watermark +∞, close); a stop without drain keeps state as it is
          if (!this.rt.noDrain) {
            this.inWm.fill(Infinity);
            this.advanceWatermark();
            this.op.close?.(this);
          }
          // an asynchronous operator's last outputs go out before the end does (see step)
          if ((this.op.inFlight?.() ?? 0) > 0) this.endPending = true;
          else this.broadcast({ k: ItemKind.End });
        } else {
          this.advanceWatermark();
          const pending = this.barrierAt.find((b) => b !== null);
          if (pending != null) this.maybeCompleteBarrier(pending);
        }
        return;
    }
  }

  private advanceWatermark(): void {
    let wm = Infinity;
    for (let i = 0; i < this.inWm.length; i++) if (!this.ended[i] || this.inWm[i] === Infinity) wm = Math.min(wm, this.inWm[i]);
    if (wm <= this.watermark) return;
    this.watermark = wm;
    const fwd = this.op.onWatermark ? (this.op.onWatermark(wm, this) ?? wm) : wm;
    if (fwd > this.forwarded) {
      this.forwarded = fwd;
      this.broadcast({ k: ItemKind.Watermark, wm: fwd, ingest: this.ingestTime });
    }
  }

  private maybeCompleteBarrier(id: number): void {
    for (let i = 0; i < this.inputs.length; i++) if (!this.ended[i] && this.barrierAt[i] !== id) return;
    this.rt.recordState(id, this.stage, this.op.snapshot?.());
    this.barrierAt.fill(null);
    this.broadcast({ k: ItemKind.Barrier, id });
  }

  runTimers(now: number): void {
    if (this.timers.length === 0 || !this.op.onTimer) return;
    const due = this.timers.filter((t) => t <= now).sort((a, b) => a - b);
    if (due.length === 0) return;
    this.timers = this.timers.filter((t) => t > now);
    for (const t of due) this.op.onTimer(t, this);
  }
}

class SourceNodeRt extends NodeRt {
  reader!: SourceReader<Schema>;
  reading = false;
  done = false;
  stopRequested = false;
  pendingBarrier: number | null = null;
  /** partition → unpaused time (µs) of its last record; idle partitions are absent */
  lastActive = new Map<number, number>();
  idle = new Set<number>();
  ended = new Set<number>();
  pausedUs = 0;
  pausedSince = -1;
  constructor(spec: NodeSpec, readonly clock: Clock) { super(spec); }

  /** processing time that excludes time spent paused by backpressure */
  activeNow(): number {
    const now = this.clock.now();
    return now - this.pausedUs - (this.pausedSince >= 0 ? now - this.pausedSince : 0);
  }
  minCredit(): number { let c = Infinity; for (const e of this.allOut()) c = Math.min(c, e.credit()); return c; }
}

class SinkNodeRt extends NodeRt {
  writer!: SinkWriter<Schema>;
  inFlight = 0;
  closed = false;
  barrier: number | null = null;
  hist: Histogram;
  constructor(spec: NodeSpec, readonly clock: Clock) {
    super(spec);
    this.hist = hdrBuild({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  }
}

export class Runtime {
  readonly #topology: Topology;
  readonly #clock: Clock;
  readonly #opts: ReturnType<typeof validate>;
  readonly #restore?: Checkpoint;
  #ops: OpNodeRt[] = [];
  #sources: SourceNodeRt[] = [];
  #sinks: SinkNodeRt[] = [];
  #edges: Edge[] = [];
  #scheduled = false;
  #failed: unknown = null;
  #resolve!: () => void;
  #reject!: (e: unknown) => void;
  #ticker: NodeJS.Timeout | undefined;
  #nextCheckpoint = 1;
  #checkpoints = new Map<number, { cp: Checkpoint; acks: number; resolve: (cp: Checkpoint) => void }>();
  /** the completed checkpoint whose state and offsets are being saved (null when none) */
  #persisting: Promise<void> | null = null;
  #stateAtEnd: RuntimeView['state'] | null = null;
  #completedCheckpoints = 0;
  #started = 0;
  #interval?: number;
  #onCheckpoint?: (cp: Checkpoint) => void | Promise<void>;
  #cpTimer: NodeJS.Timeout | undefined;
  #store?: PartitionStateStore;
  #observer?: RuntimeObserver;
  #onFailure?: (err: unknown) => void;

  /** what metrics read at scrape time */
  view(): RuntimeView {
    return {
      stages: [...this.#sources, ...this.#ops, ...this.#sinks].map((n) => n.stats),
      edges: this.#edges.map((e) => ({ from: e.from, to: e.to, records: e.records, capacity: e.capacity })),
      watermarks: this.#ops.map((o) => ({ stage: o.stage, watermark: o.watermark })),
      partitions: this.#sources.map((s) => ({ stage: s.spec.name, partitions: s.reader?.partitions().length ?? 0, idle: s.idle.size })),
      dropped: [
        ...this.#ops.flatMap((o) => [...o.droppedBy].map(([reason, records]) => ({ stage: o.stage, reason, records }))),
      ],
      state: this.#ops.filter((o) => isBoundedState(o.op)).map((o) => ({ stage: o.stage, ...(o.op as unknown as BoundedState).stateStats() })),
      uptimeMs: this.#started ? performance.now() - this.#started : 0,
      now: this.#clock.now(),
      checkpoints: this.#completedCheckpoints,
    };
  }

  /** @internal */
  observeProcessed(stage: string, seconds: number, records: number): void { this.#observer?.processed?.(stage, seconds, records); }

  /** @internal */
  observeDeadLetters(stage: string, batch: Batch<Schema>): void {
    if (!this.#observer) return;
    const codes = (batch.columns as Record<string, unknown>).code as string[] | undefined;
    if (codes) for (let i = 0; i < batch.length; i++) this.#observer.deadLettered(stage, codes[i]);
  }

  #partitioned(): { stage: string; op: PartitionScoped }[] {
    return this.#ops.filter((o) => isPartitionScoped(o.op)).map((o) => ({ stage: o.stage, op: o.op as unknown as PartitionScoped }));
  }

  async #adoptPartitions(names: string[], epoch: number): Promise<Map<string, string>> {
    const loaded = await this.#store!.load(names);
    for (const { stage, op } of this.#partitioned()) for (const n of names) op.adopt(n, loaded.get(n)?.[stage], epoch);
    const positions = new Map<string, string>();
    for (const n of names) { const p = loaded.get(n)?.[POSITION_KEY]; if (typeof p === 'string') positions.set(n, p); }
    return positions;
  }

  #dropPartitions(names: string[]): void {
    for (const { op } of this.#partitioned()) for (const n of names) op.drop(n);
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

  constructor(topology: Topology, options: RuntimeOptions = {}) {
    this.#topology = topology;
    this.#opts = validate(options);
    this.#clock = options.clock ?? systemClock;
    this.#restore = options.restoreFrom;
    this.#interval = options.checkpointIntervalMs;
    this.#onCheckpoint = options.onCheckpoint;
    this.#store = options.stateStore;
    this.#observer = options.observer;
    this.#onFailure = options.onFailure;
    this.#store?.bindCheckpoints?.((id) => {
      if (id >= 0) { const c = this.#checkpoints.get(id); return c ? this.#partitionStates(c.cp) : null; }
      return this.#partitionStates(this.#finalState());
    });
    if (this.#restore && this.#restore.topology !== topology.name) {
      throw new ConfigError(`runtime: checkpoint belongs to topology '${this.#restore.topology}', not '${topology.name}'`);
    }
    const byName = new Map<string, NodeRt>();
    for (const spec of topology.nodes) {
      let node: NodeRt;
      if (spec.kind === 'source') { const s = new SourceNodeRt(spec, this.#clock); this.#sources.push(s); node = s; }
      else if (spec.kind === 'sink') { const s = new SinkNodeRt(spec, this.#clock); this.#sinks.push(s); node = s; }
      else { const o = new OpNodeRt(spec, this.#clock, this, options.stateStore !== undefined); this.#ops.push(o); node = o; }
      byName.set(spec.name, node);
      if (spec.kind !== 'sink') {
        node.outs.set('main', []);
        for (const p of Object.keys(spec.sides)) node.outs.set(p, []);
      }
    }
    for (const spec of topology.nodes) {
      const node = byName.get(spec.name)!;
      for (const ref of spec.inputs) {
        const e = new Edge(ref.node, spec.name, this.#opts.queueCapacity);
        byName.get(ref.node)!.outs.get(ref.port)!.push(e);
        node.inputs.push(e);
        this.#edges.push(e);
      }
      if (node instanceof OpNodeRt) {
        node.inWm = node.inputs.map(() => -Infinity);
        node.ended = node.inputs.map(() => false);
        node.barrierAt = node.inputs.map(() => null);
        const st = this.#restore?.operators[spec.name];
        if (st !== undefined) {
          if (!node.op.restore) throw new ConfigError(`runtime: checkpoint has state for stage '${spec.name}', which cannot restore`);
          node.op.restore(st);
        }
      }
    }
  }

  /** Run until every source is exhausted (or stop() is called) and every sink closed. */
  async run(): Promise<RunSummary> {
    this.#started = performance.now();
    // settled by the pump; created first so a failure while opening has somewhere to go
    const finished = new Promise<void>((resolve, reject) => { this.#resolve = resolve; this.#reject = reject; });
    finished.catch(() => undefined);
    for (const s of this.#sources) {
      s.reader = await (s.spec.def as SourceDef<Schema>).open({
        name: s.spec.name, clock: this.#clock, restoreFrom: this.#restore?.sources[s.spec.name],
        ...(this.#store ? {
          // a partition whose state cannot be loaded would wait for it forever: that stops the job, loudly
          partitionsAssigned: (names: string[], epoch: number) => this.#adoptPartitions(names, epoch).catch((e: unknown) => {
            this.#fail(e instanceof SluiceError ? e : new IoError(`loading the keyed state of ${names.join(', ')} failed: ${(e as Error).message}`, e));
            throw e;
          }),
          partitionsRevoked: (names: string[]) => this.#dropPartitions(names),
        } : {}),
      }) as SourceReader<Schema>;
      const now = s.activeNow();
      for (const p of s.reader.partitions()) s.lastActive.set(p, now);
    }
    for (const s of this.#sinks) s.writer = await (s.spec.def as { open(c: unknown): Promise<SinkWriter<Schema>> }).open({ name: s.spec.name, clock: this.#clock });
    this.#opened = true;
    this.#ticker = setInterval(() => this.#schedule(), this.#opts.tickMs);
    if (this.#interval) {
      // one checkpoint at a time, barriers to saved state and commits: a save still in flight is waited for
      this.#cpTimer = setInterval(() => { if (this.#checkpoints.size === 0 && !this.#persisting && !this.#failed && !this.#aborted) this.checkpoint().catch((e) => this.#fail(e)); }, this.#interval);
    }
    this.#schedule();
    try {
      await finished;
      // the keyed state as the job ends, before closing sources gives partitions up (librdkafka revokes them on close)
      this.#stateAtEnd = this.view().state;
      // no periodic checkpoint from here on, and one still being saved lands before the final
      // save and before the store closes (else: a save on a closed producer, a failed stop)
      clearInterval(this.#cpTimer);
      if (this.#persisting) await this.#persisting.catch(() => undefined);
      // a clean end: every output is written and acknowledged, so the final state and positions commit
      if (!this.#failed && !this.#aborted) {
        if (this.#store) await this.#store.save(this.#partitionStates(this.#finalState()));
        for (const s of this.#sources) await s.reader.commit?.(s.reader.position());
      }
      await this.#store?.close?.();
    } finally {
      clearInterval(this.#ticker);
      clearInterval(this.#cpTimer);
      // a client that cannot reach its broker may never finish closing: bounded, so run() settles
      await settleWithin(Promise.allSettled(this.#sources.map((s) => s.reader?.close())), CLOSE_TIMEOUT_MS);
      if (this.#failed || this.#aborted) await settleWithin(Promise.allSettled(this.#sinks.filter((s) => !s.closed).map((s) => s.writer?.close())), CLOSE_TIMEOUT_MS);
    }
    return this.summary();
  }

  /**
   * Stop reading; what is in flight is processed and acknowledged. With drain (default)
   * event time then jumps to +∞ so windows flush, as at the end of a bounded input;
   * without, operator state stays as it is — what a Kafka job wants when another process
   * will carry on from its saved state (Flink's stop-with-savepoint without --drain).
   */
  stop(opts: { drain?: boolean } = {}): void {
    this.noDrain = opts.drain === false;
    for (const s of this.#sources) { s.stopRequested = true; s.reader?.interrupt?.(); }
    this.#schedule();
  }
  /** @internal */
  noDrain = false;
  // (a stop before the run has opened everything takes effect at its first pump)

  /**
   * Stop at once, as a crash would: nothing more is processed or flushed, sinks are
   * closed as they are. Resume from the last completed checkpoint.
   */
  abort(): void {
    if (this.#failed || this.#aborted) return;
    this.#aborted = true;
    clearInterval(this.#ticker);
    clearInterval(this.#cpTimer);
    this.#resolve();
  }
  #aborted = false;

  /** keyed state and source positions now, at a clean end (everything processed) */
  #finalState(): Checkpoint {
    const cp: Checkpoint = { id: -1, topology: this.#topology.name, sources: {}, operators: {} };
    for (const s of this.#sources) cp.sources[s.spec.name] = s.reader.position();
    for (const { stage, op } of this.#partitioned()) cp.operators[stage] = op.snapshot();
    return cp;
  }

  /** Take a consistent checkpoint of source positions and operator state. */
  checkpoint(): Promise<Checkpoint> {
    const id = this.#nextCheckpoint++;
    return new Promise((resolve, reject) => {
      // complete: persist it, then let sources commit (Kafka offsets follow saved state, never lead it)
      const complete = (cp: Checkpoint) => {
        const persist = (async () => {
          // keyed state first, offsets after: a restart never finds offsets ahead of its state
          if (this.#store) await this.#store.save(this.#partitionStates(cp));
          await this.#onCheckpoint?.(cp);
          for (const s of this.#sources) await s.reader.commit?.(cp.sources[s.spec.name]);
        })();
        this.#persisting = persist;
        persist.finally(() => { if (this.#persisting === persist) this.#persisting = null; }).catch(() => undefined);
        persist.then(() => resolve(cp), reject);
      };
      this.#checkpoints.set(id, { cp: { id, topology: this.#topology.name, sources: {}, operators: {} }, acks: 0, resolve: complete });
      for (const s of this.#sources) s.pendingBarrier = id;
      this.#schedule();
    });
  }

  /** @internal called by stages when a barrier passes them */
  recordState(id: number, stage: string, state: unknown): void {
    const c = this.#checkpoints.get(id);
    // a copy taken now: operators may hand out their live structures (arrays they keep
    // mutating), and the checkpoint is serialized only when it completes, records later
    if (c && state !== undefined) c.cp.operators[stage] = structuredClone(state);
  }

  summary(): RunSummary {
    const latency: RunSummary['latency'] = {};
    for (const s of this.#sinks) {
      const h = s.hist;
      latency[s.spec.name] = { count: h.totalCount, p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue };
    }
    return {
      topology: this.#topology.name,
      wallMs: performance.now() - this.#started,
      stages: [...this.#sources, ...this.#ops, ...this.#sinks].map((n) => ({ ...n.stats })),
      latency,
      maxQueuedRecords: Math.max(0, ...this.#edges.map((e) => e.maxRecords)),
      checkpoints: this.#completedCheckpoints,
      dropped: this.view().dropped.filter((d) => d.records > 0),
      state: (this.#stateAtEnd ?? this.view().state).filter((st) => st.keys + st.expired + st.evicted > 0),
    };
  }

  #opened = false;
  #pumping = false;

  /** @internal an asynchronous operator emitted outside the pump */
  wake(): void { if (!this.#pumping) this.#schedule(); }
  /** @internal an asynchronous operator hit an error it cannot dead-letter */
  failFrom(stage: string, err: unknown): void {
    this.#fail(err instanceof SluiceError && err.stage ? err : new OperatorError(stage, err));
  }

  #schedule(): void {
    // before every source and sink is open there is nothing to pump (stop() may come early)
    if (this.#scheduled || this.#failed || this.#aborted || !this.#opened) return;
    this.#scheduled = true;
    setImmediate(() => {
      this.#scheduled = false;
      this.#pumping = true;
      try { this.#pump(); } catch (err) { this.#fail(err); } finally { this.#pumping = false; }
    });
  }

  #fail(err: unknown): void {
    if (this.#failed) return;
    this.#failed = err;
    clearInterval(this.#ticker);
    clearInterval(this.#cpTimer);
    this.#reject(err);
    this.#onFailure?.(err);
  }

  #pump(): void {
    const now = this.#clock.now();
    for (const o of this.#ops) o.runTimers(now);
    for (const s of this.#sources) this.#pollSource(s);
    let progress = true;
    while (progress && !this.#failed && !this.#aborted) {
      progress = false;
      for (const o of this.#ops) if (o.step()) progress = true;
      for (const s of this.#sinks) if (this.#stepSink(s)) progress = true;
      // sources may have gained credit
      for (const s of this.#sources) if (this.#pollSource(s)) progress = true;
    }
    if (this.#sinks.every((s) => s.closed)) this.#resolve();
  }

  /** start a read if there is credit; track pause time and idle partitions. True if it emitted. */
  #pollSource(s: SourceNodeRt): boolean {
    if (s.done) return false;
    let emitted = false;
    if (s.pendingBarrier !== null && !s.reading) {
      const id = s.pendingBarrier;
      s.pendingBarrier = null;
      const c = this.#checkpoints.get(id);
      const pos = s.reader.position();
      if (c) c.cp.sources[s.spec.name] = pos;
      s.reader.barrier?.(id, pos);
      s.broadcast({ k: ItemKind.Barrier, id });
      emitted = true;
    }
    if (s.stopRequested && !s.reading) {
      s.done = true;
      s.broadcast({ k: ItemKind.End });
      return true;
    }
    const credit = s.minCredit();
    const now = this.#clock.now();
    if (credit <= 0) {
      if (s.pausedSince < 0) s.pausedSince = now;
    } else if (s.pausedSince >= 0) {
      s.pausedUs += now - s.pausedSince;
      s.pausedSince = -1;
    }
    // idleness: measured on unpaused time since the partition's last record
    const active = s.activeNow();
    for (const [p, last] of s.lastActive) {
      if (!s.idle.has(p) && active - last > this.#opts.partitionIdleTimeoutUs) {
        s.idle.add(p);
        s.broadcast({ k: ItemKind.Idle, partition: p });
        emitted = true;
      }
    }
    if (credit <= 0 || s.reading) return emitted;
    s.reading = true;
    s.reader.read(Math.min(credit, this.#opts.sourceBatchSize)).then((res) => {
      s.reading = false;
      if (this.#aborted) return;
      const ingest = this.#clock.now();
      const activeAt = s.activeNow();
      for (const b of res.batches) {
        if (b.length === 0) continue;
        const p = b.meta.partition;
        s.lastActive.set(p, activeAt);
        s.idle.delete(p);
        s.stats.recordsOut += b.length;
        const batch = b.meta.ingestTime ? b : b.withMeta({ ingestTime: ingest });
        s.broadcast({ k: ItemKind.Batch, b: batch });
      }
      for (const p of res.endedPartitions ?? []) {
        if (s.ended.has(p)) continue;
        s.ended.add(p);
        s.lastActive.delete(p);
        s.broadcast({ k: ItemKind.Idle, partition: p });
      }
      if (res.done) { s.done = true; s.broadcast({ k: ItemKind.End }); }
      this.#schedule();
    }, (err) => this.#fail(err));
    return emitted;
  }

  #stepSink(s: SinkNodeRt): boolean {
    if (s.closed) return false;
    const input = s.inputs[0];
    const next = input.peek();
    if (!next) return false;
    // batches may overlap up to maxInFlight; barriers and the end wait for every
    // acknowledgement. Watermarks and idleness markers end here and wait for nothing: held
    // behind in-flight writes they would serialise the sink, one produce round trip per
    // batch (measured: a Kafka sink after an event-time stage capped at ~600 records/s).
    const marker = next.k === ItemKind.Watermark || next.k === ItemKind.Idle;
    const limit = next.k === ItemKind.Batch ? (s.writer.maxInFlight ?? 1) : 1;
    if (!marker && (s.inFlight >= limit || (next.k !== ItemKind.Batch && s.inFlight > 0))) return false;
    const item = input.shift()!;
    switch (item.k) {
      case ItemKind.Batch: {
        const b = item.b;
        s.stats.recordsIn += b.length;
        s.stats.batchesIn++;
        const t0 = performance.now();
        const now = this.#clock.now();
        const lat = now - b.meta.ingestTime;
        s.hist.recordValueWithCount(Math.max(1, lat), b.length);
        if (this.#observer) {
          const ts = (b.columns as Record<string, unknown>)[this.#opts.eventTimeField];
          this.#observer.delivered(s.spec.name, lat, b.length, ts instanceof Float64Array ? ts : undefined, now);
        }
        const r = s.writer.write(b);
        s.stats.busyMs += performance.now() - t0;
        if (r && typeof (r as Promise<void>).then === 'function') {
          s.inFlight++;
          (r as Promise<void>).then(() => { s.inFlight--; this.#schedule(); }, (err) => this.#fail(err));
        }
        return true;
      }
      case ItemKind.Barrier: {
        // writes before the barrier are acknowledged (inFlight is 0 here); let the sink pre-commit
        const ack = () => {
          const c = this.#checkpoints.get(item.id);
          if (c && ++c.acks === this.#sinks.length) {
            this.#checkpoints.delete(item.id);
            this.#completedCheckpoints++;
            c.resolve(c.cp);
          }
        };
        const r = s.writer.checkpoint?.(item.id);
        if (r && typeof (r as Promise<void>).then === 'function') {
          s.inFlight++;
          (r as Promise<void>).then(() => { s.inFlight--; ack(); this.#schedule(); }, (err) => this.#fail(err));
        } else ack();
        return true;
      }
      case ItemKind.End:
        // hold the sink (inFlight) until its close settles; then it counts as closed
        s.inFlight++;
        s.writer.close().then(() => { s.inFlight--; s.closed = true; this.#schedule(); }, (err) => this.#fail(err));
        return true;
      default:
        return true; // watermarks and idleness markers end at sinks
    }
  }
}
