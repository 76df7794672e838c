/**
 * Temporal alignment of keyed streams.
 *
 * asOfJoin: each left record is joined with the latest right record of the same key
 * whose time is at or before the left record's (within `toleranceUs`), like
 * pandas.merge_asof or kdb's aj. Left records wait until the watermark of both inputs
 * passes them, so a right record that arrives a little late still counts: the result
 * does not depend on arrival order within the watermark bound.
 *
 *   orders.join('orders+quotes', quotes, asOfJoin({ rightFields: ['bid', 'ask'], toleranceUs: 1_000_000 }))
 *
 * resample: per key, values on a fixed time grid (every `stepUs`), as the last value at
 * or before each grid point, linear interpolation between neighbours, or the mean of the
 * step ending at the grid point. Grid points are emitted once the watermark passes them.
 *
 *   metrics.via('grid', resample({ stepUs: 1_000_000, fields: ['value'], method: 'linear' }))
 */
import { rejectUnknown } from '../src/config.js';
import { BatchBuilder, originOnly, type Batch, type Row, type Schema } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';
import type { JoinOperatorDef, OperatorContext, OperatorDef } from '../src/operator.js';
import { LateSchema } from './window.js';

export interface AsOfJoinConfig<R extends Schema, F extends keyof R & string> {
  /** right fields to copy onto left records */
  rightFields: readonly F[];
  /** prefix for copied fields (default 'r_') */
  prefix?: string;
  /** ignore right records older than this relative to the left record (default: no limit) */
  toleranceUs?: number;
  /** time columns (default 'ts' on both sides) */
  leftTimestamp?: string;
  rightTimestamp?: string;
}

export type AsOfJoined<L extends Schema, R extends Schema, F extends keyof R & string, P extends string> = L & { readonly [K in F as `${P}${K}`]: R[K] } & { readonly [K in `${P}ageUs`]: 'f64' };

export function asOfJoin<L extends Schema, R extends Schema, F extends keyof R & string, P extends string = 'r_'>(config: AsOfJoinConfig<R, F> & { prefix?: P }): JoinOperatorDef<L, R, AsOfJoined<L, R, F, P>> & { keyed: true } {
  rejectUnknown('asOfJoin', config, ['rightFields', 'prefix', 'toleranceUs', 'leftTimestamp', 'rightTimestamp']);
  if (!Array.isArray(config.rightFields) || config.rightFields.length === 0) throw new ConfigError('asOfJoin: options.rightFields must list at least one field');
  const prefix = config.prefix ?? 'r_';
  const tol = config.toleranceUs ?? Infinity;
  if (!(tol > 0)) throw new ConfigError(`asOfJoin: options.toleranceUs must be > 0, got ${tol}`);
  const lts = config.leftTimestamp ?? 'ts', rts = config.rightTimestamp ?? 'ts';
  const fields = [...config.rightFields] as string[];
  const outputOf = (left: Schema, right: Schema) => {
    if (left[lts] !== 'f64') throw new ConfigError(`asOfJoin: left timestamp '${lts}' must be an f64 column`);
    if (right[rts] !== 'f64') throw new ConfigError(`asOfJoin: right timestamp '${rts}' must be an f64 column`);
    const o: Record<string, string> = { ...left };
    for (const f of fields) {
      if (!(f in right)) throw new ConfigError(`asOfJoin: right input has no field '${f}'`);
      if (`${prefix}${f}` in left) throw new ConfigError(`asOfJoin: output field '${prefix}${f}' clashes with a left field; set options.prefix`);
      o[`${prefix}${f}`] = right[f];
    }
    o[`${prefix}ageUs`] = 'f64';
    return o as unknown as AsOfJoined<L, R, F, P>;
  };

  return {
    kind: 'asOfJoin', output: outputOf, sides: {}, keyed: true,
    create() {
      /** key → right rows ascending by time: [ts, values] */
      const right = new Map<string, { ts: number[]; vals: unknown[][] }>();
      /** key → left rows waiting for the watermark */
      const pending = new Map<string, Row<Schema>[]>();
      let outSchema: AsOfJoined<L, R, F, P> | undefined;
      let leftSchema: Schema | undefined;
      let rightSchema: Schema | undefined;
      let wm = -Infinity;

      const joinRows = (rows: Row<Schema>[], keys: string[], ctx: OperatorContext<AsOfJoined<L, R, F, P>>, partition: number) => {
        if (!rows.length) return;
        outSchema ??= outputOf(leftSchema!, rightSchema ?? Object.fromEntries(fields.map((f) => [f, 'f64'])) as unknown as Schema) as AsOfJoined<L, R, F, P>;
        const b = new BatchBuilder(outSchema, rows.length);
        for (let i = 0; i < rows.length; i++) {
          const row: Record<string, unknown> = { ...rows[i] };
          const t = row[lts] as number;
          const h = right.get(keys[i]);
          const j = h ? lastAtOrBefore(h.ts, t) : -1;
          const ok = j >= 0 && t - h!.ts[j] <= tol;
          for (let f = 0; f < fields.length; f++) {
            const type = rightSchema?.[fields[f]] ?? 'f64';
            row[`${prefix}${fields[f]}`] = ok ? h!.vals[j][f] : type === 'str' ? '' : NaN;
          }
          row[`${prefix}ageUs`] = ok ? t - h!.ts[j] : NaN;
          b.push(row as Row<AsOfJoined<L, R, F, P>>);
        }
        ctx.emit(b.finish({ partition, ingestTime: ctx.ingestTime, keys }));
      };

      return {
        processLeft(batch: Batch<L>, ctx) {
          leftSchema ??= batch.schema;
          const keys = batch.meta.keys!;
          const ts = batch.columns[lts] as unknown as Float64Array;
          const lateRows: Row<Schema>[] = [], lateKeys: string[] = [];
          for (let i = 0; i < batch.length; i++) {
            // behind the watermark: no right record can still arrive for it; join now
            if (ts[i] <= wm) { lateRows.push(batch.row(i)); lateKeys.push(keys[i]); continue; }
            const list = pending.get(keys[i]) ?? [];
            list.push(batch.row(i));
            pending.set(keys[i], list);
          }
          joinRows(lateRows, lateKeys, ctx, batch.meta.partition);
        },
        processRight(batch: Batch<R>) {
          rightSchema ??= batch.schema;
          const keys = batch.meta.keys!;
          const ts = batch.columns[rts] as unknown as Float64Array;
          const cols = fields.map((f) => batch.columns[f] as unknown as ArrayLike<unknown>);
          for (let i = 0; i < batch.length; i++) {
            let h = right.get(keys[i]);
            if (!h) { h = { ts: [], vals: [] }; right.set(keys[i], h); }
            const t = ts[i];
            const pos = lastAtOrBefore(h.ts, t) + 1; // keep ascending; equal times: later arrival wins
            h.ts.splice(pos, 0, t);
            h.vals.splice(pos, 0, cols.map((c) => c[i]));
          }
        },
        onWatermark(w, ctx) {
          wm = w;
          const rows: Row<Schema>[] = [], keys: string[] = [];
          for (const [key, list] of pending) {
            list.sort((a, b) => (a[lts] as number) - (b[lts] as number));
            let n = 0;
            while (n < list.length && (list[n][lts] as number) <= wm) { rows.push(list[n]); keys.push(key); n++; }
            if (n === list.length) pending.delete(key); else if (n) list.splice(0, n);
          }
          joinRows(rows, keys, ctx, -1);
          // right rows older than the newest one at or before the watermark can no longer match
          for (const h of right.values()) {
            const j = lastAtOrBefore(h.ts, wm);
            if (j > 0) { h.ts.splice(0, j); h.vals.splice(0, j); }
          }
        },
        snapshot: () => ({ wm: Number.isFinite(wm) ? wm : null, right: [...right], pending: [...pending], leftSchema, rightSchema }),
        restore(state) {
          const s = state as { wm: number | null; right: [string, { ts: number[]; vals: unknown[][] }][]; pending: [string, Row<Schema>[]][]; leftSchema?: Schema; rightSchema?: Schema };
          wm = s.wm ?? -Infinity;
          right.clear(); pending.clear();
          for (const [k, h] of s.right) right.set(k, h);
          for (const [k, l] of s.pending) pending.set(k, l);
          leftSchema = s.leftSchema; rightSchema = s.rightSchema;
        },
      };
    },
  };
}

/** index of the last element ≤ t in ascending `ts`, or −1 */
function lastAtOrBefore(ts: number[], t: number): number {
  let lo = 0, hi = ts.length;
  while (lo < hi) { const m = (lo + hi) >> 1; if (ts[m] <= t) lo = m + 1; else hi = m; }
  return lo - 1;
}

export interface ResampleConfig<F extends string> {
  stepUs: number;
  fields: readonly F[];
  method: 'last' | 'linear' | 'mean';
  timestamp?: string;
  /** 'last': a value older than this at a grid point gives NaN (default: no limit) */
  maxGapUs?: number;
}

export type Resampled<F extends string> = { readonly key: 'str'; readonly ts: 'f64' } & { readonly [K in F]: 'f64' };
export const ResampleSides = { late: LateSchema } as const;

interface GridState { next: number; started: boolean; prev: number[] | null; pending: number[][]; lastTs: number }

export function resample<S extends Schema & { readonly [K in F]: 'f64' }, F extends string>(config: ResampleConfig<F>): OperatorDef<S, Resampled<F>, typeof ResampleSides> & { keyed: true } {
  rejectUnknown('resample', config, ['stepUs', 'fields', 'method', 'timestamp', 'maxGapUs']);
  const step = config.stepUs;
  if (!Number.isInteger(step) || step <= 0) throw new ConfigError(`resample: options.stepUs must be a positive integer, got ${step}`);
  if (!['last', 'linear', 'mean'].includes(config.method)) throw new ConfigError(`resample: options.method must be 'last', 'linear' or 'mean', got '${String(config.method)}'`);
  if (!Array.isArray(config.fields) || !config.fields.length) throw new ConfigError('resample: options.fields must list at least one f64 field');
  const fields = [...config.fields] as string[];
  const tsf = config.timestamp ?? 'ts';
  const maxGap = config.maxGapUs ?? Infinity;
  const method = config.method;
  const output = { key: 'str', ts: 'f64', ...Object.fromEntries(fields.map((f) => [f, 'f64'])) } as unknown as Resampled<F>;

  return {
    kind: 'resample', output, sides: ResampleSides, keyed: true,
    create() {
      const keys = new Map<string, GridState>();
      let wm = -Infinity;
      return {
        process(batch, ctx) {
          const ks = batch.meta.keys!;
          const ts = batch.columns[tsf] as unknown as Float64Array;
          const cols = fields.map((f) => batch.columns[f] as unknown as Float64Array);
          for (let i = 0; i < batch.length; i++) {
            let st = keys.get(ks[i]);
            const t = ts[i];
            if (!st) { st = { next: Math.ceil(t / step) * step, started: false, prev: null, pending: [], lastTs: -Infinity }; keys.set(ks[i], st); }
            // a grid point already emitted would change: the record is late
            if (st.started && t <= st.next - step) {
              const b = new BatchBuilder(LateSchema, 1);
              b.push({ key: ks[i], ts: t, latenessUs: wm - t, record: JSON.stringify(batch.row(i)) });
              ctx.emitSide('late', b.finish({ ...originOnly(batch.meta), keys: [ks[i]] }));
              continue;
            }
            const row = [t, ...cols.map((c) => c[i])];
            const pos = st.pending.findIndex((r) => r[0] > t);
            if (pos < 0) st.pending.push(row); else st.pending.splice(pos, 0, row);
            if (t > st.lastTs) st.lastTs = t;
          }
        },
        onWatermark(w, ctx) {
          wm = w;
          const out = new BatchBuilder(output, 64);
          const outKeys: string[] = [];
          const emit = (key: string, g: number, vals: number[]) => {
            const row: Record<string, unknown> = { key, ts: g };
            fields.forEach((f, j) => { row[f] = vals[j]; });
            out.push(row as Row<Resampled<F>>);
            outKeys.push(key);
            keys.get(key)!.started = true;
          };
          for (const [key, st] of keys) {
            // at end of input, stop the grid at the data rather than at +∞
            const limit = w === Infinity ? st.lastTs + (method === 'mean' ? step : 0) : w;
            for (;;) {
              const g = st.next;
              if (method === 'linear') {
                while (st.pending.length && st.pending[0][0] <= g) st.prev = st.pending.shift()!;
                const nxt = st.pending[0];
                if (st.prev && st.prev[0] === g) { emit(key, g, st.prev.slice(1)); }
                else if (nxt && nxt[0] <= limit) {
                  const p = st.prev;
                  emit(key, g, fields.map((_, j) => (p ? p[j + 1] + ((nxt[j + 1] - p[j + 1]) * (g - p[0])) / (nxt[0] - p[0]) : NaN)));
                } else break;
              } else {
                if (g > limit) break;
                if (method === 'last') {
                  while (st.pending.length && st.pending[0][0] <= g) st.prev = st.pending.shift()!;
                  const p = st.prev;
                  emit(key, g, fields.map((_, j) => (p && g - p[0] <= maxGap ? p[j + 1] : NaN)));
                } else {
                  // mean of (g − step, g]
                  let n = 0; const sum = fields.map(() => 0);
                  while (st.pending.length && st.pending[0][0] <= g) { const r = st.pending.shift()!; n++; for (let j = 0; j < fields.length; j++) sum[j] += r[j + 1]; }
                  emit(key, g, sum.map((x) => (n ? x / n : NaN)));
                }
              }
              st.next += step;
            }
          }
          if (out.length) ctx.emit(out.finish({ partition: -1, ingestTime: ctx.ingestTime, keys: outKeys }));
        },
        snapshot: () => ({ wm: Number.isFinite(wm) ? wm : null, keys: [...keys].map(([k, s]) => [k, { ...s, lastTs: Number.isFinite(s.lastTs) ? s.lastTs : null }]) }),
        restore(state) {
          const s = state as { wm: number | null; keys: [string, GridState & { lastTs: number | null }][] };
          wm = s.wm ?? -Infinity;
          keys.clear();
          for (const [k, g] of s.keys) keys.set(k, { ...g, lastTs: g.lastTs ?? -Infinity });
        },
      };
    },
  };
}
