/**
 * Stages as the runtime holds them (NodeRt) and the operator cell (OperatorCell), with the
 * narrow interface a cell needs from whoever drives it (CellHost): the runtime's pump, the
 * OperatorHarness or the TopologyTestDriver.
 */
import { PER_RECORD, type Batch, type Schema } from '../batch.js';
import type { Clock } from '../clock.js';
import { OperatorError, SluiceError } from '../errors.js';
import type { Operator, OperatorContext, OperatorHooks, SideSchemas } from '../operator.js';
import { PartitionedOperator } from '../partitioned.js';
import { ItemKind, type Edge, type Item } from '../queue.js';
import type { NodeSpec } from '../topology.js';
import type { StageStats } from './options.js';

/** what an operator cell asks of the one driving it */
export interface CellHost {
  /** a barrier passed the cell: the operator's snapshot for checkpoint `id` */
  recordState(id: number, stage: string, state: unknown): void;
  /** an asynchronous operator emitted outside the pump: run again */
  wake(): void;
  /** an asynchronous operator hit an error it cannot dead-letter: the job fails */
  failFrom(stage: string, err: unknown): void;
  /** metrics: a batch handled, dead letters emitted */
  observeProcessed(stage: string, seconds: number, records: number): void;
  observeDeadLetters(stage: string, batch: Batch<Schema>): void;
  /** a stop without drain: end of input does not flush (watermark +∞, close) */
  noDrain(): boolean;
}

/** a stage's place in the graph: its in-edges, its out-edges per port, its counters */
export abstract class NodeRt {
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

/**
 * The operator cell: the one implementation of OperatorContext. It owns an operator
 * instance and everything around it — the checks on what the operator emits, watermark
 * merging over its inputs, barrier alignment, timers, end-of-input handling, and the wait for
 * an asynchronous operator's outputs in flight. The runtime's pump and the test drivers
 * (src/harness.ts, src/test-driver.ts) run operators only through it.
 */
export class OperatorCell extends NodeRt implements OperatorContext<Schema, SideSchemas> {
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

  /** `op`: an instance made already (the harness makes one to tell a join from a one-input operator) */
  constructor(spec: NodeSpec & { kind: 'op' | 'join' }, readonly clock: Clock, private readonly host: CellHost, partitioned: boolean, op?: OperatorCell['op']) {
    super(spec);
    this.stage = spec.name;
    this.keyedOut = spec.keyedOut;
    this.op = op ?? (partitioned && spec.kind === 'op' && (spec.def.keyed || spec.def.partitionState) && !spec.def.scopesPartitions
      ? new PartitionedOperator(() => spec.def.create() as never)
      : spec.def.create()) as OperatorCell['op'];
  }

  /** the in-edges are in place: one watermark, end flag and barrier slot per input */
  connected(): void {
    this.inWm = this.inputs.map(() => -Infinity);
    this.ended = this.inputs.map(() => false);
    this.barrierAt = this.inputs.map(() => null);
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
    if (port === 'dead') this.host.observeDeadLetters(this.stage, batch);
    const item: Item = { k: ItemKind.Batch, b: batch };
    for (const e of edges) e.push(item);
  }
  registerTimer(time: number): void { this.timers.push(time); }
  /** records dropped on purpose, by reason (OperatorContext.dropped) */
  readonly droppedBy = new Map<string, number>();
  dropped(reason: string, records: number): void { if (records > 0) this.droppedBy.set(reason, (this.droppedBy.get(reason) ?? 0) + records); }
  wake(): void { this.host.wake(); }
  fail(err: unknown): void { this.host.failFrom(this.stage, err); }
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
    if (item.k === ItemKind.Batch) this.host.observeProcessed(this.stage, ms / 1000, item.b.length);
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

  /** one item from input `input`: a batch to the operator, or a marker (watermark, idle, barrier, end) */
  handle(item: Item, input: number): void {
    switch (item.k) {
      case ItemKind.Batch: {
        const b = item.b;
        this.stats.recordsIn += b.length;
        this.stats.batchesIn++;
        this.ingestTime = b.meta.ingestTime;
        if (this.spec.kind === 'join') {
          const j = this.op as unknown as { processLeft(b: Batch<Schema>, c: OperatorCell): void; processRight(b: Batch<Schema>, c: OperatorCell): void };
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
          if (!this.host.noDrain()) {
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
    this.host.recordState(id, this.stage, this.op.snapshot?.());
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
