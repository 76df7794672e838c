/**
 * Per-key online normalization of numeric fields. Adds `<field>_norm` columns.
 *
 * Methods:
 *  - 'ewma-z': (x − mean) / std with exponentially weighted mean and variance
 *    (weight `alpha`); scores each value against the state before it, as anomaly
 *    scoring wants.
 *  - 'robust': (x − median) / (1.4826 · MAD), where median and MAD are tracked by
 *    stochastic-approximation quantile updates (constant memory, no sort), steps
 *    scaled by the MAD itself, so any unit of measure works and outliers have bounded
 *    influence (exact median/MAD over the first values of a key).
 *  - 'minmax': (x − min) / (max − min) over everything seen for the key.
 *
 * During the first `warmup` values of a key the output is 0. A non-finite input (an
 * absent optional field is NaN) gives NaN and leaves the state untouched.
 *
 *   parsed.keyBy('by-symbol', (c, i) => c.symbol[i]).via('norm', normalize({ fields: ['qty'], method: 'robust' }))
 */
import { rejectUnknown } from '../src/config.js';
import { checkBounds, entriesOf, keyedEntries, KeyedStore, type StateBounds } from '../src/state.js';
import { BatchBuilder, type Schema } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';
import type { NoSides, OperatorDef } from '../src/operator.js';

export type NormalizeMethod = 'ewma-z' | 'robust' | 'minmax';

export interface NormalizeConfig<F extends string> {
  fields: readonly F[];
  method: NormalizeMethod;
  /** ewma-z: weight of the newest value, 0 < alpha < 1 (default 0.05) */
  alpha?: number;
  /** values per key before outputs are non-zero (default 10) */
  warmup?: number;
  /** bounds on the keys held, per partition (default: unbounded); touch time is the record's `ts` column when it has one, else the watermark */
  state?: StateBounds;
}

export type Normalized<S extends Schema, F extends string> = S & { readonly [K in F as `${K}_norm`]: 'f64' };

/** state per key and field: [n, a, b, c, ...] — meaning depends on the method */
type FieldState = number[];

/** robust: values used for the exact initial median/MAD, and the step size in MADs */
const ROBUST_INIT = 9;
const ROBUST_RATE = 0.02;

function median(sorted: number[]): number {
  const m = sorted.length >> 1;
  return sorted.length % 2 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2;
}

export function normalize<S extends Schema & { readonly [K in F]: 'f64' }, F extends string>(config: NormalizeConfig<F>): OperatorDef<S, Normalized<S, F>, NoSides> & { keyed: true } {
  rejectUnknown('normalize', config, ['fields', 'method', 'alpha', 'warmup', 'state']);
  const bounds = checkBounds('normalize', config.state);
  if (!Array.isArray(config.fields) || config.fields.length === 0) throw new ConfigError('normalize: options.fields must list at least one f64 field');
  if (!['ewma-z', 'robust', 'minmax'].includes(config.method)) throw new ConfigError(`normalize: options.method must be 'ewma-z', 'robust' or 'minmax', got '${String(config.method)}'`);
  const alpha = config.alpha ?? 0.05;
  if (!(alpha > 0 && alpha < 1)) throw new ConfigError(`normalize: options.alpha must be in (0, 1), got ${alpha}`);
  const warmup = config.warmup ?? 10;
  if (!Number.isInteger(warmup) || warmup < 0) throw new ConfigError(`normalize: options.warmup must be an integer >= 0, got ${warmup}`);
  const fields = [...config.fields];
  const method = config.method;

  const outputOf = (input: Schema): Normalized<S, F> => {
    for (const f of fields) if (input[f] !== 'f64') throw new ConfigError(`normalize: field '${f}' must be an f64 column of the input`);
    const o: Record<string, string> = { ...input };
    for (const f of fields) o[`${f}_norm`] = 'f64';
    return o as unknown as Normalized<S, F>;
  };

  /** update state with x and return the normalized value (against the state before x for ewma-z) */
  const step = (s: FieldState, x: number): number => {
    if (!Number.isFinite(x)) return NaN;
    const n = s[0]++;
    if (method === 'ewma-z') {
      // s = [n, mean, var, -]
      if (n === 0) { s[1] = x; s[2] = 0; return 0; }
      const d = x - s[1];
      const z = s[2] > 0 ? d / Math.sqrt(s[2]) : 0;
      s[1] += alpha * d;
      s[2] = (1 - alpha) * (s[2] + alpha * d * d);
      return n < warmup ? 0 : z;
    }
    if (method === 'robust') {
      // s = [n, median, mad, mean |x − median|, first values...]: exact over the first
      // ROBUST_INIT values, then sign-based stochastic approximation with steps
      // proportional to the MAD, so one outlier moves the estimates by one small step.
      // When most values are equal the MAD is 0; then the scale falls back to the mean
      // absolute deviation (1.2533 · meanAD), as the modified z-score recommends.
      const spread = s[2] > 0 ? 1.4826 * s[2] : 1.2533 * s[3];
      const z = spread > 0 ? (x - s[1]) / spread : 0;
      if (n < ROBUST_INIT) {
        s.push(x);
        const buf = s.slice(4).sort((a, b) => a - b);
        s[1] = median(buf);
        const devs = buf.map((v) => Math.abs(v - s[1]));
        s[3] = devs.reduce((a, b) => a + b, 0) / devs.length;
        s[2] = median(devs.sort((a, b) => a - b));
        if (n + 1 === ROBUST_INIT) s.length = 4;
        return n < warmup ? 0 : z;
      }
      const step = ROBUST_RATE * (s[2] > 0 ? s[2] : Math.max(s[3], 1e-9 * Math.abs(s[1]), 1e-12));
      const dev = Math.abs(x - s[1]);
      s[1] += step * Math.sign(x - s[1]);
      s[2] += step * Math.sign(dev - s[2]);
      if (s[2] < 0) s[2] = 0;
      s[3] += (dev - s[3]) * ROBUST_RATE;
      return n < warmup ? 0 : z;
    }
    // minmax: s = [n, min, max, -]
    if (n === 0) { s[1] = x; s[2] = x; }
    if (x < s[1]) s[1] = x;
    if (x > s[2]) s[2] = x;
    const range = s[2] - s[1];
    return n < warmup || range === 0 ? 0 : (x - s[1]) / range;
  };

  return {
    kind: 'normalize', output: outputOf, sides: {}, keyed: true,
    create() {
      const state = new KeyedStore<FieldState[]>(bounds);
      let outSchema: Normalized<S, F> | undefined;
      return {
        process(batch, ctx) {
          outSchema ??= outputOf(batch.schema);
          const keys = batch.meta.keys!;
          // input columns pass through without copying; only the new ones are allocated
          const out = new BatchBuilder(outSchema, batch.length, batch.columns);
          const oc = out.columns as Record<string, unknown>;
          const ins = fields.map((f) => batch.columns[f] as unknown as Float64Array);
          const outs = fields.map((f) => oc[`${f}_norm`] as Float64Array);
          const ts = (batch.columns as Record<string, unknown>).ts as Float64Array | undefined;
          state.expire(ctx.watermark);
          for (let i = 0; i < batch.length; i++) {
            const t = ts ? ts[i] : ctx.watermark;
            const st = state.touch(keys[i], t) ?? state.add(keys[i], fields.map(() => [0, 0, 0, 0] as FieldState), t);
            for (let j = 0; j < fields.length; j++) outs[j][i] = step(st[j], ins[j][i]);
          }
          out.length = batch.length;
          ctx.emit(out.finish(batch.meta));
        },
        stateStats: () => state.stats(),
        snapshot: () => keyedEntries(state),
        restore(s) { state.clear(); for (const [k, v] of entriesOf(s as Parameters<typeof entriesOf<FieldState[]>>[0])) state.set(k, v); },
      };
    },
  };
}
