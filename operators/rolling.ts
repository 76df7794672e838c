/**
 * Generic rolling statistics per key over an event-time horizon, one output row per
 * input row: adds `<field>_mean`, `_std`, `_min`, `_max` and `rollingCount`. Sums are
 * updated incrementally; min and max use monotonic deques, so each record costs O(1)
 * amortized whatever the horizon.
 *
 *   keyed.via('stats', rolling({ fields: ['value'], horizonUs: 60_000_000 }))
 */
import { rejectUnknown } from '../src/config.js';
import { checkBounds, entriesOf, keyedEntries, KeyedStore, type StateBounds } from '../src/state.js';
import { BatchBuilder, type Schema } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';
import type { NoSides, OperatorDef } from '../src/operator.js';
import { Ring } from './ring.js';

export interface RollingConfig<F extends string> {
  fields: readonly F[];
  horizonUs: number;
  timestamp?: string;
  /** bounds on the keys held, per partition (default: unbounded) */
  state?: StateBounds;
}

export type Rolled<S extends Schema, F extends string> = S & { readonly [K in F as `${K}_mean` | `${K}_std` | `${K}_min` | `${K}_max`]: 'f64' } & { readonly rollingCount: 'f64' };

interface KeyState { rows: Ring; sum: number[]; sq: number[]; cn: number[]; mins: Ring[]; maxs: Ring[]; seq: number; head: number }

export function rolling<S extends Schema & { readonly [K in F]: 'f64' }, F extends string>(config: RollingConfig<F>): OperatorDef<S, Rolled<S, F>, NoSides> & { keyed: true } {
  rejectUnknown('rolling', config, ['fields', 'horizonUs', 'timestamp', 'state']);
  const bounds = checkBounds('rolling', config.state);
  if (!Array.isArray(config.fields) || !config.fields.length) throw new ConfigError('rolling: options.fields must list at least one f64 field');
  if (!(config.horizonUs > 0)) throw new ConfigError(`rolling: options.horizonUs must be > 0, got ${config.horizonUs}`);
  const fields = [...config.fields] as string[];
  const tsf = config.timestamp ?? 'ts';
  const H = config.horizonUs;
  const outputOf = (input: Schema) => {
    const o: Record<string, string> = { ...input };
    for (const f of fields) {
      if (input[f] !== 'f64') throw new ConfigError(`rolling: field '${f}' must be an f64 column of the input`);
      for (const s of ['mean', 'std', 'min', 'max']) o[`${f}_${s}`] = 'f64';
    }
    o.rollingCount = 'f64';
    return o as unknown as Rolled<S, F>;
  };
  return {
    kind: 'rolling', output: outputOf, sides: {}, keyed: true,
    create() {
      const state = new KeyedStore<KeyState>(bounds);
      let outSchema: Rolled<S, F> | undefined;
      const W = fields.length + 2; // row: [ts, seq, values...]
      return {
        process(batch, ctx) {
          outSchema ??= outputOf(batch.schema);
          // input columns pass through without copying; only the new ones are allocated
          const out = new BatchBuilder(outSchema, batch.length, batch.columns);
          const oc = out.columns as unknown as Record<string, Float64Array>;
          const keys = batch.meta.keys!;
          const ts = batch.columns[tsf] as unknown as Float64Array;
          const ins = fields.map((f) => batch.columns[f] as unknown as Float64Array);
          state.expire(ctx.watermark);
          for (let i = 0; i < batch.length; i++) {
            const t = ts[i];
            const st = state.touch(keys[i], t) ?? state.add(keys[i], { rows: new Ring(W), sum: fields.map(() => 0), sq: fields.map(() => 0), cn: fields.map(() => 0), mins: fields.map(() => new Ring(2)), maxs: fields.map(() => new Ring(2)), seq: 0, head: 0 }, t);
            // evict rows that left the horizon (rows are in arrival order; horizon by event time)
            while (st.rows.length && st.rows.front(0) <= t - H) {
              for (let j = 0; j < fields.length; j++) { const x = st.rows.front(j + 2); if (x === x) { st.sum[j] -= x; st.sq[j] -= x * x; st.cn[j]--; } }
              st.rows.shift();
              st.head++;
            }
            const seq = st.seq++;
            const vals = ins.map((c) => c[i]);
            st.rows.pushRow([t, seq, ...vals]);
            const n = st.rows.length;
            for (let j = 0; j < fields.length; j++) {
              const x = vals[j];
              if (x === x) { st.sum[j] += x; st.sq[j] += x * x; st.cn[j]++; }
              const mn = st.mins[j], mx = st.maxs[j];
              // monotonic deques of [seq, value]: drop entries that can never be the min/max again
              if (x === x) {
                while (mn.length && mn.data[mn.data.length - 1] >= x) { mn.data.length -= 2; }
                mn.push2(seq, x);
                while (mx.length && mx.data[mx.data.length - 1] <= x) { mx.data.length -= 2; }
                mx.push2(seq, x);
              }
              while (mn.length && mn.front(0) < st.head) mn.shift();
              while (mx.length && mx.front(0) < st.head) mx.shift();
              const cnt = st.cn[j]; // finite values only: NaN (absent) does not count
              const mean = st.sum[j] / cnt;
              oc[`${fields[j]}_mean`][i] = mean;
              oc[`${fields[j]}_std`][i] = cnt === 0 ? NaN : Math.sqrt(Math.max(0, st.sq[j] / cnt - mean * mean));
              oc[`${fields[j]}_min`][i] = mn.length ? mn.front(1) : NaN;
              oc[`${fields[j]}_max`][i] = mx.length ? mx.front(1) : NaN;
            }
            oc.rollingCount[i] = n;
          }
          out.length = batch.length;
          ctx.emit(out.finish(batch.meta));
        },
        stateStats: () => state.stats(),
        snapshot: () => keyedEntries([...state].map(([k, s]) => [k, { rows: s.rows.toJSON(), sum: s.sum, sq: s.sq, cn: s.cn, mins: s.mins.map((r) => r.toJSON()), maxs: s.maxs.map((r) => r.toJSON()), seq: s.seq, head: s.head }])),
        restore(st) {
          state.clear();
          for (const [k, s] of entriesOf(st as [string, { rows: (number | null)[]; sum: number[]; sq: number[]; cn: number[]; mins: number[][]; maxs: number[][]; seq: number; head: number }][])) {
            state.set(k, { rows: Ring.from(W, s.rows.map((x) => (x === null ? NaN : x))), sum: s.sum, sq: s.sq, cn: s.cn, mins: s.mins.map((d) => Ring.from(2, d)), maxs: s.maxs.map((d) => Ring.from(2, d)), seq: s.seq, head: s.head });
          }
        },
      };
    },
  };
}
