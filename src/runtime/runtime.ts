/**
 * The embedded runtime: runs a built Topology on the calling thread.
 *
 * Scheduling is a pump: in each round every stage, in topological order, takes at most
 * one item from its inputs, provided every edge it writes to has credit. Items are
 * batches and in-band control markers (watermark, partition idle, checkpoint barrier,
 * end), so markers stay ordered with the data around them. Sources are read only for
 * as many records as their out-edges have credit for: a slow sink pauses the source.
 *
 * The rooms: options.ts (configuration, view, summary), cell.ts (the operator cell: the
 * operator context, its checks, watermarks, barriers, timers), drivers.ts (reading sources,
 * writing sinks), checkpoints.ts (the checkpoint protocol and partition state). This file
 * builds the graph, opens and closes it, and pumps.
 */
import { isBoundedState, type BoundedState } from '../state.js';
import type { Batch, Schema } from '../batch.js';
import { systemClock, type Clock } from '../clock.js';
import { ConfigError, IoError, OperatorError, SluiceError } from '../errors.js';
import type { SinkWriter, SourceDef, SourceReader } from '../io.js';
import type { Edge } from '../queue.js';
import type { Topology } from '../topology.js';
import type { CellHost, OperatorCell } from './cell.js';
import { CheckpointCoordinator } from './checkpoints.js';
import type { DriverHost, SinkDriver, SourceDriver } from './drivers.js';
import { buildGraph } from './graph.js';
import { validateOptions, type Checkpoint, type RunSummary, type RuntimeObserver, type RuntimeOptions, type RuntimeView, type ValidOptions } from './options.js';

/** how long run() waits for sources and sinks to close after a failure or a stop */
const CLOSE_TIMEOUT_MS = 5000;
const settleWithin = <T>(p: Promise<T>, ms: number): Promise<T | undefined> => {
  let t: ReturnType<typeof setTimeout> | undefined;
  return Promise.race([p, new Promise<undefined>((r) => { t = setTimeout(() => r(undefined), ms); })]).finally(() => clearTimeout(t));
};

export class Runtime {
  readonly #topology: Topology;
  readonly #clock: Clock;
  readonly #restore?: Checkpoint;
  readonly #cells: OperatorCell[];
  readonly #sources: SourceDriver[];
  readonly #sinks: SinkDriver[];
  readonly #edges: Edge[];
  readonly #checkpoints: CheckpointCoordinator;
  readonly #host: CellHost & DriverHost;
  #scheduled = false;
  #pumping = false;
  #opened = false;
  #failed: unknown = null;
  #aborted = false;
  #noDrain = false;
  #resolve!: () => void;
  #reject!: (e: unknown) => void;
  #ticker: NodeJS.Timeout | undefined;
  #stateAtEnd: RuntimeView['state'] | null = null;
  #started = 0;
  readonly #onFailure?: (err: unknown) => void;
  /** keyed state per partition moves with its partition (a PartitionStateStore is set) */
  readonly #hasStore: boolean;

  constructor(topology: Topology, options: RuntimeOptions = {}) {
    this.#topology = topology;
    const opts: ValidOptions = validateOptions(options);
    this.#clock = options.clock ?? systemClock;
    this.#restore = options.restoreFrom;
    this.#onFailure = options.onFailure;
    if (this.#restore && this.#restore.topology !== topology.name) {
      throw new ConfigError(`runtime: checkpoint belongs to topology '${this.#restore.topology}', not '${topology.name}'`);
    }
    const observer: RuntimeObserver | undefined = options.observer;
    this.#hasStore = options.stateStore !== undefined;
    // what cells and drivers may ask of the runtime, and nothing more
    this.#host = {
      opts, observer,
      checkpoints: { sourcePassed: (id, source, position) => this.#checkpoints.sourcePassed(id, source, position), sinkAcked: (id) => this.#checkpoints.sinkAcked(id) },
      // a method: whether the stop drains is decided when stop() is called, after the cells exist
      noDrain: () => this.#noDrain,
      recordState: (id, stage, state) => this.#checkpoints.recordState(id, stage, state),
      wake: () => { if (!this.#pumping) this.#schedule(); },
      failFrom: (stage, err) => this.#fail(err instanceof SluiceError && err.stage ? err : new OperatorError(stage, err)),
      observeProcessed: (stage, seconds, records) => observer?.processed?.(stage, seconds, records),
      observeDeadLetters: (stage, batch: Batch<Schema>) => {
        if (!observer) return;
        const codes = (batch.columns as Record<string, unknown>).code as string[] | undefined;
        if (codes) for (let i = 0; i < batch.length; i++) observer.deadLettered(stage, codes[i]);
      },
      schedule: () => this.#schedule(),
      fail: (err) => this.#fail(err),
      aborted: () => this.#aborted,
    };
    const g = buildGraph(topology, { clock: this.#clock, host: this.#host, queueCapacity: opts.queueCapacity, partitioned: this.#hasStore, restore: this.#restore });
    this.#cells = g.cells; this.#sources = g.sources; this.#sinks = g.sinks; this.#edges = g.edges;
    this.#checkpoints = new CheckpointCoordinator(
      { topology: topology.name, sources: this.#sources, cells: this.#cells, sinks: this.#sinks.length },
      { intervalMs: options.checkpointIntervalMs, onCheckpoint: options.onCheckpoint, store: options.stateStore },
      { schedule: () => this.#schedule(), fail: (e) => this.#fail(e), stopped: () => this.#failed !== null || this.#aborted },
    );
  }

  /** what metrics read at scrape time */
  view(): RuntimeView {
    return {
      stages: [...this.#sources, ...this.#cells, ...this.#sinks].map((n) => n.stats),
      edges: this.#edges.map((e) => ({ from: e.from, to: e.to, records: e.records, capacity: e.capacity })),
      watermarks: this.#cells.map((o) => ({ stage: o.stage, watermark: o.watermark })),
      partitions: this.#sources.map((s) => ({ stage: s.spec.name, partitions: s.reader?.partitions().length ?? 0, idle: s.idle.size })),
      dropped: this.#cells.flatMap((o) => [...o.droppedBy].map(([reason, records]) => ({ stage: o.stage, reason, records }))),
      state: this.#cells.filter((o) => isBoundedState(o.op)).map((o) => ({ stage: o.stage, ...(o.op as unknown as BoundedState).stateStats() })),
      uptimeMs: this.#started ? performance.now() - this.#started : 0,
      now: this.#clock.now(),
      checkpoints: this.#checkpoints.completed,
    };
  }

  /** Run until every source is exhausted (or stop() is called) and every sink closed. */
  async run(): Promise<RunSummary> {
    this.#started = performance.now();
    // settled by the pump; created first so a failure while opening has somewhere to go
    const finished = new Promise<void>((resolve, reject) => { this.#resolve = resolve; this.#reject = reject; });
    finished.catch(() => undefined);
    for (const s of this.#sources) {
      s.opened(await (s.spec.def as SourceDef<Schema>).open({
        name: s.spec.name, clock: this.#clock, restoreFrom: this.#restore?.sources[s.spec.name],
        ...(this.#hasStore ? {
          // a partition whose state cannot be loaded would wait for it forever: that stops the job, loudly
          partitionsAssigned: (names: string[], epoch: number) => this.#checkpoints.adoptPartitions(names, epoch).catch((e: unknown) => {
            this.#fail(e instanceof SluiceError ? e : new IoError(`loading the keyed state of ${names.join(', ')} failed: ${(e as Error).message}`, e));
            throw e;
          }),
          partitionsRevoked: (names: string[]) => this.#checkpoints.dropPartitions(names),
        } : {}),
      }) as SourceReader<Schema>);
    }
    for (const s of this.#sinks) s.writer = await (s.spec.def as { open(c: unknown): Promise<SinkWriter<Schema>> }).open({ name: s.spec.name, clock: this.#clock });
    this.#opened = true;
    this.#ticker = setInterval(() => this.#schedule(), this.#host.opts.tickMs);
    this.#checkpoints.startTimer();
    this.#schedule();
    try {
      await finished;
      // the keyed state as the job ends, before closing sources gives partitions up (librdkafka revokes them on close)
      this.#stateAtEnd = this.view().state;
      await this.#checkpoints.finish(!this.#failed && !this.#aborted);
    } finally {
      clearInterval(this.#ticker);
      this.#checkpoints.stopTimer();
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
   * A stop before the run has opened everything takes effect at its first pump.
   */
  stop(opts: { drain?: boolean } = {}): void {
    this.#noDrain = opts.drain === false;
    for (const s of this.#sources) { s.stopRequested = true; s.reader?.interrupt?.(); }
    this.#schedule();
  }

  /**
   * Stop at once, as a crash would: nothing more is processed or flushed, sinks are
   * closed as they are. Resume from the last completed checkpoint.
   */
  abort(): void {
    if (this.#failed || this.#aborted) return;
    this.#aborted = true;
    clearInterval(this.#ticker);
    this.#checkpoints.stopTimer();
    this.#resolve();
  }

  /** Take a consistent checkpoint of source positions and operator state (checkpoints.ts). */
  checkpoint(): Promise<Checkpoint> { return this.#checkpoints.begin(); }

  summary(): RunSummary {
    const latency: RunSummary['latency'] = {};
    for (const s of this.#sinks) {
      const h = s.hist;
      latency[s.spec.name] = { count: h.totalCount, p50: h.getValueAtPercentile(50), p90: h.getValueAtPercentile(90), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue };
    }
    return {
      topology: this.#topology.name,
      wallMs: performance.now() - this.#started,
      stages: [...this.#sources, ...this.#cells, ...this.#sinks].map((n) => ({ ...n.stats })),
      latency,
      maxQueuedRecords: Math.max(0, ...this.#edges.map((e) => e.maxRecords)),
      checkpoints: this.#checkpoints.completed,
      dropped: this.view().dropped.filter((d) => d.records > 0),
      state: (this.#stateAtEnd ?? this.view().state).filter((st) => st.keys + st.expired + st.evicted > 0),
    };
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
    this.#checkpoints.stopTimer();
    this.#reject(err);
    this.#onFailure?.(err);
  }

  /** timers, then rounds over every stage until nothing moves; the run ends when every sink closed */
  #pump(): void {
    const now = this.#clock.now();
    for (const o of this.#cells) o.runTimers(now);
    for (const s of this.#sources) s.poll();
    let progress = true;
    while (progress && !this.#failed && !this.#aborted) {
      progress = false;
      for (const o of this.#cells) if (o.step()) progress = true;
      for (const s of this.#sinks) if (s.step()) progress = true;
      // sources may have gained credit
      for (const s of this.#sources) if (s.poll()) progress = true;
    }
    if (this.#sinks.every((s) => s.closed)) this.#resolve();
  }
}
