/**
 * The one way a stage writes dead letters (DeadLetterSchema): the origin in one format,
 * the payload kept whole up to one limit, the rejection time from the stage's clock.
 *
 * Origin: `<source>@<offset>`, where source is `topic/partition` for Kafka records
 * (`orders/3@17`), the file path or `-` for stdin (`in.jsonl@41`: offset = 0-based line),
 * or `partition-N` when the source names none; `<source>` alone for a record that no
 * longer has a source offset (a model row that failed). The Kafka dead-letter sink reads the
 * topic, partition and offset back out of it into headers.
 *
 *   const dead = new DeadLetters(ctx);
 *   dead.add(DeadLetterCode.SCHEMA, 'qty must be ≥ 0', line, batch.meta, batch.columns.offset[i]);
 *   dead.emit(ctx, batch.meta);
 */
import { BatchBuilder, originOnly, type BatchMeta } from './batch.js';
import { DeadLetterSchema, type OperatorContext } from './operator.js';

/** the payload a dead letter keeps: records are kept whole up to this many characters (replayable), longer ones cut */
export const DEAD_LETTER_PAYLOAD_CHARS = 65_536;

/** `<source>@<offset>`: see the module comment */
export function originOf(meta: Pick<BatchMeta, 'source' | 'partition'>, offset?: number): string {
  const source = meta.source ?? `partition-${meta.partition}`;
  return offset === undefined ? source : `${source}@${offset}`;
}

/** whole up to the limit; a longer one keeps its first DEAD_LETTER_PAYLOAD_CHARS and says how long it was */
export function truncatePayload(payload: string): string {
  return payload.length <= DEAD_LETTER_PAYLOAD_CHARS ? payload : `${payload.slice(0, DEAD_LETTER_PAYLOAD_CHARS)}…(${payload.length} chars)`;
}

type Emitter = Pick<OperatorContext<never, { dead: DeadLetterSchema }>, 'emitSide'>;

/** one process() call's dead letters, emitted on the stage's `dead` side output */
export class DeadLetters {
  #b: BatchBuilder<DeadLetterSchema> | undefined;
  readonly #stage: string;
  readonly #at: number;

  constructor(ctx: Pick<OperatorContext<never, never>, 'stage' | 'clock'>) { this.#stage = ctx.stage; this.#at = ctx.clock.now(); }

  get length(): number { return this.#b?.length ?? 0; }

  /** a rejected record: its code and reason, its original text (or base64 bytes), where it came from */
  add(code: string, reason: string, payload: string, meta: Pick<BatchMeta, 'source' | 'partition'>, offset?: number, encoding: 'utf8' | 'base64' = 'utf8'): void {
    this.addAt(code, reason, payload, originOf(meta, offset), encoding);
  }

  /** the same, with the origin already made (a record held across batches keeps its own) */
  addAt(code: string, reason: string, payload: string, origin: string, encoding: 'utf8' | 'base64' = 'utf8'): void {
    this.#b ??= new BatchBuilder(DeadLetterSchema, 8);
    this.#b.push({ stage: this.#stage, code, reason, payload: truncatePayload(payload), payloadEncoding: encoding, origin, at: this.#at });
  }

  /** hand them to the `dead` side output (nothing when there are none) */
  emit(ctx: Emitter, meta: BatchMeta): void {
    if (this.#b && this.#b.length) (ctx.emitSide as (p: 'dead', b: unknown) => void)('dead', this.#b.finish(originOnly(meta)));
    this.#b = undefined;
  }
}
