/**
 * Source and sink drivers: how the pump reads a source and writes a sink.
 *
 * A source is read only for as many records as its out-edges have credit for (a slow sink
 * pauses the source); the time it spends paused is not counted toward partition idleness,
 * so backpressure never makes a busy partition look idle. Barriers enter at the source
 * with its position. A sink overlaps writes up to its maxInFlight; barriers and the end wait
 * for every acknowledgement; watermarks and idleness markers end at the sink.
 */
import { build as hdrBuild, type Histogram } from 'hdr-histogram-js';
import type { Schema } from '../batch.js';
import type { Clock } from '../clock.js';
import type { SinkWriter, SourceReader } from '../io.js';
import { ItemKind } from '../queue.js';
import type { NodeSpec } from '../topology.js';
import { NodeRt } from './cell.js';
import type { RuntimeObserver, ValidOptions } from './options.js';

/** what a driver asks of the runtime */
export interface DriverHost {
  readonly opts: ValidOptions;
  readonly observer?: RuntimeObserver;
  /** checkpoint protocol steps 2 and 4 (checkpoints.ts) */
  readonly checkpoints: { sourcePassed(id: number, source: string, position: unknown): void; sinkAcked(id: number): void };
  schedule(): void;
  fail(err: unknown): void;
  aborted(): boolean;
}

export class SourceDriver extends NodeRt {
  reader!: SourceReader<Schema>;
  reading = false;
  done = false;
  stopRequested = false;
  pendingBarrier: number | null = null;
  /** partition → unpaused time (µs) of its last record; idle partitions are absent */
  readonly lastActive = new Map<number, number>();
  readonly idle = new Set<number>();
  readonly ended = new Set<number>();
  pausedUs = 0;
  pausedSince = -1;
  constructor(spec: NodeSpec, readonly clock: Clock, private readonly host: DriverHost) { super(spec); }

  get name(): string { return this.spec.name; }

  /** processing time that excludes time spent paused by backpressure */
  activeNow(): number {
    const now = this.clock.now();
    return now - this.pausedUs - (this.pausedSince >= 0 ? now - this.pausedSince : 0);
  }
  minCredit(): number { let c = Infinity; for (const e of this.allOut()) c = Math.min(c, e.credit()); return c; }

  /** every partition starts active at open */
  opened(reader: SourceReader<Schema>): void {
    this.reader = reader;
    const now = this.activeNow();
    for (const p of reader.partitions()) this.lastActive.set(p, now);
  }

  /** start a read if there is credit; track pause time and idle partitions. True if it emitted. */
  poll(): boolean {
    if (this.done) return false;
    let emitted = false;
    if (this.pendingBarrier !== null && !this.reading) {
      const id = this.pendingBarrier;
      this.pendingBarrier = null;
      const pos = this.reader.position();
      this.host.checkpoints.sourcePassed(id, this.name, pos);
      this.reader.barrier?.(id, pos);
      this.broadcast({ k: ItemKind.Barrier, id });
      emitted = true;
    }
    if (this.stopRequested && !this.reading) {
      this.done = true;
      this.broadcast({ k: ItemKind.End });
      return true;
    }
    const credit = this.minCredit();
    const now = this.clock.now();
    if (credit <= 0) {
      if (this.pausedSince < 0) this.pausedSince = now;
    } else if (this.pausedSince >= 0) {
      this.pausedUs += now - this.pausedSince;
      this.pausedSince = -1;
    }
    // idleness: measured on unpaused time since the partition's last record
    const active = this.activeNow();
    for (const [p, last] of this.lastActive) {
      if (!this.idle.has(p) && active - last > this.host.opts.partitionIdleTimeoutUs) {
        this.idle.add(p);
        this.broadcast({ k: ItemKind.Idle, partition: p });
        emitted = true;
      }
    }
    if (credit <= 0 || this.reading) return emitted;
    this.reading = true;
    this.reader.read(Math.min(credit, this.host.opts.sourceBatchSize)).then((res) => {
      this.reading = false;
      if (this.host.aborted()) return;
      const ingest = this.clock.now();
      const activeAt = this.activeNow();
      for (const b of res.batches) {
        if (b.length === 0) continue;
        const p = b.meta.partition;
        this.lastActive.set(p, activeAt);
        this.idle.delete(p);
        this.stats.recordsOut += b.length;
        const batch = b.meta.ingestTime ? b : b.withMeta({ ingestTime: ingest });
        this.broadcast({ k: ItemKind.Batch, b: batch });
      }
      for (const p of res.endedPartitions ?? []) {
        if (this.ended.has(p)) continue;
        this.ended.add(p);
        this.lastActive.delete(p);
        this.broadcast({ k: ItemKind.Idle, partition: p });
      }
      if (res.done) { this.done = true; this.broadcast({ k: ItemKind.End }); }
      this.host.schedule();
    }, (err) => this.host.fail(err));
    return emitted;
  }
}

export class SinkDriver extends NodeRt {
  writer!: SinkWriter<Schema>;
  inFlight = 0;
  closed = false;
  /** ingest → sink latency, µs */
  readonly hist: Histogram = hdrBuild({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000_000, numberOfSignificantValueDigits: 3 });
  constructor(spec: NodeSpec, readonly clock: Clock, private readonly host: DriverHost) { super(spec); }

  /** take one item from the input if the sink may; true if it did */
  step(): boolean {
    if (this.closed) return false;
    const input = this.inputs[0];
    const next = input.peek();
    if (!next) return false;
    // batches may overlap up to maxInFlight; barriers and the end wait for every
    // acknowledgement. Watermarks and idleness markers end here and wait for nothing: held
    // behind in-flight writes they would serialise the sink, one produce round trip per
    // batch (measured: a Kafka sink after an event-time stage capped at ~600 records/s).
    const marker = next.k === ItemKind.Watermark || next.k === ItemKind.Idle;
    const limit = next.k === ItemKind.Batch ? (this.writer.maxInFlight ?? 1) : 1;
    if (!marker && (this.inFlight >= limit || (next.k !== ItemKind.Batch && this.inFlight > 0))) return false;
    const item = input.shift()!;
    switch (item.k) {
      case ItemKind.Batch: {
        const b = item.b;
        this.stats.recordsIn += b.length;
        this.stats.batchesIn++;
        const t0 = performance.now();
        const now = this.clock.now();
        const lat = now - b.meta.ingestTime;
        this.hist.recordValueWithCount(Math.max(1, lat), b.length);
        if (this.host.observer) {
          const ts = (b.columns as Record<string, unknown>)[this.host.opts.eventTimeField];
          this.host.observer.delivered(this.spec.name, lat, b.length, ts instanceof Float64Array ? ts : undefined, now);
        }
        this.#track(this.writer.write(b));
        this.stats.busyMs += performance.now() - t0;
        return true;
      }
      case ItemKind.Barrier: {
        // writes before the barrier are acknowledged (inFlight is 0 here); let the sink pre-commit
        const id = item.id;
        this.#track(this.writer.checkpoint?.(id), () => this.host.checkpoints.sinkAcked(id));
        return true;
      }
      case ItemKind.End:
        // hold the sink (inFlight) until its close settles; then it counts as closed
        this.inFlight++;
        this.writer.close().then(() => { this.inFlight--; this.closed = true; this.host.schedule(); }, (err) => this.host.fail(err));
        return true;
      default:
        return true; // watermarks and idleness markers end at sinks
    }
  }

  /** an acknowledgement to come holds the sink (inFlight) until it settles; then `then` runs */
  #track(r: void | Promise<void> | undefined, then?: () => void): void {
    if (r && typeof (r as Promise<void>).then === 'function') {
      this.inFlight++;
      (r as Promise<void>).then(() => { this.inFlight--; then?.(); this.host.schedule(); }, (err) => this.host.fail(err));
    } else then?.();
  }
}
