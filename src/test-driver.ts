/**
 * A synchronous driver for a whole topology (as Kafka Streams' TopologyTestDriver): records
 * go in at a source, the graph runs to quiescence in the same call, outputs are read at the
 * sinks; processing time is a manual clock. No timers, threads, broker or files, so tests of
 * ordering, watermarks, windows, late data, timers and checkpoints are deterministic.
 *
 *   const d = new TopologyTestDriver(topology);
 *   d.pipe('orders', rows, { partition: 0 });
 *   d.advanceClock(5_000_000);           // processing-time timers, partition idleness
 *   d.end();                             // end of input: watermarks to +∞, windows flush
 *   d.output('alerts');                  // rows the sink received, in order
 *
 * It runs the same graph as the Runtime (runtime/graph.ts) and the same operator cells; what
 * it replaces are the source readers and sink writers, and the pump's scheduling. Edges are
 * unbounded here: backpressure is the Runtime's business and has its own tests.
 */
import { batchOf, type Batch, type Row, type Schema } from './batch.js';
import { ManualClock } from './clock.js';
import { SluiceError } from './errors.js';
import { ItemKind, type Item } from './queue.js';
import type { CellHost } from './runtime/cell.js';
import type { DriverHost, SinkDriver, SourceDriver } from './runtime/drivers.js';
import { buildGraph, type Graph } from './runtime/graph.js';
import { validateOptions, type Checkpoint } from './runtime/options.js';
import type { Topology } from './topology.js';

export class TopologyTestDriver {
  readonly clock: ManualClock;
  readonly #g: Graph;
  readonly #received = new Map<string, Batch<Schema>[]>();
  readonly #watermarks = new Map<string, number[]>();
  readonly #snapshots = new Map<number, Checkpoint>();
  readonly #failures: unknown[] = [];
  #nextCheckpoint = 1;
  #ended = false;

  constructor(readonly topology: Topology, opts: { clock?: ManualClock; restoreFrom?: Checkpoint } = {}) {
    this.clock = opts.clock ?? new ManualClock(0);
    const driver = this;
    const host: CellHost & DriverHost = {
      opts: validateOptions({}),
      checkpoints: { sourcePassed: () => {}, sinkAcked: () => {} },
      noDrain: () => false,
      recordState: (id, stage, state) => { const cp = driver.#snapshots.get(id); if (cp && state !== undefined) cp.operators[stage] = structuredClone(state); },
      wake: () => {},
      failFrom: (_stage, err) => { driver.#failures.push(err); },
      observeProcessed: () => {}, observeDeadLetters: () => {},
      schedule: () => {}, fail: (err) => { driver.#failures.push(err); }, aborted: () => false,
    };
    this.#g = buildGraph(topology, { clock: this.clock, host, queueCapacity: Number.MAX_SAFE_INTEGER, partitioned: false, restore: opts.restoreFrom });
    for (const s of this.#g.sinks) { this.#received.set(s.spec.name, []); this.#watermarks.set(s.spec.name, []); }
  }

  #source(name: string): SourceDriver {
    const s = this.#g.sources.find((x) => x.spec.name === name);
    if (!s) throw new SluiceError('SLUICE_ERR_NO_SUCH_STAGE', `test driver: no source '${name}' (sources: ${this.#g.sources.map((x) => x.spec.name).join(', ')})`, { domain: 'user' });
    return s;
  }
  #sink(name: string): SinkDriver {
    const s = this.#g.sinks.find((x) => x.spec.name === name);
    if (!s) throw new SluiceError('SLUICE_ERR_NO_SUCH_STAGE', `test driver: no sink '${name}' (sinks: ${this.#g.sinks.map((x) => x.spec.name).join(', ')})`, { domain: 'user' });
    return s;
  }

  /**
   * Records arriving at source `name` as one batch (rows in the source's schema, or a batch),
   * from `partition`, ingested now; then the graph runs until nothing moves.
   */
  pipe<S extends Schema>(name: string, input: Row<S>[] | Batch<S>, meta: { partition?: number; keys?: string[] } = {}): this {
    if (this.#ended) throw new SluiceError('SLUICE_ERR_ENDED', 'test driver: input has ended', { domain: 'user' });
    const s = this.#source(name);
    const b = Array.isArray(input) ? batchOf(s.spec.output as S, input, { partition: meta.partition ?? 0, ingestTime: this.clock.now(), ...(meta.keys ? { keys: meta.keys } : {}) }) : input.withMeta({ ingestTime: this.clock.now(), ...(meta.partition !== undefined ? { partition: meta.partition } : {}) });
    s.stats.recordsOut += b.length;
    return this.#into(s, { k: ItemKind.Batch, b: b as unknown as Batch<Schema> });
  }

  /** source partition `partition` of `name` has gone idle (it no longer holds the watermark back) */
  idle(name: string, partition: number): this { return this.#into(this.#source(name), { k: ItemKind.Idle, partition }); }

  /** move processing time: due timers fire, then the graph runs */
  advanceClock(us: number): this {
    this.clock.advance(us);
    const now = this.clock.now();
    for (const c of this.#g.cells) c.runTimers(now);
    return this.#run();
  }

  /** an aligned checkpoint through the whole graph, synchronously: operator state as a Checkpoint */
  checkpoint(): Checkpoint {
    const id = this.#nextCheckpoint++;
    const cp: Checkpoint = { id, topology: this.topology.name, sources: {}, operators: {} };
    this.#snapshots.set(id, cp);
    for (const s of this.#g.sources) s.broadcast({ k: ItemKind.Barrier, id });
    this.#run();
    this.#snapshots.delete(id);
    return cp;
  }

  /** end of input at every source: watermarks go to +∞, windows flush, operators close */
  end(): this {
    if (this.#ended) return this;
    this.#ended = true;
    for (const s of this.#g.sources) s.broadcast({ k: ItemKind.End });
    return this.#run();
  }

  /** rows sink `name` received, in order */
  output<S extends Schema = Schema>(name: string): Row<S>[] { return this.outputBatches(name).flatMap((b) => b.rows()) as Row<S>[]; }
  outputBatches(name: string): Batch<Schema>[] { this.#sink(name); return this.#received.get(name)!; }
  /** the watermarks that reached sink `name` */
  watermarksAt(name: string): number[] { this.#sink(name); return this.#watermarks.get(name)!; }
  /** forget what the sinks received so far */
  clearOutputs(): this { for (const l of this.#received.values()) l.length = 0; for (const l of this.#watermarks.values()) l.length = 0; return this; }
  /** the live stage statistics, as the Runtime's summary reports them */
  stats(): { name: string; recordsIn: number; recordsOut: number }[] { return [...this.#g.sources, ...this.#g.cells, ...this.#g.sinks].map((n) => ({ ...n.stats })); }

  #into(s: SourceDriver, item: Item): this { s.broadcast(item); return this.#run(); }

  /** step every cell until nothing moves; sinks take everything that reaches them */
  #run(): this {
    for (let progress = true; progress;) {
      progress = false;
      for (const c of this.#g.cells) while (c.step()) progress = true;
      for (const s of this.#g.sinks) {
        const input = s.inputs[0];
        for (let item = input.shift(); item; item = input.shift()) {
          progress = true;
          if (item.k === ItemKind.Batch) { s.stats.recordsIn += item.b.length; this.#received.get(s.spec.name)!.push(item.b); }
          else if (item.k === ItemKind.Watermark) this.#watermarks.get(s.spec.name)!.push(item.wm);
        }
      }
      if (this.#failures.length) throw this.#failures[0];
    }
    return this;
  }
}
