/**
 * Record-wise primitives: map, filter, keyBy. They keep the batch's partition and keys.
 * Usually reached through Stream.map / .filter / .keyBy, which bind the input type.
 */
import { Batch, BatchBuilder, type Columns, type Row, type Schema } from './batch.js';
import { ConfigError } from './errors.js';
import type { JoinOperatorDef, NoSides, OperatorDef } from './operator.js';

/** Keep records for which `keep(columns, i)` is true. Example: `filterDef(S, (c, i) => c.qty[i] > 0)` */
export function filterDef<S extends Schema>(schema: S, keep: (cols: Columns<S>, i: number) => boolean): OperatorDef<S, S, NoSides> & { keyed: false } {
  if (typeof keep !== 'function') throw new ConfigError('filter: keep must be a function (columns, index) => boolean');
  return {
    kind: 'filter', output: schema, sides: {}, keyed: false,
    create: () => ({
      process(batch, ctx) {
        const idx = new Int32Array(batch.length);
        let n = 0;
        for (let i = 0; i < batch.length; i++) if (keep(batch.columns, i)) idx[n++] = i;
        if (n === batch.length) ctx.emit(batch);
        else if (n > 0) ctx.emit(batch.select(idx, n));
      },
    }),
  };
}

/** Transform each record into one record of another schema. */
export function mapDef<I extends Schema, O extends Schema>(input: I, output: O, fn: (row: Row<I>) => Row<O>): OperatorDef<I, O, NoSides> & { keyed: false } {
  if (typeof fn !== 'function') throw new ConfigError('map: fn must be a function (row) => row');
  return {
    kind: 'map', output, sides: {}, keyed: false,
    create: () => ({
      process(batch: Batch<I>, ctx) {
        const b = new BatchBuilder(output, batch.length);
        for (let i = 0; i < batch.length; i++) b.push(fn(batch.row(i)));
        ctx.emit(b.finish(batch.meta));
      },
    }),
  };
}

/** Attach a key to every record (meta.keys); keyed operators downstream keep state per key. */
export function keyByDef<S extends Schema>(schema: S, key: (cols: Columns<S>, i: number) => string): OperatorDef<S, S, NoSides> & { keyed: false } {
  if (typeof key !== 'function') throw new ConfigError('keyBy: key must be a function (columns, index) => string');
  return {
    kind: 'keyBy', output: schema, sides: {}, keyed: false,
    create: () => ({
      process(batch, ctx) {
        const keys = new Array<string>(batch.length);
        for (let i = 0; i < batch.length; i++) keys[i] = key(batch.columns, i);
        ctx.emit(batch.withMeta({ keys }));
      },
    }),
  };
}

/** Merge two streams of one schema into one (records keep their batch order per input). */
export function unionDef<S extends Schema>(schema: S): JoinOperatorDef<S, S, S, NoSides> & { keyed: false } {
  return {
    kind: 'union', output: () => schema, sides: {}, keyed: false,
    create: () => ({
      processLeft(batch, ctx) { ctx.emit(batch.meta.keys ? batch.withMeta({ keys: undefined }) : batch); },
      processRight(batch, ctx) { ctx.emit(batch.meta.keys ? batch.withMeta({ keys: undefined }) : batch); },
    }),
  };
}
