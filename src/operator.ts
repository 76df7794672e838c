/**
 * The operator contract.
 *
 * An operator is a small object with one required method, `process(batch, ctx)`, and
 * optional hooks. The runtime owns queues, threads, metrics and I/O; an operator only
 * turns input batches into output batches through `ctx`. Time comes from `ctx.clock`
 * (processing time) and from watermarks (event time), never from Date.now().
 *
 * Each operator file exports a config type and a factory that validates the config and
 * returns an `OperatorDef`: the output schemas (known when the topology is built) and a
 * `create()` that makes a fresh operator instance per run.
 */
import type { Batch, Schema } from './batch.js';
import type { Clock } from './clock.js';

export type SideSchemas = { readonly [port: string]: Schema };
export type NoSides = Record<never, Schema>;

export interface OperatorContext<O extends Schema, Sides extends SideSchemas = NoSides> {
  /** stable stage name, as in logs and metrics */
  readonly stage: string;
  readonly clock: Clock;
  /** the watermark last forwarded to this operator's input (−Infinity before the first) */
  readonly watermark: number;
  /**
   * processing time (µs) at which the record being handled, or the one that advanced the
   * watermark, entered the engine: stamp outputs' meta.ingestTime with it
   */
  readonly ingestTime: number;
  emit(batch: Batch<O>): void;
  emitSide<P extends keyof Sides & string>(port: P, batch: Batch<Sides[P]>): void;
  /** forward an event-time watermark made by this operator (watermark generators) */
  emitWatermark(wm: number): void;
  /** ask for onTimer(time) once processing time reaches `time` (µs) */
  registerTimer(time: number): void;
  /**
   * Asynchronous operators (model scoring) emit later, from a callback: emit as usual,
   * then call wake() so the runtime moves the new output on. fail() stops the job.
   */
  wake(): void;
  fail(err: unknown): void;
  /**
   * Records this stage dropped on purpose, without output (load shedding: 'shed'; read
   * before their partition moved: 'partition-moved'): counted in
   * sluice_dropped_records_total{reason} and the run summary. Nothing else may vanish.
   */
  dropped(reason: string, records: number): void;
}

export interface OperatorHooks<O extends Schema, Sides extends SideSchemas> {
  /**
   * Event time advanced to `wm` on every input. Emit what it completes (windows) and
   * return the watermark to forward downstream (default: `wm` unchanged).
   */
  onWatermark?(wm: number, ctx: OperatorContext<O, Sides>): number | void;
  /** A source partition was declared idle (no records for the idle timeout). */
  onPartitionIdle?(partition: number, ctx: OperatorContext<O, Sides>): void;
  onTimer?(time: number, ctx: OperatorContext<O, Sides>): void;
  /** JSON-serializable state; restore(snapshot()) must give an operator that behaves identically */
  snapshot?(): unknown;
  restore?(state: unknown): void;
  /** input ended: flush what is pending */
  close?(ctx: OperatorContext<O, Sides>): void;
  /**
   * Asynchronous operators only. Records accepted but whose output is not yet emitted.
   * The runtime lets no checkpoint barrier or end of input pass the operator while this
   * is above 0 (so a checkpoint never covers an input whose output is still to come), and
   * calls flush() to start whatever the operator was holding back for batching.
   */
  inFlight?(): number;
  flush?(ctx: OperatorContext<O, Sides>): void;
  /** Asynchronous operators only: false while its own bounded queue is full (upstream waits). */
  canAccept?(): boolean;
}

export interface Operator<I extends Schema, O extends Schema, Sides extends SideSchemas = NoSides> extends OperatorHooks<O, Sides> {
  process(batch: Batch<I>, ctx: OperatorContext<O, Sides>): void;
}

/** An operator instance that drops records on purpose (load shedding) and counts them; metrics read the count. */
export interface SheddingOperator {
  readonly shedRecords: number;
}

export function isShedding(op: unknown): op is SheddingOperator {
  return typeof (op as SheddingOperator | null)?.shedRecords === 'number';
}

/** Two inputs (joins, alignment): each input has its own process method. */
export interface JoinOperator<L extends Schema, R extends Schema, O extends Schema, Sides extends SideSchemas = NoSides> extends OperatorHooks<O, Sides> {
  processLeft(batch: Batch<L>, ctx: OperatorContext<O, Sides>): void;
  processRight(batch: Batch<R>, ctx: OperatorContext<O, Sides>): void;
}

/** An output schema, or how to derive it from the input schema (pass-through, added columns). */
export type OutputOf<O extends Schema> = O | ((input: Schema) => O);

export interface OperatorDef<I extends Schema, O extends Schema, Sides extends SideSchemas = NoSides> {
  /** operator kind, e.g. 'parse', 'window' */
  readonly kind: string;
  readonly output: OutputOf<O>;
  readonly sides: Sides;
  /** true when the operator keeps per-key state and so needs keyed input (keyBy upstream) */
  readonly keyed: boolean;
  /**
   * State that belongs to the source partition without being keyed (parse's event-time
   * guard): with a partition state store it is kept, saved and moved per partition like
   * keyed state, though no keyBy is needed before it.
   */
  readonly partitionState?: boolean;
  /**
   * The operator keeps its per-partition state itself (it is PartitionScoped: the scoring
   * stage, whose model batches span partitions): the runtime does not make one instance
   * per partition of it, and saves, loads and drops its partitions through it.
   */
  readonly scopesPartitions?: boolean;
  create(): Operator<I, O, Sides>;
  /** phantom field carrying the input type (contravariant: a stream may have more fields than the operator reads) */
  readonly __in?: (input: I) => void;
}

export interface JoinOperatorDef<L extends Schema, R extends Schema, O extends Schema, Sides extends SideSchemas = NoSides> {
  readonly kind: string;
  readonly output: (left: Schema, right: Schema) => O;
  readonly sides: Sides;
  readonly keyed: boolean;
  create(): JoinOperator<L, R, O, Sides>;
  readonly __left?: (input: L) => void;
  readonly __right?: (input: R) => void;
}

/** Dead letters: one schema for every stage's rejected records. */
export const DeadLetterSchema = {
  /** stage that rejected the record */
  stage: 'str',
  /** SLUICE_ERR_* code */
  code: 'str',
  /** human-readable reason, naming the field and rule */
  reason: 'str',
  /** the original payload (raw line / message value), possibly truncated */
  payload: 'str',
  /** 'utf8': payload is the original text; 'base64': the original bytes were not UTF-8 */
  payloadEncoding: 'str',
  /**
   * where it came from: `<source>@<offset>` — `topic/partition@offset` on Kafka, `path@line`
   * (0-based) for files, `-@line` for stdin; `<source>` alone when the record no longer has an
   * offset, and `key <key>` for a record a window found late (src/dead-letters.ts)
   */
  origin: 'str',
  /** processing time of rejection, µs */
  at: 'f64',
} as const satisfies Schema;
export type DeadLetterSchema = typeof DeadLetterSchema;
