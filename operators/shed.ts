/**
 * Load shedding by staleness (personalization only; off unless configured). Under
 * overload the backlog is made of old events, and a push triggered by an event minutes
 * old is worth little: this operator drops records whose event time is more than
 * `maxAgeMs` behind processing time, so the engine skips the backlog's model work and
 * catches up with live traffic. Every shed record is counted (the runtime reports it as
 * `sluice_dropped_records_total{reason="shed"}`), never silently lost.
 *
 * What shedding costs: a shed event never reaches the user's sequence state, so that
 * user's next push is computed without it. Surveillance must never shed (a dropped order
 * can hide manipulation), which is why only the personalization topology offers it.
 */
import { rejectUnknown } from '../src/config.js';
import type { Columns, Schema } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';
import type { NoSides, Operator, OperatorDef, SheddingOperator } from '../src/operator.js';

export interface ShedOptions {
  /** records whose event time is further than this behind processing time are dropped (ms) */
  maxAgeMs: number;
  /** event-time column, microseconds since the epoch (default 'ts') */
  timestamp?: string;
}

export { isShedding, type SheddingOperator } from '../src/operator.js';

export function shedStale<S extends Schema>(o: ShedOptions): OperatorDef<S, S, NoSides> & { keyed: false } {
  rejectUnknown('shedStale', o, ['maxAgeMs', 'timestamp']);
  if (!o || typeof o.maxAgeMs !== 'number' || !Number.isFinite(o.maxAgeMs) || o.maxAgeMs <= 0) {
    throw new ConfigError(`shed: maxAgeMs must be a positive number of milliseconds, got ${o?.maxAgeMs}`);
  }
  const field = o.timestamp ?? 'ts';
  const maxAgeUs = o.maxAgeMs * 1000;
  return {
    kind: 'shed', output: ((input: Schema) => input) as never, sides: {}, keyed: false,
    create: (): Operator<S, S, NoSides> & SheddingOperator => {
      const op = {
        shedRecords: 0,
        process(batch, ctx) {
          const ts = (batch.columns as Columns<Schema>)[field] as ArrayLike<number> | undefined;
          if (!ts) throw new ConfigError(`shed: the input has no event-time column '${field}'`);
          const oldest = ctx.clock.now() - maxAgeUs;
          const keep = new Int32Array(batch.length);
          let n = 0;
          for (let i = 0; i < batch.length; i++) if (ts[i] >= oldest) keep[n++] = i;
          op.shedRecords += batch.length - n;
          ctx.dropped('shed', batch.length - n);
          if (n === batch.length) ctx.emit(batch);
          else if (n > 0) ctx.emit(batch.select(keep, n));
        },
      } satisfies Operator<S, S, NoSides> & SheddingOperator;
      return op;
    },
  };
}
