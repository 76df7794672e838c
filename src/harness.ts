/**
 * Operator test harness (as Flink's OneInputStreamOperatorTestHarness): push batches and
 * watermarks, move the clock, snapshot and restore, read outputs; no threads, no broker.
 *
 *   const h = new OperatorHarness(window({...}));
 *   h.push(rows, { keys });
 *   h.watermark(10_000);
 *   assert.equal(h.output().length, 1);
 *
 * It runs the operator in the runtime's own operator cell (src/runtime/cell.ts): the same
 * context, the same checks on what it emits (declared ports, aligned per-record meta),
 * the same watermark merging, timers and end-of-input handling — one implementation, not
 * two that drift. What the cell emits is collected from its out-edges after every call.
 */
import { batchOf, type Batch, type Row, type Schema } from './batch.js';
import { ManualClock } from './clock.js';
import type { JoinOperator, JoinOperatorDef, NoSides, Operator, OperatorContext, OperatorDef, SideSchemas } from './operator.js';
import { Edge, ItemKind } from './queue.js';
import { OperatorCell, type CellHost } from './runtime/cell.js';
import type { NodeSpec } from './topology.js';

export class OperatorHarness<I extends Schema, O extends Schema, Sides extends SideSchemas = NoSides, R extends Schema = Schema> {
  readonly clock: ManualClock;
  readonly outputs: Batch<O>[] = [];
  readonly sideOutputs = new Map<string, Batch<Schema>[]>();
  /** watermarks the operator forwarded */
  readonly watermarks: number[] = [];
  /** how often an asynchronous operator asked to be woken, and what it failed with */
  wakes = 0;
  readonly failures: unknown[] = [];
  #cell!: OperatorCell;
  #outs = new Map<string, Edge>();
  #input: I | undefined;
  #joined = false;
  #pushedWm = -Infinity;
  readonly #host: CellHost;

  constructor(readonly def: OperatorDef<I, O, Sides> | JoinOperatorDef<I, R, O, Sides>, opts: { clock?: ManualClock; input?: I } = {}) {
    this.#input = opts.input;
    this.clock = opts.clock ?? new ManualClock(0);
    this.#host = {
      recordState: () => {}, observeProcessed: () => {}, observeDeadLetters: () => {},
      wake: () => { this.wakes++; },
      failFrom: (_stage, err) => { this.failures.push(err); },
      noDrain: () => false,
    };
    this.#cell = this.#newCell();
  }

  /** a cell around a fresh operator instance, wired to collecting edges */
  #newCell(): OperatorCell {
    const op = this.def.create() as OperatorCell['op'];
    this.#joined = typeof op.process !== 'function';
    const kind = this.#joined ? 'join' : 'op';
    const spec = { kind, name: `test-${this.def.kind}`, def: this.def, inputs: this.#joined ? [{ node: 'left', port: 'main' }, { node: 'right', port: 'main' }] : [{ node: 'in', port: 'main' }], output: {}, sides: this.def.sides, keyedOut: false } as unknown as NodeSpec & { kind: 'op' | 'join' };
    const cell = new OperatorCell(spec, this.clock, this.#host, false, op);
    for (const _ of spec.inputs) cell.inputs.push(new Edge('in', spec.name, Infinity));
    this.#outs = new Map([['main', new Edge(spec.name, 'out', Infinity)], ...Object.keys(this.def.sides).map((p) => [p, new Edge(spec.name, p, Infinity)] as [string, Edge])]);
    for (const [port, e] of this.#outs) cell.outs.set(port, [e]);
    cell.connected();
    return cell;
  }

  /** the operator instance under test */
  get op(): Operator<I, O, Sides> | JoinOperator<I, R, O, Sides> { return this.#cell.op as never; }
  /** the operator's context (the cell) */
  get ctx(): OperatorContext<O, Sides> { return this.#cell as unknown as OperatorContext<O, Sides>; }
  /** records the operator dropped on purpose, by reason (ctx.dropped) */
  get droppedBy(): Map<string, number> { return this.#cell.droppedBy; }

  /** move what the cell emitted into outputs, side outputs and watermarks */
  #collect(): this {
    for (const [port, e] of this.#outs) {
      for (let item = e.shift(); item; item = e.shift()) {
        if (item.k === ItemKind.Batch) {
          if (port === 'main') this.outputs.push(item.b as unknown as Batch<O>);
          else { const list = this.sideOutputs.get(port) ?? []; list.push(item.b); this.sideOutputs.set(port, list); }
        } else if (item.k === ItemKind.Watermark && port === 'main') this.watermarks.push(item.wm);
      }
    }
    return this;
  }

  /** push rows (or a batch) on the (left) input; keys are required by keyed operators */
  push(input: Row<I>[] | Batch<I>, meta: { keys?: string[]; partition?: number; ingestTime?: number } = {}): this {
    const b = Array.isArray(input) ? batchOf(this.#input ?? (inferSchema(input) as I), input, meta) : meta.keys ? input.withMeta(meta) : input;
    this.#cell.handle({ k: ItemKind.Batch, b: b as unknown as Batch<Schema> }, 0);
    return this.#collect();
  }

  /** push a batch on the right input of a join operator */
  pushRight(b: Batch<R>): this {
    this.#cell.handle({ k: ItemKind.Batch, b: b as unknown as Batch<Schema> }, 1);
    return this.#collect();
  }

  /** an event-time watermark on every input */
  watermark(wm: number): this {
    if (wm <= this.#pushedWm) return this;
    this.#pushedWm = wm;
    for (let i = 0; i < this.#cell.inputs.length; i++) this.#cell.handle({ k: ItemKind.Watermark, wm, ingest: this.#cell.ingestTime }, i);
    return this.#collect();
  }

  partitionIdle(p: number): this { this.#cell.handle({ k: ItemKind.Idle, partition: p }, 0); return this.#collect(); }

  /** move processing time and fire due timers */
  advanceClock(us: number): this {
    this.clock.advance(us);
    this.#cell.runTimers(this.clock.now());
    return this.#collect();
  }

  /** snapshot through JSON, as a checkpoint store would keep it */
  snapshot(): unknown { return JSON.parse(JSON.stringify(this.#cell.op.snapshot?.() ?? null)); }

  /** replace the operator with a fresh instance restored from `state` (outputs are kept) */
  restore(state: unknown): this {
    this.#cell = this.#newCell();
    this.#pushedWm = -Infinity;
    this.#cell.op.restore?.(state);
    return this;
  }

  /** end of input on every input: watermark +∞ and close, as at the end of a bounded run */
  close(): this {
    for (let i = 0; i < this.#cell.inputs.length; i++) this.#cell.handle({ k: ItemKind.End }, i);
    return this.#collect();
  }

  /** asynchronous operators: resolves once nothing is in flight (flushing what is held back) */
  async settle(timeoutMs = 10_000): Promise<this> {
    const end = Date.now() + timeoutMs;
    const op = this.#cell.op;
    op.flush?.(this.#cell);
    while ((op.inFlight?.() ?? 0) > 0) {
      if (this.failures.length) throw this.failures[0];
      if (Date.now() > end) throw new Error(`harness: ${op.inFlight?.()} records still in flight after ${timeoutMs} ms`);
      await new Promise((r) => setTimeout(r, 1));
      this.#collect();
      op.flush?.(this.#cell);
    }
    return this.#collect();
  }

  output(): Row<O>[] { this.#collect(); return this.outputs.flatMap((b) => b.rows()); }
  outputKeys(): string[] { this.#collect(); return this.outputs.flatMap((b) => b.meta.keys ?? []); }
  side(port: keyof Sides & string): Row<Schema>[] { this.#collect(); return (this.sideOutputs.get(port) ?? []).flatMap((b) => b.rows()); }
  clear(): this { this.#collect(); this.outputs.length = 0; this.sideOutputs.clear(); this.watermarks.length = 0; return this; }
  /** the watermark most recently pushed in */
  get currentWatermark(): number { return this.#pushedWm; }
}

function inferSchema(rows: Record<string, unknown>[]): Schema {
  const s: Record<string, 'f64' | 'str'> = {};
  for (const r of rows) for (const [k, v] of Object.entries(r)) s[k] = typeof v === 'string' ? 'str' : 'f64';
  return s;
}
