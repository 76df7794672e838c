/**
 * Source and sink contracts. Sources are pulled: the runtime asks for at most as many
 * records as downstream has credit for, so a slow pipeline pauses the source instead of
 * buffering without bound.
 */
import type { Batch, Schema } from './batch.js';
import type { Clock } from './clock.js';

export interface SourceRead<S extends Schema> {
  /** each batch comes from one partition (meta.partition) */
  batches: Batch<S>[];
  /** partitions that reached their end in this read (files); they stop holding back watermarks */
  endedPartitions?: number[];
  /** every partition ended: the source is exhausted */
  done: boolean;
}

export interface SourceReader<S extends Schema> {
  /** the partitions this reader serves now */
  partitions(): number[];
  /**
   * Up to `maxRecords` records. Resolves as soon as some are available; with none
   * available, resolves with no batches after waiting at most a short while, so the
   * runtime can run timers and idleness checks.
   */
  read(maxRecords: number): Promise<SourceRead<S>>;
  /** where the reader stands, for checkpoints (JSON-serializable) */
  position(): unknown;
  /**
   * A checkpoint holding this position completed: everything read before it is reflected
   * in acknowledged outputs and saved state. Kafka sources commit offsets here.
   */
  commit?(position: unknown): Promise<void>;
  /** the job is stopping: a read waiting for input (stdin that stays open) returns now, empty */
  interrupt?(): void;
  /** a checkpoint barrier enters here now, with `position` (transactional sources record it) */
  barrier?(id: number, position: unknown): void;
  close(): Promise<void>;
}

export interface SourceOpenContext {
  readonly name: string;
  readonly clock: Clock;
  /** position from a checkpoint to resume from, when restoring */
  readonly restoreFrom?: unknown;
  /**
   * The source gained partitions (names as in batch meta.source) at assignment `epoch`:
   * resolves once their keyed state is loaded; hold their records until then. Resolves
   * with, per partition, the next offset the loaded state already includes: the state
   * may have been saved after offsets the group never committed (a commit rejected by
   * the rebalance), so records before it must be skipped, not applied twice.
   */
  partitionsAssigned?(names: string[], epoch: number): Promise<Map<string, string>>;
  /** the source lost partitions: their state stays where the last checkpoint saved it */
  partitionsRevoked?(names: string[]): void;
}

export interface SourceDef<S extends Schema> {
  readonly kind: string;
  readonly output: S;
  open(ctx: SourceOpenContext): Promise<SourceReader<S>>;
}

export interface SinkWriter<S extends Schema> {
  /**
   * A returned promise is an acknowledgement to come. The runtime lets up to
   * `maxInFlight` writes be pending at once (default 1) and waits for all of them
   * before a checkpoint barrier or the end passes the sink.
   */
  write(batch: Batch<S>): void | Promise<void>;
  readonly maxInFlight?: number;
  /**
   * A checkpoint barrier reached this sink: everything written before it is acknowledged.
   * Transactional sinks pre-commit here; the checkpoint completes when every sink's
   * promise settles.
   */
  checkpoint?(id: number): void | Promise<void>;
  close(): Promise<void>;
}

export interface SinkDef<S extends Schema> {
  readonly kind: string;
  open(ctx: { readonly name: string; readonly clock: Clock }): Promise<SinkWriter<S>>;
  /** phantom: the schema this sink accepts (contravariant) */
  readonly __in?: (input: S) => void;
}

/** Raw records as sources deliver them, before parsing: one schema for files and Kafka. */
export const RawSchema = {
  key: 'str',
  value: 'str',
  /** line number in a file, offset in a Kafka partition */
  offset: 'f64',
  /** source-assigned timestamp, µs (Kafka record timestamp; 0 for files) */
  timestamp: 'f64',
} as const;
export type RawSchema = typeof RawSchema;
