/**
 * Mergeable aggregates for windows. Each aggregate keeps a few numbers in a slot range
 * of one Float64Array per pane, so a sliding window is the merge of its panes rather
 * than a recomputation over its records.
 */
import type { Columns, Schema } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';

export type AggOp = 'count' | 'sum' | 'min' | 'max' | 'mean' | 'std' | 'first' | 'last';

export interface AggSpec<S extends Schema> {
  op: AggOp;
  /** f64 field to aggregate (not needed for count) */
  field?: keyof S & string;
  /** only records for which this holds count toward the aggregate */
  where?: (cols: Columns<S>, i: number) => boolean;
}

const SLOTS: Record<AggOp, number> = { count: 1, sum: 1, min: 1, max: 1, mean: 2, std: 3, first: 2, last: 2 };

export interface CompiledAggs<S extends Schema> {
  names: string[];
  /** slots per pane: [0] = record count, then each aggregate's slots */
  width: number;
  init(): Float64Array;
  add(acc: Float64Array, cols: Columns<S>, i: number, ts: number): void;
  /** into ← into ⊕ from */
  merge(into: Float64Array, from: Float64Array): void;
  /** value of aggregate j */
  result(acc: Float64Array, j: number): number;
}

export function compileAggregates<S extends Schema>(aggs: Record<string, AggSpec<S>>, input?: Schema): CompiledAggs<S> {
  const names = Object.keys(aggs);
  const specs = names.map((n) => aggs[n]);
  const offs: number[] = [];
  let w = 1;
  for (const [j, a] of specs.entries()) {
    if (!(a.op in SLOTS)) throw new ConfigError(`window: aggregate '${names[j]}' has unknown op '${String(a.op)}'; use ${Object.keys(SLOTS).join(', ')}`);
    if (a.op !== 'count' && !a.field) throw new ConfigError(`window: aggregate '${names[j]}' (${a.op}) needs a field`);
    if (input && a.field && input[a.field] !== 'f64' && input[a.field] !== 'i32') throw new ConfigError(`window: aggregate '${names[j]}' reads '${a.field}', which is not a numeric column`);
    if (['key', 'windowStart', 'windowEnd', 'count'].includes(names[j])) throw new ConfigError(`window: aggregate name '${names[j]}' is reserved`);
    offs.push(w);
    w += SLOTS[a.op];
  }
  const width = w;
  const init = () => {
    const a = new Float64Array(width);
    for (const [j, s] of specs.entries()) {
      const o = offs[j];
      if (s.op === 'min') a[o] = Infinity;
      else if (s.op === 'max') a[o] = -Infinity;
      else if (s.op === 'first') { a[o] = Infinity; a[o + 1] = NaN; }
      else if (s.op === 'last') { a[o] = -Infinity; a[o + 1] = NaN; }
    }
    return a;
  };
  // column arrays resolved once per batch, not looked up by name per record and aggregate
  let boundCols: Columns<S> | null = null;
  const colOf: (Float64Array | null)[] = specs.map(() => null);
  const ops = specs.map((s) => s.op);
  const wheres = specs.map((s) => s.where ?? null);
  return {
    names, width, init,
    add(acc, cols, i, ts) {
      if (cols !== boundCols) {
        boundCols = cols;
        for (let j = 0; j < specs.length; j++) colOf[j] = specs[j].field ? (cols[specs[j].field!] as unknown as Float64Array) : null;
      }
      acc[0]++;
      for (let j = 0; j < ops.length; j++) {
        const where = wheres[j];
        if (where !== null && !where(cols, i)) continue;
        const o = offs[j];
        const col = colOf[j];
        const x = col !== null ? col[i] : 1;
        const s = specs[j];
        if (s.op !== 'count' && !Number.isFinite(x)) continue; // absent values do not count
        switch (s.op) {
          case 'count': acc[o]++; break;
          case 'sum': acc[o] += x; break;
          case 'min': if (x < acc[o]) acc[o] = x; break;
          case 'max': if (x > acc[o]) acc[o] = x; break;
          case 'mean': acc[o]++; acc[o + 1] += x; break;
          case 'std': { // Welford
            const n = ++acc[o];
            const d = x - acc[o + 1];
            acc[o + 1] += d / n;
            acc[o + 2] += d * (x - acc[o + 1]);
            break;
          }
          case 'first': if (ts < acc[o]) { acc[o] = ts; acc[o + 1] = x; } break;
          case 'last': if (ts >= acc[o]) { acc[o] = ts; acc[o + 1] = x; } break;
        }
      }
    },
    merge(into, from) {
      into[0] += from[0];
      for (let j = 0; j < specs.length; j++) {
        const o = offs[j];
        switch (specs[j].op) {
          case 'count': case 'sum': into[o] += from[o]; break;
          case 'min': if (from[o] < into[o]) into[o] = from[o]; break;
          case 'max': if (from[o] > into[o]) into[o] = from[o]; break;
          case 'mean': into[o] += from[o]; into[o + 1] += from[o + 1]; break;
          case 'std': { // Chan et al. parallel variance
            const na = into[o], nb = from[o];
            if (nb === 0) break;
            if (na === 0) { into[o] = nb; into[o + 1] = from[o + 1]; into[o + 2] = from[o + 2]; break; }
            const n = na + nb;
            const d = from[o + 1] - into[o + 1];
            into[o + 1] += d * nb / n;
            into[o + 2] += from[o + 2] + d * d * na * nb / n;
            into[o] = n;
            break;
          }
          case 'first': if (from[o] < into[o]) { into[o] = from[o]; into[o + 1] = from[o + 1]; } break;
          case 'last': if (from[o] >= into[o]) { into[o] = from[o]; into[o + 1] = from[o + 1]; } break;
        }
      }
    },
    result(acc, j) {
      const o = offs[j];
      switch (specs[j].op) {
        case 'count': case 'sum': return acc[o];
        case 'min': case 'max': return Number.isFinite(acc[o]) ? acc[o] : NaN;
        case 'mean': return acc[o] > 0 ? acc[o + 1] / acc[o] : NaN;
        case 'std': return acc[o] > 0 ? Math.sqrt(acc[o + 2] / acc[o]) : NaN;
        case 'first': case 'last': return acc[o + 1];
      }
    },
  };
}
