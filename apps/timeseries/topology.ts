/**
 * Anomaly detection for any metric series (for SREs): CSV `timestamp,value` rows in
 * (timestamp `YYYY-MM-DD HH:MM:SS` or epoch microseconds; one series per file, or per
 * key on Kafka), the same rows out with `anomaly_score` (0..1) and `label` (0/1)
 * appended, in input order. No labels: it learns from the series itself.
 *
 * Score: the value's distance from the median of the last `window` values, in robust
 * deviations (MAD), and the same for its change from the previous value (level shifts
 * and spikes); score = z² / (z² + k²) with k = 6, so 6 deviations scores 0.5. The
 * adaptive threshold then follows each series' own score distribution (per key,
 * floor 0.5), so a noisy series does not alert all day and a quiet one still alerts
 * on a real jump. Rows that are not `timestamp,value` go to dead letters.
 */
import { DeadLetters } from '../../src/dead-letters.js';
import { BatchBuilder, originOnly, type Schema } from '../../src/batch.js';
import { DeadLetterCode } from '../../src/errors.js';
import type { RawSchema, SinkDef, SourceDef } from '../../src/io.js';
import { DeadLetterSchema, type OperatorDef } from '../../src/operator.js';
import { TopologyBuilder, type Topology } from '../../src/topology.js';
import { adaptiveThreshold, type ThresholdConfig } from '../../operators/threshold.js';

export const SeriesSchema = { ts: 'f64', value: 'f64', line: 'str', series: 'str' } as const satisfies Schema;
export const SeriesOutSchema = { ...SeriesSchema, score: 'f64', threshold: 'f64', alert: 'f64' } as const satisfies Schema;
export type SeriesOut = typeof SeriesOutSchema;

const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d{1,9}))?Z?$/;
/** plain decimals only: Number() would also take '0x10', '0b1', '0o7', 'Infinity' and '' */
const DECIMAL_RE = /^[+-]?(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?$/;
const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

/** A row the series parser refuses, with the reason the dead letter carries. */
class BadRow extends Error {}

/**
 * One CSV row → its fields (RFC 4180: a field may be quoted, `""` inside quotes is a quote).
 * An unterminated quote or text after a closing quote is an error, not a field.
 */
export function splitCsvRow(line: string): string[] {
  const fields: string[] = [];
  let i = 0;
  for (;;) {
    while (line[i] === ' ' || line[i] === '\t') i++;
    if (line[i] === '"') {
      let text = '';
      i++;
      for (;;) {
        const q = line.indexOf('"', i);
        if (q < 0) throw new BadRow(`unterminated quote in '${line.slice(0, 80)}'`);
        text += line.slice(i, q);
        if (line[q + 1] === '"') { text += '"'; i = q + 2; continue; }
        i = q + 1;
        break;
      }
      while (line[i] === ' ' || line[i] === '\t') i++;
      if (i < line.length && line[i] !== ',') throw new BadRow(`text after a closing quote in '${line.slice(0, 80)}'`);
      fields.push(text);
    } else {
      const c = line.indexOf(',', i);
      const raw = c < 0 ? line.slice(i) : line.slice(i, c);
      if (raw.includes('"')) throw new BadRow(`a quote inside an unquoted field in '${line.slice(0, 80)}'`);
      fields.push(raw.trim());
      i = c < 0 ? line.length : c;
    }
    if (i >= line.length) return fields;
    i++; // the comma
  }
}

/**
 * `YYYY-MM-DD HH:MM:SS[.fff]` (UTC) or epoch microseconds → epoch µs. Each field is range-checked:
 * Date.UTC would quietly roll 2026-02-30 into March and 99:99:99 into the next days.
 */
export function parseTimestamp(text: string): number {
  if (/^\d{1,17}$/.test(text)) return Number(text);
  const m = TS_RE.exec(text);
  if (!m) throw new BadRow(`timestamp '${text.slice(0, 40)}' is neither YYYY-MM-DD HH:MM:SS nor epoch µs`);
  const [y, mo, d, h, mi, s] = [+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1];
  if (mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || s > 59) throw new BadRow(`timestamp '${text}' is not a real time (month 1-12, day within the month, 00:00:00-23:59:59)`);
  return Date.UTC(y, mo - 1, d, h, mi, s) * 1000 + (m[7] ? Math.round(Number(`0.${m[7]}`) * 1e6) : 0);
}

function parseValue(text: string): number {
  const v = DECIMAL_RE.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(v)) throw new BadRow(`value '${text.slice(0, 40)}' is not a finite decimal number`);
  return v;
}

/** `timestamp,value` lines → rows; the header and bad rows are told apart, bad rows dead-lettered */
export function parseSeries(): OperatorDef<RawSchema, typeof SeriesSchema, { dead: DeadLetterSchema }> & { keyed: false } {
  return {
    kind: 'parseSeries', output: SeriesSchema, sides: { dead: DeadLetterSchema }, keyed: false,
    create: () => ({
      process(batch, ctx) {
        const out = new BatchBuilder(SeriesSchema, batch.length);
        const dead = new DeadLetters(ctx);
        const keep: number[] = [];
        const issues = batch.meta.rawIssues;
        for (let i = 0; i < batch.length; i++) {
          const issue = issues?.[i];
          if (issue) {
            // bytes the source could not hand over as text (invalid UTF-8, over-long, empty Kafka value)
            dead.add(issue.code, issue.reason, issue.payload, batch.meta, batch.columns.offset[i], issue.payloadEncoding);
            continue;
          }
          let line = batch.columns.value[i];
          if (line.charCodeAt(0) === 0xfeff) line = line.slice(1); // a byte-order mark is not part of the row
          if (line.trim() === '') continue; // blank lines carry nothing
          try {
            const fields = splitCsvRow(line);
            if (batch.columns.offset[i] === 0 && !/\d/.test(fields[0] ?? '')) continue; // header
            if (fields.length !== 2) throw new BadRow(`expected 'timestamp,value' (2 fields), got ${fields.length} in '${line.slice(0, 80)}'`);
            const ts = parseTimestamp(fields[0]);
            const value = parseValue(fields[1]);
            out.push({ ts, value, line, series: batch.columns.key[i] || String(batch.meta.partition) });
            keep.push(i);
          } catch (e) {
            if (!(e instanceof BadRow)) throw e;
            dead.add(DeadLetterCode.MALFORMED_CSV, e.message, line, batch.meta, batch.columns.offset[i]);
          }
        }
        dead.emit(ctx, batch.meta);
        if (out.length) {
          const perRecord: Record<string, unknown> = {};
          for (const f of ['headers', 'timestamps'] as const) { const v = batch.meta[f]; if (v) perRecord[f] = keep.map((i) => v[i]); }
          ctx.emit(out.finish({ ...originOnly(batch.meta), ...perRecord }));
        }
      },
    }),
  };
}

/** robust z of the value and of its change against the last `window` values; keyed by series */
export function robustScore(cfg: { window?: number; k?: number } = {}): OperatorDef<typeof SeriesSchema, typeof SeriesSchema & { score: 'f64' }, Record<never, Schema>> & { keyed: true } {
  const W = cfg.window ?? 120, k2 = (cfg.k ?? 6) ** 2;
  const S = { ...SeriesSchema, score: 'f64' } as const;
  const mad = (xs: number[]) => { const s = [...xs].sort((a, b) => a - b); const med = s[s.length >> 1]; const d = s.map((x) => Math.abs(x - med)).sort((a, b) => a - b); return [med, d[d.length >> 1]] as const; };
  return {
    kind: 'robustScore', output: S, sides: {}, keyed: true,
    create() {
      const hist = new Map<string, { v: number[]; d: number[]; last: number }>();
      return {
        process(batch, ctx) {
          const out = new BatchBuilder(S, batch.length, batch.columns);
          const keys = batch.meta.keys!;
          for (let i = 0; i < batch.length; i++) {
            let h = hist.get(keys[i]);
            if (!h) { h = { v: [], d: [], last: NaN }; hist.set(keys[i], h); }
            const x = batch.columns.value[i];
            const dx = Number.isFinite(h.last) ? x - h.last : 0;
            let z = 0;
            if (h.v.length >= 10) {
              const [m, s] = mad(h.v), [dm, ds] = mad(h.d);
              const floor = 1e-9 + 1e-6 * Math.abs(m);
              z = Math.max(Math.abs(x - m) / (1.4826 * s + floor), Math.abs(dx - dm) / (1.4826 * ds + floor));
            }
            out.columns.score[i] = (z * z) / (z * z + k2);
            h.v.push(x); h.d.push(dx); h.last = x;
            if (h.v.length > W) { h.v.shift(); h.d.shift(); }
          }
          out.length = batch.length;
          ctx.emit(out.finish(batch.meta));
        },
        snapshot: () => [...hist],
        restore: (s: unknown) => { hist.clear(); for (const [k, v] of s as [string, { v: number[]; d: number[]; last: number | null }][]) hist.set(k, { ...v, last: v.last ?? NaN }); },
      };
    },
  };
}

export interface TimeseriesOptions {
  source: SourceDef<RawSchema>;
  output: SinkDef<SeriesOut>;
  deadLetters: SinkDef<DeadLetterSchema>;
  window?: number;
  threshold?: ThresholdConfig;
}

export function timeseriesTopology(o: TimeseriesOptions): Topology {
  const t = new TopologyBuilder('timeseries');
  const parsed = t.source('series', o.source).via('parse', parseSeries());
  parsed
    .keyBy('by-series', (c, i) => c.series[i])
    .via('robust-score', robustScore({ window: o.window }))
    .via('threshold', adaptiveThreshold({ targetRate: 0.005, floor: 0.5, ceiling: 0.95, halfLifeUs: 7 * 86400e6, priorWeight: 50, ...o.threshold }))
    .to('out', o.output);
  parsed.side('dead').to('dead-letters', o.deadLetters);
  return t.build();
}

/** `timestamp,value,anomaly_score,label` lines, header first */
export function seriesCsv(): (b: import('../../src/batch.js').Batch<SeriesOut>, i: number) => string {
  let first = true;
  return (b, i) => {
    const row = `${b.columns.line[i]},${b.columns.score[i].toFixed(4)},${b.columns.alert[i]}`;
    if (!first) return row;
    first = false;
    return `timestamp,value,anomaly_score,label\n${row}`;
  };
}
