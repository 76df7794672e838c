/**
 * Operator test harness (as Flink's OneInputStreamOperatorTestHarness): push batches and
 * watermarks, move the clock, snapshot and restore, read outputs; no threads, no broker.
 *
 *   const h = new OperatorHarness(window({...}));
 *   h.push(rows, { keys });
 *   h.watermark(10_000);
 *   assert.equal(h.output().length, 1);
 */
import { batchOf, type Batch, type Row, type Schema } from './batch.js';
import { ManualClock } from './clock.js';
import type { JoinOperator, JoinOperatorDef, NoSides, Operator, OperatorContext, OperatorDef, SideSchemas } from './operator.js';

export class OperatorHarness<I extends Schema, O extends Schema, Sides extends SideSchemas = NoSides, R extends Schema = Schema> {
  readonly clock: ManualClock;
  op: Operator<I, O, Sides> | JoinOperator<I, R, O, Sides>;
  readonly outputs: Batch<O>[] = [];
  readonly sideOutputs = new Map<string, Batch<Schema>[]>();
  /** watermarks the operator forwarded */
  readonly watermarks: number[] = [];
  /** how often an asynchronous operator asked to be woken, and what it failed with */
  wakes = 0;
  readonly failures: unknown[] = [];
  /** records the operator dropped on purpose, by reason (ctx.dropped) */
  readonly droppedBy = new Map<string, number>();
  #timers: number[] = [];
  #watermark = -Infinity;
  #ingest = 0;
  #input: I | undefined;
  readonly ctx: OperatorContext<O, Sides>;

  constructor(readonly def: OperatorDef<I, O, Sides> | JoinOperatorDef<I, R, O, Sides>, opts: { clock?: ManualClock; input?: I } = {}) {
    this.#input = opts.input;
    this.clock = opts.clock ?? new ManualClock(0);
    this.op = def.create();
    const self = this;
    this.ctx = {
      stage: `test-${def.kind}`,
      clock: this.clock,
      get watermark() { return self.#watermark; },
      get ingestTime() { return self.#ingest; },
      emit: (b) => { if (b.length) this.outputs.push(b); },
      emitSide: (port, b) => {
        if (!(port in def.sides)) throw new Error(`harness: undeclared side port ${port}`);
        if (!b.length) return;
        const list = this.sideOutputs.get(port) ?? [];
        list.push(b as Batch<Schema>);
        this.sideOutputs.set(port, list);
      },
      registerTimer: (t) => { this.#timers.push(t); },
      emitWatermark: (wm) => { this.#forward(wm); },
      wake: () => { this.wakes++; },
      fail: (err) => { this.failures.push(err); },
      dropped: (reason, n) => { if (n > 0) this.droppedBy.set(reason, (this.droppedBy.get(reason) ?? 0) + n); },
    } as OperatorContext<O, Sides>;
  }

  /** push rows (or a batch) on the (left) input; keys are required by keyed operators */
  push(input: Row<I>[] | Batch<I>, meta: { keys?: string[]; partition?: number; ingestTime?: number } = {}): this {
    const b = Array.isArray(input) ? batchOf(this.#input ?? (inferSchema(input) as I), input, meta) : meta.keys ? input.withMeta(meta) : input;
    this.#ingest = b.meta.ingestTime;
    const op = this.op as Operator<I, O, Sides> & JoinOperator<I, R, O, Sides>;
    if (op.process) op.process(b, this.ctx); else op.processLeft(b, this.ctx);
    return this;
  }

  /** push a batch on the right input of a join operator */
  pushRight(b: Batch<R>): this {
    (this.op as JoinOperator<I, R, O, Sides>).processRight(b, this.ctx);
    return this;
  }

  watermark(wm: number): this {
    if (wm <= this.#watermark) return this;
    this.#watermark = wm;
    const fwd = this.op.onWatermark ? (this.op.onWatermark(wm, this.ctx) ?? wm) : wm;
    this.#forward(fwd);
    return this;
  }

  #forwarded = -Infinity;
  #forward(wm: number): void { if (wm > this.#forwarded) { this.#forwarded = wm; this.watermarks.push(wm); } }

  partitionIdle(p: number): this { this.op.onPartitionIdle?.(p, this.ctx); return this; }

  /** move processing time and fire due timers */
  advanceClock(us: number): this {
    this.clock.advance(us);
    const now = this.clock.now();
    const due = this.#timers.filter((t) => t <= now).sort((a, b) => a - b);
    this.#timers = this.#timers.filter((t) => t > now);
    for (const t of due) this.op.onTimer?.(t, this.ctx);
    return this;
  }

  /** snapshot through JSON, as a checkpoint store would keep it */
  snapshot(): unknown { return JSON.parse(JSON.stringify(this.op.snapshot?.() ?? null)); }

  /** replace the operator with a fresh instance restored from `state` (outputs are kept) */
  restore(state: unknown): this {
    this.op = this.def.create();
    this.op.restore?.(state);
    return this;
  }

  close(): this {
    this.watermark(Infinity);
    this.op.close?.(this.ctx);
    return this;
  }

  /** asynchronous operators: resolves once nothing is in flight (flushing what is held back) */
  async settle(timeoutMs = 10_000): Promise<this> {
    const end = Date.now() + timeoutMs;
    this.op.flush?.(this.ctx);
    while ((this.op.inFlight?.() ?? 0) > 0) {
      if (this.failures.length) throw this.failures[0];
      if (Date.now() > end) throw new Error(`harness: ${this.op.inFlight?.()} records still in flight after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 1));
      this.op.flush?.(this.ctx);
    }
    return this;
  }

  output(): Row<O>[] { return this.outputs.flatMap((b) => b.rows()); }
  outputKeys(): string[] { return this.outputs.flatMap((b) => b.meta.keys ?? []); }
  side(port: keyof Sides & string): Row<Schema>[] { return (this.sideOutputs.get(port) ?? []).flatMap((b) => b.rows()); }
  clear(): this { this.outputs.length = 0; this.sideOutputs.clear(); this.watermarks.length = 0; return this; }
  /** the watermark most recently pushed in */
  get currentWatermark(): number { return this.#watermark; }
}

function inferSchema(rows: Record<string, unknown>[]): Schema {
  const s: Record<string, 'f64' | 'str'> = {};
  for (const r of rows) for (const [k, v] of Object.entries(r)) s[k] = typeof v === 'string' ? 'str' : 'f64';
  return s;
}
