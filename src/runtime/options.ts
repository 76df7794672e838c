/**
 * What a run is configured with and what it reports: the runtime's options (validated
 * here), the observer metrics listen through, the live view and the end-of-run summary,
 * and the checkpoint record.
 */
import type { Clock } from '../clock.js';
import { ConfigError } from '../errors.js';
import type { PartitionStateStore } from '../partitioned.js';
import type { StateStats } from '../state.js';

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

const DEFAULTS = { queueCapacity: 8192, sourceBatchSize: 1024, partitionIdleTimeoutUs: 5_000_000, tickMs: 20 };
export type ValidOptions = typeof DEFAULTS & { eventTimeField: string };

/** the options with defaults filled in; unknown keys and bad values are ConfigErrors */
export function validateOptions(o: RuntimeOptions): ValidOptions {
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
