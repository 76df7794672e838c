/**
 * Anomaly detection for any metric series (for SREs): CSV `timestamp,value` rows in (one
 * series per file, or per key on Kafka), the same rows out with `anomaly_score` (0..1) and
 * `label` (0/1) appended, in input order. No labels: it learns from the series itself.
 *
 * Timestamps accepted (see `parseTimestamp`): ISO 8601 with a zone (`2024-01-01T01:00:02Z`,
 * `…+02:00`), `YYYY-MM-DD HH:MM:SS[.fff]` (UTC), and epoch seconds, milliseconds or
 * microseconds — stated with `epochUnit`, or told apart by their digit count when unambiguous
 * (9–11 digits: seconds, 12–14: ms, 15–17: µs). A date that does not exist is a dead letter.
 *
 * Score: `SeriesDetector` (detector.ts), one per series: nearest-neighbour novelty of the
 * row's recent shape and time of day, sustained novelty and volatility, each calibrated to a
 * tail probability against the series' own history, so the score means the same on every
 * series. The adaptive threshold then holds a target alert rate per series on the surprise
 * scale (−log10(1 − score)), where calibrated scores are spread out. Rows that are not
 * `timestamp,value` go to dead letters.
 */
import { DeadLetters } from '../../src/dead-letters.js';
import { BatchBuilder, originOnly, type Schema } from '../../src/batch.js';
import { DeadLetterCode } from '../../src/errors.js';
import type { RawSchema, SinkDef, SourceDef } from '../../src/io.js';
import { DeadLetterSchema, type OperatorDef } from '../../src/operator.js';
import { TopologyBuilder, type Topology } from '../../src/topology.js';
import { adaptiveThreshold, type ThresholdConfig } from '../../operators/threshold.js';
import { checkBounds, entriesOf, keyedEntries, KeyedStore, type StateBounds } from '../../src/state.js';
import { ConfigError } from '../../src/errors.js';
import { SeriesDetector, type DetectorConfig, type DetectorSnapshot } from './detector.js';

export const SeriesSchema = { ts: 'f64', value: 'f64', line: 'str', series: 'str' } as const satisfies Schema;
export const SeriesOutSchema = { ...SeriesSchema, score: 'f64', threshold: 'f64', alert: 'f64' } as const satisfies Schema;
export type SeriesOut = typeof SeriesOutSchema;

/** date, time, optional fraction, optional zone (Z or ±HH:MM / ±HHMM; none = UTC) */
const TS_RE = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?(Z|[+-]\d{2}:?\d{2})?$/;
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

/** how epoch numbers are read: stated, or 'auto' (by digit count, refused when ambiguous) */
export type EpochUnit = 'auto' | 's' | 'ms' | 'us';
const EPOCH_US: Record<Exclude<EpochUnit, 'auto'>, number> = { s: 1e6, ms: 1e3, us: 1 };

/**
 * A timestamp → epoch µs. Accepted: ISO 8601 date-time with `T` or a space, optional fraction,
 * optional zone (`Z`, `±HH:MM`, `±HHMM`; none means UTC); epoch numbers (integer or decimal) in
 * the unit stated, or with `auto` by digit count of the integer part: 9–11 seconds
 * (1973–5138), 12–14 milliseconds, 15–17 microseconds; any other length is refused rather than
 * guessed. Each field is range-checked: Date.UTC would quietly roll 2026-02-30 into March and
 * 99:99:99 into the next days.
 */
export function parseTimestamp(text: string, unit: EpochUnit = 'auto'): number {
  const epoch = /^(\d{1,17})(?:\.(\d{1,9}))?$/.exec(text);
  if (epoch) {
    let u: Exclude<EpochUnit, 'auto'>;
    if (unit !== 'auto') u = unit;
    else {
      const digits = epoch[1].replace(/^0+(?=\d)/, '').length;
      if (digits >= 9 && digits <= 11) u = 's';
      else if (digits >= 12 && digits <= 14) u = 'ms';
      else if (digits >= 15 && digits <= 17) u = 'us';
      else throw new BadRow(`epoch timestamp '${text}' has ${digits} digits: seconds (9-11), ms (12-14) or µs (15-17) cannot be told apart; state the unit (--epoch-unit)`);
    }
    return Math.round(Number(text) * EPOCH_US[u]);
  }
  const m = TS_RE.exec(text);
  if (!m) throw new BadRow(`timestamp '${text.slice(0, 40)}' is neither ISO 8601 (YYYY-MM-DD[T ]HH:MM:SS[.fff][Z|±HH:MM]) nor an epoch number`);
  const [y, mo, d, h, mi, s] = [+m[1], +m[2], +m[3], +m[4], +m[5], +m[6]];
  const leap = (y % 4 === 0 && y % 100 !== 0) || y % 400 === 0;
  const days = mo === 2 && leap ? 29 : DAYS_IN_MONTH[mo - 1];
  if (mo < 1 || mo > 12 || d < 1 || d > days || h > 23 || mi > 59 || s > 59) throw new BadRow(`timestamp '${text}' is not a real time (month 1-12, day within the month, 00:00:00-23:59:59)`);
  let offsetMin = 0;
  const zone = m[8];
  if (zone && zone !== 'Z') {
    const zh = +zone.slice(1, 3), zm = +zone.slice(-2);
    if (zh > 23 || zm > 59) throw new BadRow(`timestamp '${text}' has zone offset ${zone}, beyond ±23:59`);
    offsetMin = (zone[0] === '-' ? -1 : 1) * (zh * 60 + zm);
  }
  return (Date.UTC(y, mo - 1, d, h, mi, s) - offsetMin * 60_000) * 1000 + (m[7] ? Math.round(Number(`0.${m[7]}`) * 1e6) : 0);
}

function parseValue(text: string): number {
  const v = DECIMAL_RE.test(text) ? Number(text) : NaN;
  if (!Number.isFinite(v)) throw new BadRow(`value '${text.slice(0, 40)}' is not a finite decimal number`);
  return v;
}

/** `timestamp,value` lines → rows; the header and bad rows are told apart, bad rows dead-lettered */
export function parseSeries(cfg: { epochUnit?: EpochUnit } = {}): OperatorDef<RawSchema, typeof SeriesSchema, { dead: DeadLetterSchema }> & { keyed: false } {
  const unit = cfg.epochUnit ?? 'auto';
  if (!['auto', 's', 'ms', 'us'].includes(unit)) throw new ConfigError(`parseSeries: epochUnit must be auto, s, ms or us, got '${unit}'`);
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
            const ts = parseTimestamp(fields[0], unit);
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

export const ScoredSeriesSchema = { ...SeriesSchema, score: 'f64' } as const satisfies Schema;

/** one SeriesDetector per series (keyed), checkpointed with its partition; bounded like any keyed state */
export function seriesScore(cfg: DetectorConfig & { state?: StateBounds } = {}): OperatorDef<typeof SeriesSchema, typeof ScoredSeriesSchema, Record<never, Schema>> & { keyed: true } {
  const { state, ...detector } = cfg;
  const bounds = checkBounds('seriesScore', state);
  new SeriesDetector(detector); // validates the configuration now, not at the first row
  return {
    kind: 'seriesScore', output: ScoredSeriesSchema, sides: {}, keyed: true,
    create() {
      const series = new KeyedStore<SeriesDetector>(bounds);
      return {
        process(batch, ctx) {
          const out = new BatchBuilder(ScoredSeriesSchema, batch.length, batch.columns);
          const keys = batch.meta.keys!, ts = batch.columns.ts, value = batch.columns.value;
          series.expire(ctx.watermark);
          for (let i = 0; i < batch.length; i++) {
            const d = series.touch(keys[i], ts[i]) ?? series.add(keys[i], new SeriesDetector(detector), ts[i]);
            out.columns.score[i] = d.update(ts[i] / 1000, value[i]);
          }
          out.length = batch.length;
          ctx.emit(out.finish(batch.meta));
        },
        stateStats: () => series.stats(),
        snapshot: () => keyedEntries([...series].map(([k, d]) => [k, d.snapshot()])),
        restore(s: unknown) {
          series.clear();
          for (const [k, snap] of entriesOf(s as Parameters<typeof entriesOf<DetectorSnapshot>>[0])) series.set(k, SeriesDetector.restore(snap, detector));
        },
      };
    },
  };
}

export interface TimeseriesOptions {
  source: SourceDef<RawSchema>;
  output: SinkDef<SeriesOut>;
  deadLetters: SinkDef<DeadLetterSchema>;
  detector?: DetectorConfig;
  epochUnit?: EpochUnit;
  threshold?: ThresholdConfig;
}

export function timeseriesTopology(o: TimeseriesOptions): Topology {
  const t = new TopologyBuilder('timeseries');
  const parsed = t.source('series', o.source).via('parse', parseSeries({ epochUnit: o.epochUnit }));
  parsed
    .keyBy('by-series', (c, i) => c.series[i])
    .via('score', seriesScore(o.detector))
    // no ceiling: a calibrated score near 1 is rare by construction, and the rate target holds only
    // if nothing alerts past the threshold's back; the surprise scale resolves the tail
    .via('threshold', adaptiveThreshold({ targetRate: 0.005, floor: 0.5, ceiling: 1, scale: 'surprise', minEvidence: 400, halfLifeUs: 2 * 86400e6, priorWeight: 50, ...o.threshold }))
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
