/**
 * Prometheus metrics: every metric Sluice exports is declared here. Counters that the
 * runtime already keeps (records, busy time) are read when Prometheus scrapes, so they
 * cost nothing on the hot path; latency and dead letters come from the runtime observer.
 * Names follow Prometheus conventions: base units in the name, `_total` for counters.
 *
 * The endpoint binds to 127.0.0.1 unless told otherwise.
 */
import { createServer, type Server } from 'node:http';
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client';
import { ConfigError } from './errors.js';
import type { Runtime, RuntimeObserver, StageStats } from './runtime.js';
import { observeInference, openPools } from './inference/pool.js';
import { observeKafka, openKafkaSources } from './kafka/stats.js';

export class SluiceMetrics implements RuntimeObserver {
  readonly registry = new Registry();
  #runtime: Runtime | null = null;
  readonly #latency: Histogram<'topology' | 'sink'>;
  readonly #dead: Counter<'topology' | 'stage' | 'code'>;
  readonly #eventTime: Histogram<'topology' | 'sink'>;
  readonly #processing: Histogram<'topology' | 'stage'>;

  constructor(readonly topology: string) {
    const r = this.registry;
    const view = () => this.#runtime?.view();
    const labels = ['topology', 'stage', 'kind'] as const;
    const stageCounter = (name: string, help: string, pick: (s: StageStats, uptimeMs: number) => number) =>
      new Counter({
        name, help, labelNames: labels, registers: [r],
        collect() {
          const v = view();
          if (!v) return;
          this.reset();
          for (const s of v.stages) this.inc({ topology, stage: s.name, kind: s.kind }, Math.max(0, pick(s, v.uptimeMs)));
        },
      });
    stageCounter('sluice_stage_records_in_total', 'Records a stage has taken in.', (s) => s.recordsIn);
    stageCounter('sluice_stage_records_out_total', 'Records a stage has emitted.', (s) => s.recordsOut);
    stageCounter('sluice_stage_busy_seconds_total', 'Time spent inside the stage\'s operator.', (s) => s.busyMs / 1000);
    stageCounter('sluice_stage_backpressured_seconds_total', 'Time a stage had input waiting but no room downstream.', (s) => s.backpressuredMs / 1000);
    stageCounter('sluice_stage_idle_seconds_total', 'Time a stage was neither busy nor backpressured (waiting for input).', (s, up) => (up - s.busyMs - s.backpressuredMs) / 1000);
    new Counter({
      name: 'sluice_late_records_total', help: 'Records a stage routed to its late side output (behind the watermark beyond allowed lateness).', labelNames: ['topology', 'stage'], registers: [r],
      collect() { const v = view(); if (!v) return; this.reset(); for (const s of v.stages) if (s.sideOut.late) this.inc({ topology, stage: s.name }, s.sideOut.late); },
    });
    new Counter({
      name: 'sluice_dropped_records_total', help: 'Records dropped without output, by reason (partition-moved: re-read by the partition\'s new owner; shed: load shedding).', labelNames: ['topology', 'stage', 'reason'], registers: [r],
      collect() { const v = view(); if (!v) return; this.reset(); for (const d of v.dropped) this.inc({ topology, stage: d.stage, reason: d.reason }, d.records); },
    });
    new Gauge({
      name: 'sluice_state_keys', help: 'Keys a stage holds state for (bounded keyed state, summed over this process\'s partitions).', labelNames: ['topology', 'stage'], registers: [r],
      collect() { const v = view(); if (!v) return; this.reset(); for (const s of v.state) this.set({ topology, stage: s.stage }, s.keys); },
    });
    new Counter({
      name: 'sluice_state_evictions_total', help: 'Keys whose state a stage dropped: reason ttl (idle beyond the state TTL, by event time) or max-keys (the per-partition key bound, least recently used first).', labelNames: ['topology', 'stage', 'reason'], registers: [r],
      collect() {
        const v = view(); if (!v) return; this.reset();
        for (const s of v.state) { this.inc({ topology, stage: s.stage, reason: 'ttl' }, s.expired); this.inc({ topology, stage: s.stage, reason: 'max-keys' }, s.evicted); }
      },
    });
    new Gauge({
      name: 'sluice_source_partitions', help: 'Partitions a source reads.', labelNames: ['topology', 'stage'], registers: [r],
      collect() { const v = view(); if (!v) return; this.reset(); for (const p of v.partitions) this.set({ topology, stage: p.stage }, p.partitions); },
    });
    new Gauge({
      name: 'sluice_source_idle_partitions', help: 'Source partitions with no records for the idle timeout (they no longer hold the watermark back).', labelNames: ['topology', 'stage'], registers: [r],
      collect() { const v = view(); if (!v) return; this.reset(); for (const p of v.partitions) this.set({ topology, stage: p.stage }, p.idle); },
    });
    // Kafka: lag and paused partitions read at scrape time; commits and produce errors as they happen
    new Gauge({
      name: 'sluice_kafka_consumer_lag_records', help: 'Per partition: high watermark minus the next offset the engine takes.', labelNames: ['topology', 'stage', 'topic', 'partition'], registers: [r],
      collect() {
        this.reset();
        for (const src of openKafkaSources) {
          for (const [k, lag] of src.lag()) { const i = k.lastIndexOf('/'); this.set({ topology, stage: src.stage, topic: k.slice(0, i), partition: k.slice(i + 1) }, lag); }
        }
      },
    });
    new Gauge({
      name: 'sluice_kafka_paused_partitions', help: 'Partitions paused (or held) because the engine is behind (backpressure).', labelNames: ['topology', 'stage'], registers: [r],
      collect() { this.reset(); for (const src of openKafkaSources) this.set({ topology, stage: src.stage }, src.pausedPartitions()); },
    });
    const commit = new Histogram({
      name: 'sluice_kafka_commit_seconds', help: 'Offset commit round trips (after each completed checkpoint).', labelNames: ['topology', 'stage', 'result'], registers: [r],
      buckets: [0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 5],
    });
    const produceErrors = new Counter({ name: 'sluice_kafka_produce_errors_total', help: 'Produce requests that failed after the client\'s retries.', labelNames: ['topology', 'stage', 'topic'], registers: [r] });
    observeKafka({
      committed(stage, seconds, ok) { commit.observe({ topology, stage, result: ok ? 'ok' : 'rejected' }, seconds); },
      produceFailed(stage, t) { produceErrors.inc({ topology, stage, topic: t }); },
    });
    new Gauge({
      name: 'sluice_edge_queued_records', help: 'Records waiting on the edge between two stages.', labelNames: ['topology', 'from', 'to'], registers: [r],
      collect() { const v = view(); if (!v) return; this.reset(); for (const e of v.edges) this.set({ topology, from: e.from, to: e.to }, e.records); },
    });
    new Gauge({
      name: 'sluice_edge_capacity_records', help: 'Records an edge holds before its writer pauses.', labelNames: ['topology', 'from', 'to'], registers: [r],
      collect() { const v = view(); if (!v) return; this.reset(); for (const e of v.edges) this.set({ topology, from: e.from, to: e.to }, e.capacity); },
    });
    new Gauge({
      name: 'sluice_watermark_lag_seconds', help: 'Processing time minus the event-time watermark a stage has seen.', labelNames: ['topology', 'stage'], registers: [r],
      collect() {
        const v = view();
        if (!v) return;
        this.reset();
        for (const w of v.watermarks) if (Number.isFinite(w.watermark)) this.set({ topology, stage: w.stage }, (v.now - w.watermark) / 1e6);
      },
    });
    new Counter({
      name: 'sluice_checkpoints_total', help: 'Checkpoints completed.', labelNames: ['topology'], registers: [r],
      collect() { const v = view(); if (!v) return; this.reset(); this.inc({ topology }, v.checkpoints); },
    });
    this.#latency = new Histogram({
      name: 'sluice_ingest_to_output_seconds', help: 'Time from a record entering the engine to its output reaching a sink.',
      labelNames: ['topology', 'sink'], registers: [r],
      buckets: [0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10],
    });
    this.#eventTime = new Histogram({
      name: 'sluice_event_time_to_output_seconds', help: 'Time from a record\'s event time (its ts column) to its output reaching a sink.',
      labelNames: ['topology', 'sink'], registers: [r],
      buckets: [0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300],
    });
    this.#processing = new Histogram({
      name: 'sluice_stage_processing_seconds', help: 'Per batch: time an operator stage spent handling it.',
      labelNames: ['topology', 'stage'], registers: [r],
      buckets: [0.00001, 0.000025, 0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.05],
    });
    this.#dead = new Counter({ name: 'sluice_dead_letters_total', help: 'Records sent to a dead-letter output, by stage and reason code.', labelNames: ['topology', 'stage', 'code'], registers: [r] });
    // inference: per batch, waiting and computing apart (a slow p99 is queueing or compute, never guessed)
    const secs = [0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.5];
    const queue = new Histogram({ name: 'sluice_inference_queue_seconds', help: 'Per batch: round trip minus compute (waiting for a worker, messages).', labelNames: ['model'], buckets: secs, registers: [r] });
    const compute = new Histogram({ name: 'sluice_inference_compute_seconds', help: 'Per batch: time inside onnxruntime on the worker.', labelNames: ['model'], buckets: secs, registers: [r] });
    const rows = new Histogram({ name: 'sluice_inference_batch_rows', help: 'Rows per inference batch.', labelNames: ['model'], buckets: [1, 2, 4, 8, 16, 32, 64, 128, 256], registers: [r] });
    const failures = new Counter({ name: 'sluice_inference_failures_total', help: 'Inference batches that failed (retried once, then dead-lettered).', labelNames: ['model'], registers: [r] });
    observeInference({
      batch(model, n, queueUs, computeUs) { queue.observe({ model }, queueUs / 1e6); compute.observe({ model }, computeUs / 1e6); rows.observe({ model }, n); },
      failed(model) { failures.inc({ model }); },
      keyed(model, prefilled, stepped) { if (prefilled) keyedRows.inc({ model, path: 'prefill' }, prefilled); if (stepped) keyedRows.inc({ model, path: 'step' }, stepped); },
      inline(model, n) { inlineRows.inc({ model }, n); },
    });
    // small batches that ran on the event loop's thread instead of a worker (PoolOptions.inlineSmallBatches)
    const inlineRows = new Counter({ name: 'sluice_inference_inline_rows_total', help: 'Rows scored on the event loop\'s own thread (small batches while no worker was busy), not on a worker.', labelNames: ['model'], registers: [r] });
    // incremental models: a prefill share that stays high means the slots are too few for the keys (keyedSlots)
    const keyedRows = new Counter({ name: 'sluice_inference_keyed_rows_total', help: 'Rows of an incremental model: stepped on cached state, or prefilled from the window (new, evicted or invalidated keys).', labelNames: ['model', 'path'], registers: [r] });
    new Gauge({
      name: 'sluice_inference_keyed_keys', help: 'Keys holding a state slot in an incremental model\'s workers.', labelNames: ['model'], registers: [r],
      collect() { this.reset(); for (const p of openPools) if (p.router) this.set({ model: p.id }, p.router.keys); },
    });
    new Gauge({
      name: 'sluice_inference_pool_tasks', help: 'Batches submitted to a model\'s pool and not yet back (queue depth + running).', labelNames: ['model'], registers: [r],
      collect() { this.reset(); for (const p of openPools) this.set({ model: p.id }, p.running); },
    });
    new Gauge({
      name: 'sluice_model_info', help: 'Models loaded on worker pools (value = worker threads).', labelNames: ['model', 'version', 'provider'], registers: [r],
      collect() { this.reset(); for (const p of openPools) this.set({ model: p.model.name, version: p.model.version, provider: p.provider }, p.workers); },
    });
    collectDefaultMetrics({ register: r, prefix: 'sluice_' }); // sluice_process_*, sluice_nodejs_* (event-loop lag, heap, GC)
  }

  attach(runtime: Runtime): void { this.#runtime = runtime; }

  delivered(sink: string, latencyUs: number, records: number, eventTimes?: ArrayLike<number>, nowUs?: number): void {
    const h = this.#latency.labels({ topology: this.topology, sink });
    const s = latencyUs / 1e6;
    for (let i = 0; i < records; i++) h.observe(s);
    if (eventTimes && nowUs !== undefined) {
      const e = this.#eventTime.labels({ topology: this.topology, sink });
      for (let i = 0; i < records; i++) if (Number.isFinite(eventTimes[i])) e.observe(Math.max(0, nowUs - eventTimes[i]) / 1e6);
    }
  }

  processed(stage: string, seconds: number): void { this.#processing.observe({ topology: this.topology, stage }, seconds); }

  deadLettered(stage: string, code: string): void { this.#dead.inc({ topology: this.topology, stage, code }); }

  /** Serve GET /metrics on host:port (127.0.0.1 by default). */
  async serve(port: number, host = '127.0.0.1'): Promise<Server> {
    if (!Number.isInteger(port) || port < 0 || port > 65535) throw new ConfigError(`metrics: port must be 0..65535, got ${port}`);
    const server = createServer((req, res) => {
      if (req.method === 'GET' && req.url?.split('?')[0] === '/metrics') {
        this.registry.metrics().then((text) => { res.writeHead(200, { 'content-type': this.registry.contentType }); res.end(text); },
          (e) => { res.writeHead(500); res.end(String(e)); });
      } else { res.writeHead(404); res.end('not found: try /metrics\n'); }
    });
    await new Promise<void>((resolve, reject) => { server.once('error', reject); server.listen(port, host, () => resolve()); });
    server.unref();
    return server;
  }
}
