/**
 * Adaptive thresholds: per key, the alert threshold follows the recent distribution of
 * scores instead of sitting at a fixed value.
 *
 * Each key keeps an exponentially decayed histogram of its scores (scores in [0, 1],
 * `bins` bins, decay by event time with `halfLifeUs`), and so does the whole stream.
 * A key's threshold is the (1 − targetRate) quantile of its own histogram blended with
 * the stream's by how much evidence the key has (weight n / (n + priorWeight)), clamped
 * to [floor, ceiling]:
 *
 *  - a regime shift that lifts every score (a volume surge) lifts the quantile with it,
 *    so alerts stay near the target rate instead of flooding;
 *  - a flat regime lowers the quantile, but never below `floor`, and a score at or above
 *    `ceiling` alerts whatever the regime, so real outliers are not silenced (a ceiling of 1
 *    is off: then the target rate is a promise, which a ceiling below 1 breaks whenever the
 *    scores that pass it are not rare). `ceilingRareShare` keeps that promise: the ceiling
 *    overrides the quantile only while scores at or above it are at most that share of the
 *    stream's decayed history, so on flow where the model scores whole
 *    classes of benign accounts near 1 (flow unlike its training data: a market maker's
 *    constant requotes, a retail burst) the budget decides again instead of every event
 *    alerting.
 *
 * A record is an alert when its score exceeds the threshold in force *before* the
 * record is added (an outlier cannot raise its own bar). Analyst feedback moves a key's
 * threshold: a verdict of false positive raises it by the feedback's step, a true
 * positive lowers it (kept in the ThresholdFeedback object, shared by every instance of
 * the stage, so it reaches a key whichever partition owns it; not checkpointed).
 *
 * Late events (event time behind what a key's history has reached) still count, at the
 * weight their age gives them: a score from one half-life ago enters at half weight, so
 * late data adjusts the threshold by as much as it would have had it arrived on time,
 * and a burst replayed hours late does not drag today's threshold. They are decided
 * against the threshold in force like any other record.
 *
 * Adds `threshold` (the value in force) and `alert` (1 or 0).
 */
import { rejectUnknown } from '../src/config.js';
import { DeadLetters } from '../src/dead-letters.js';
import { checkBounds, entriesOf, keyedEntries, KeyedStore, type StateBounds } from '../src/state.js';
import { BatchBuilder, originOnly, type Batch, type Schema } from '../src/batch.js';
import { ConfigError, DeadLetterCode } from '../src/errors.js';
import type { SinkDef } from '../src/io.js';
import { DeadLetterSchema, type NoSides, type OperatorDef } from '../src/operator.js';

/**
 * The thresholds now in force, per key (the last one each key was judged by), for metrics:
 * one per threshold stage, shared by its keyed instances.
 */
export class ThresholdStats {
  readonly current = new Map<string, number>();
  /** min, median, 90th percentile and max over keys, and the number of keys (null when none) */
  summary(): { keys: number; min: number; p50: number; p90: number; max: number } | null {
    if (this.current.size === 0) return null;
    const v = Float64Array.from(this.current.values()).sort();
    const at = (q: number) => v[Math.min(v.length - 1, Math.floor(q * v.length))];
    return { keys: v.length, min: v[0], p50: at(0.5), p90: at(0.9), max: v[v.length - 1] };
  }
}

export interface ThresholdConfig {
  /** column holding the score, in [0, 1] (default 'score') */
  scoreField?: string;
  /** column holding event time, µs (default 'ts') */
  timeField?: string;
  /** where the current per-key thresholds are kept for metrics */
  stats?: ThresholdStats;
  /** fraction of records expected to alert (default 0.005) */
  targetRate?: number;
  /** the threshold never goes below this (default 0.5) */
  floor?: number;
  /** a score at or above this always alerts (default 0.99), unless ceilingRareShare says such scores are not rare */
  ceiling?: number;
  /**
   * the ceiling overrides the quantile only while scores at or above it make up at most this
   * share of the whole stream's decayed history (default 1: always)
   */
  ceilingRareShare?: number;
  /** event-time half-life of the score history, µs (default 10 minutes) */
  halfLifeUs?: number;
  /** histogram bins over [0, 1] (default 200) */
  bins?: number;
  /** how many records of evidence before a key's own history dominates the stream's (default 200) */
  priorWeight?: number;
  /** where analyst verdicts come in (see ThresholdFeedback) */
  feedback?: ThresholdFeedback;
  /** bounds on the per-key score histories, per partition (default: unbounded); a dropped key starts again from the stream's prior */
  state?: StateBounds;
  /**
   * how the histogram's bins cover [0, 1]: 'linear' (default), or 'surprise' — by
   * −log10(1 − score) over 0..8, for calibrated scores (1 − tail probability), whose
   * interesting part lies in the last thousandth; linear bins of 0.005 cannot tell
   * 0.999 from 0.99999 there, so a rate target below the bin width cannot be held
   */
  scale?: 'linear' | 'surprise';
  /**
   * the floor while the stream's history holds fewer than 1 / targetRate scores (default: the
   * floor): a quantile of fewer scores than that is a guess, and a low floor under a guess
   * alerts on the first events a job sees
   */
  coldFloor?: number;
  /**
   * a key alerts only once its own history holds this much weight (records, decayed; default
   * 0): a (1 − rate) quantile from fewer than about 1/rate scores is a guess, and a guess
   * that is low alerts far above the rate while the history fills
   */
  minEvidence?: number;
  /**
   * add a `rarity` column: on alerting rows, the share of the stream's decayed score history
   * below the row's score (by histogram bin; NaN on other rows). A model's raw score means
   * different things on different flow (issue #18: 24% of one market's events scored ≥ 0.995);
   * its rarity in the stream it came from reads the same whatever the model or the market
   */
  rarity?: boolean;
}

/** decades of tail probability the 'surprise' scale spans */
const SURPRISE_DECADES = 8;

/** Analyst verdicts on alerts: per key, how far they have moved its threshold. */
export class ThresholdFeedback {
  readonly #offsets = new Map<string, number>();
  /** @param step threshold change per verdict (default 0.02) */
  constructor(readonly step = 0.02) {
    if (!(step > 0 && step < 1)) throw new ConfigError(`ThresholdFeedback: step must be in (0, 1), got ${step}`);
  }
  /** an analyst marked an alert for `key` as a true or a false positive */
  mark(key: string, truePositive: boolean): void { this.#offsets.set(key, this.offset(key) + (truePositive ? -this.step : this.step)); }
  offset(key: string): number { return this.#offsets.get(key) ?? 0; }
}

/**
 * Analyst verdicts as a stream: JSON lines `{"participant": "...", "symbol": "...",
 * "verdict": "true_positive" | "false_positive"}` (a feedback topic or file). Bad lines go to
 * the `dead` side output; good ones are handed to `feedback` by `feedbackSink`.
 */
export const FeedbackSchema = { key: 'str', truePositive: 'f64' } as const satisfies Schema;

export function parseFeedback(): OperatorDef<{ value: 'str'; offset: 'f64' }, typeof FeedbackSchema, { dead: typeof DeadLetterSchema }> & { keyed: false } {
  return {
    kind: 'parseFeedback', output: FeedbackSchema, sides: { dead: DeadLetterSchema }, keyed: false,
    create: () => ({
      process(batch, ctx) {
        const out = new BatchBuilder(FeedbackSchema, batch.length);
        const dead = new DeadLetters(ctx);
        for (let i = 0; i < batch.length; i++) {
          const line = batch.columns.value[i];
          let o: { participant?: unknown; symbol?: unknown; verdict?: unknown } | null = null;
          try { o = JSON.parse(line); } catch { /* reported below */ }
          const ok = o !== null && typeof o === 'object' && typeof o.participant === 'string' && typeof o.symbol === 'string' && (o.verdict === 'true_positive' || o.verdict === 'false_positive');
          if (!ok) {
            dead.add(o === null ? DeadLetterCode.MALFORMED_JSON : DeadLetterCode.SCHEMA, o === null ? 'feedback is not JSON' : 'feedback needs participant, symbol (strings) and verdict true_positive | false_positive', line, batch.meta, batch.columns.offset[i]);
            continue;
          }
          out.push({ key: `${o!.participant as string}|${o!.symbol as string}`, truePositive: o!.verdict === 'true_positive' ? 1 : 0 });
        }
        dead.emit(ctx, batch.meta);
        if (out.length) ctx.emit(out.finish(originOnly(batch.meta)));
      },
    }),
  };
}

/** Hands parsed verdicts to the thresholds (applied at their next batch). */
export function feedbackSink(feedback: ThresholdFeedback): SinkDef<typeof FeedbackSchema> {
  return {
    kind: 'feedback-sink',
    async open() {
      return {
        write(b: Batch<typeof FeedbackSchema>) { for (let i = 0; i < b.length; i++) feedback.mark(b.columns.key[i], b.columns.truePositive[i] === 1); },
        async close() {},
      };
    },
  };
}

export const ThresholdColumns = { threshold: 'f64', alert: 'f64' } as const satisfies Schema;
export type Thresholded<S extends Schema> = S & typeof ThresholdColumns;
/** added with `rarity: true` */
export const RarityColumn = { rarity: 'f64' } as const satisfies Schema;

interface Hist { w: Float64Array; total: number; at: number }

export function adaptiveThreshold<I extends Schema>(cfg: ThresholdConfig = {}): OperatorDef<I, Thresholded<I>, NoSides> & { keyed: true } {
  rejectUnknown('adaptiveThreshold', cfg, ['scoreField', 'timeField', 'stats', 'targetRate', 'floor', 'ceiling', 'ceilingRareShare', 'halfLifeUs', 'bins', 'priorWeight', 'feedback', 'state', 'scale', 'minEvidence', 'coldFloor', 'rarity']);
  const rareShare = cfg.ceilingRareShare ?? 1;
  if (!(rareShare > 0 && rareShare <= 1)) throw new ConfigError(`adaptiveThreshold: ceilingRareShare must be in (0, 1], got ${rareShare}`);
  const minEvidence = cfg.minEvidence ?? 0;
  if (!(minEvidence >= 0)) throw new ConfigError(`adaptiveThreshold: minEvidence must be ≥ 0, got ${minEvidence}`);
  const scale = cfg.scale ?? 'linear';
  if (scale !== 'linear' && scale !== 'surprise') throw new ConfigError(`adaptiveThreshold: scale must be linear or surprise, got '${String(scale)}'`);
  // scores map to [0, 1] positions for binning and back (identity on the linear scale)
  const toPos = scale === 'linear' ? (s: number) => s : (s: number) => Math.min(1, -Math.log10(Math.max(1e-300, 1 - s)) / SURPRISE_DECADES);
  const fromPos = scale === 'linear' ? (u: number) => u : (u: number) => 1 - 10 ** (-u * SURPRISE_DECADES);
  const c = {
    scoreField: cfg.scoreField ?? 'score', timeField: cfg.timeField ?? 'ts', targetRate: cfg.targetRate ?? 0.005, floor: cfg.floor ?? 0.5,
    ceiling: cfg.ceiling ?? 0.99, halfLifeUs: cfg.halfLifeUs ?? 600e6, bins: cfg.bins ?? 200, priorWeight: cfg.priorWeight ?? 200,
  };
  if (!(c.targetRate > 0 && c.targetRate < 1)) throw new ConfigError(`adaptiveThreshold: targetRate must be in (0, 1), got ${c.targetRate}`);
  if (!(c.floor >= 0 && c.floor <= c.ceiling && c.ceiling <= 1)) throw new ConfigError(`adaptiveThreshold: need 0 ≤ floor ≤ ceiling ≤ 1, got floor ${c.floor}, ceiling ${c.ceiling}`);
  const coldFloor = cfg.coldFloor ?? c.floor;
  if (!(coldFloor >= c.floor && coldFloor <= 1)) throw new ConfigError(`adaptiveThreshold: need floor ≤ coldFloor ≤ 1, got coldFloor ${coldFloor}`);
  if (!(c.halfLifeUs > 0)) throw new ConfigError(`adaptiveThreshold: halfLifeUs must be > 0, got ${c.halfLifeUs}`);
  if (!Number.isInteger(c.bins) || c.bins < 10) throw new ConfigError(`adaptiveThreshold: bins must be an integer ≥ 10, got ${c.bins}`);
  const bounds = checkBounds('adaptiveThreshold', cfg.state);
  const lambda = Math.LN2 / c.halfLifeUs;
  const newHist = (): Hist => ({ w: new Float64Array(c.bins), total: 0, at: -Infinity });
  const decay = (h: Hist, t: number) => {
    if (!(t > h.at)) return;
    if (h.at !== -Infinity) {
      const f = Math.exp(-lambda * (t - h.at));
      if (f < 0.999999) { for (let i = 0; i < h.w.length; i++) h.w[i] *= f; h.total *= f; }
    }
    h.at = t;
  };
  // the first bin holding scores at or above the ceiling (its share of a history is the sum from here up)
  const ceilBin = Math.min(c.bins - 1, Math.max(0, Math.floor(toPos(c.ceiling) * c.bins)));
  const shareAtCeiling = (h: Hist): number => {
    if (!(h.total > 0)) return 0;
    let w = 0;
    for (let i = ceilBin; i < h.w.length; i++) w += h.w[i];
    return w / h.total;
  };
  /** the share of a history below the bin of score s (1 when the history is empty: nothing was as high) */
  const rarityOf = (h: Hist, s: number): number => {
    if (!(h.total > 0)) return 1;
    const b = Math.min(c.bins - 1, Math.max(0, Math.floor(toPos(s) * c.bins)));
    let atOrAbove = 0;
    for (let i = b; i < h.w.length; i++) atOrAbove += h.w[i];
    return Math.max(0, 1 - atOrAbove / h.total);
  };
  /** smallest score s with P(score > s) ≤ rate, by histogram bin upper edges */
  const quantile = (h: Hist, rate: number): number => {
    let above = 0;
    for (let i = h.w.length - 1; i >= 0; i--) {
      above += h.w[i];
      if (above > rate * h.total) return fromPos((i + 1) / h.w.length);
    }
    return 0;
  };

  return {
    kind: 'adaptiveThreshold',
    output: (input: Schema) => ({ ...input, ...ThresholdColumns, ...(cfg.rarity ? RarityColumn : {}) }) as Thresholded<I>,
    sides: {},
    keyed: true,
    create() {
      const forget = cfg.stats ? (k: string) => { cfg.stats!.current.delete(k); } : undefined;
      const keys = new KeyedStore<Hist>(bounds, forget);
      let global = newHist();
      return {
        process(batch, ctx) {
          const score = batch.columns[c.scoreField] as unknown as Float64Array;
          const time = batch.columns[c.timeField] as unknown as Float64Array;
          if (!score || !time) throw new ConfigError(`adaptiveThreshold: input has no '${!score ? c.scoreField : c.timeField}' column`);
          const out = new BatchBuilder({ ...batch.schema, ...ThresholdColumns, ...(cfg.rarity ? RarityColumn : {}) } as Thresholded<I>, batch.length, batch.columns);
          const thr = out.columns.threshold as Float64Array, alert = out.columns.alert as Float64Array;
          const rarity = cfg.rarity ? (out.columns as unknown as { rarity: Float64Array }).rarity : undefined;
          const ks = batch.meta.keys!;
          keys.expire(ctx.watermark);
          for (let i = 0; i < batch.length; i++) {
            const t = time[i];
            const h = keys.touch(ks[i], t) ?? keys.add(ks[i], newHist(), t);
            decay(h, t); decay(global, t);
            const qKey = h.total > 0 ? quantile(h, c.targetRate) : 0;
            const qAll = global.total > 0 ? quantile(global, c.targetRate) : c.floor;
            const w = h.total / (h.total + c.priorWeight);
            // the ceiling caps the threshold (and a score at it alerts) only while such scores are
            // rare in the stream's history; otherwise the quantile decides alone. Not the key's own
            // history: a manipulator's key is mostly its episode, rare only stream-wide
            const ceilingHolds = c.ceiling < 1 && (rareShare >= 1 || shareAtCeiling(global) <= rareShare);
            const floor = global.total * c.targetRate < 1 ? coldFloor : c.floor;
            const th = Math.min(ceilingHolds ? c.ceiling : 1, Math.max(floor, w * qKey + (1 - w) * qAll + (cfg.feedback?.offset(ks[i]) ?? 0)));
            const s = score[i];
            thr[i] = th;
            cfg.stats?.current.set(ks[i], th);
            // a ceiling of 1 is off: nothing alerts past the threshold's back
            alert[i] = h.total >= minEvidence && (s > th || (ceilingHolds && s >= c.ceiling)) ? 1 : 0;
            if (rarity) rarity[i] = alert[i] === 1 && Number.isFinite(s) ? rarityOf(global, s) : NaN;
            if (Number.isFinite(s)) {
              const b = Math.min(c.bins - 1, Math.max(0, Math.floor(toPos(s) * c.bins)));
              // a late record counts as already decayed from its own time to the history's
              const wk = t < h.at ? Math.exp(-lambda * (h.at - t)) : 1;
              const wg = t < global.at ? Math.exp(-lambda * (global.at - t)) : 1;
              h.w[b] += wk; h.total += wk; global.w[b] += wg; global.total += wg;
            }
          }
          out.length = batch.length;
          ctx.emit(out.finish(batch.meta));
        },
        stateStats: () => keys.stats(),
        snapshot: () => ({ keys: keyedEntries([...keys].map(([k, h]) => [k, [Array.from(h.w), h.total, h.at]])), global: [Array.from(global.w), global.total, global.at] }),
        restore(s: unknown) {
          const st = s as { keys: Parameters<typeof entriesOf<[number[], number, number | null]>>[0]; global: [number[], number, number | null] };
          const mk = (w: number[], total: number, at: number | null): Hist => ({ w: Float64Array.from(w), total, at: at ?? -Infinity });
          keys.clear();
          for (const [k, [w, total, at]] of entriesOf(st.keys)) keys.set(k, mk(w, total, at));
          global = mk(...st.global);
        },
      };
    },
  };
}
