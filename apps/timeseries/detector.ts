/**
 * A streaming anomaly detector for one metric series: values in, a calibrated score in [0, 1]
 * out, one update per row, bounded memory, no labels.
 *
 * How a row is judged — five measures, each calibrated, then combined:
 *  1. **Shape novelty.** The row's context is its last `embed` values, scaled by the series'
 *     own spread (a robust range over a reservoir of past values, floored by the series'
 *     quantization step so a flat or integer-valued series never divides by zero), plus its
 *     time of day as a point on a circle. Its distance to the nearest of `memory` past
 *     contexts (sampled evenly over the history; the last `embed` rows excluded, so a row is
 *     not its own neighbour) is the novelty: a spike, a dip, a new level, a new shape or noise
 *     is a context not seen before; a square wave, a flat line, a quantized value flipping
 *     between levels is not. Measured per row and as the mean over the last `sustain` rows.
 *  2. **Seasonal deviation.** The row's distance from the series' recent level at the same
 *     time of day (48 half-hour slots, exponentially weighted), per row and as the mean signed
 *     deviation over the last `sustain` rows; and the same against the same hour of the week
 *     (168 slots), sustained. A daily peak that does not come, a weekend that looks like a
 *     weekday, a level shift, a slow drift away from the usual: deviations the nearest
 *     neighbour cannot see, because each row on its own looks like some earlier one.
 *  3. **Calibration.** Each measure becomes a tail probability against its own history of
 *     `history` values: the empirical exceedance fraction below the 97th percentile, an
 *     exponential tail fitted to the excesses above it (peaks over threshold) beyond.
 *  4. **Combination.** Fisher's method: −2 Σ ln pᵢ is χ² with 2k degrees of freedom when
 *     nothing is happening, so its tail probability p is again calibrated; several measures
 *     moderately surprised at once count for more than one strongly surprised. The score is
 *     1 − p: 1 − 10⁻³ means "about once in a thousand rows here", on every series alike —
 *     what lets one threshold work across series and a rate target mean something.
 *  5. **One alert per event.** A row whose surprise (−log10 p) does not exceed the highest of
 *     the last `refractory` rows keeps a tenth of it: an incident is reported when it starts
 *     (earlier is what operators want and what NAB rewards) rather than on every row.
 *
 * Chosen by measurement on NAB's dev split (bench/RESULTS-timeseries.md lists what was tried).
 *
 * State per series: `memory` contexts, five calibration histories of `history` values, the two
 * seasonal profiles and a reservoir of values; all fixed-size (bench/RESULTS-timeseries.md gives the bytes). `snapshot()` and
 * `restore()` make it checkpointable.
 */
import { ConfigError } from '../../src/errors.js';

export interface DetectorConfig {
  /** values in a context (default 8) */
  embed?: number;
  /** past contexts kept for the nearest-neighbour search (default 600) */
  memory?: number;
  /** raw scores kept for calibration (default 1000) */
  history?: number;
  /** rows before the first score above 0: the detector is learning the series (default 300) */
  warmup?: number;
  /** rows after a surprise during which lower surprises are damped (default 100) */
  refractory?: number;
  /** weight of time of day in the context (0 = ignore the clock; default 1) */
  clockWeight?: number;
  /** rows averaged for the sustained measures (default 10) */
  sustain?: number;
  /** weight of each new row in its time-of-day and hour-of-week level (default 0.05) */
  seasonalRate?: number;
}

/**
 * P(X ≥ x) against the last `size` observations of X: the empirical fraction up to the 97th
 * percentile, an exponential tail fitted to the excesses above it (peaks over threshold) beyond.
 * Kept as a ring plus a sorted copy, so both an update and a query cost O(log n) search and one
 * block move.
 */
export class TailCalibrator {
  #ring: Float64Array;
  #sorted: Float64Array;
  count = 0;
  #next = 0;
  constructor(readonly size: number) { this.#ring = new Float64Array(size); this.#sorted = new Float64Array(size); }

  #lowerBound(v: number): number {
    let lo = 0, hi = this.count;
    while (lo < hi) { const m = (lo + hi) >> 1; if (this.#sorted[m] < v) lo = m + 1; else hi = m; }
    return lo;
  }

  add(x: number): void {
    const s = this.#sorted;
    if (this.count === this.size) {
      const at = this.#lowerBound(this.#ring[this.#next]);
      s.copyWithin(at, at + 1, this.count);
      this.count--;
    }
    const at = this.#lowerBound(x);
    s.copyWithin(at + 1, at, this.count);
    s[at] = x;
    this.count++;
    this.#ring[this.#next] = x;
    this.#next = (this.#next + 1) % this.size;
  }

  /** −log10 P(X ≥ x): 0 for the ordinary, ~3 for once in a thousand */
  surprise(x: number): number {
    const n = this.count, s = this.#sorted;
    if (n === 0) return 0;
    const qi = Math.floor(0.97 * (n - 1)), u = s[qi];
    if (x <= u) return -Math.log10((n - this.#lowerBound(x) + 1) / (n + 1));
    let excess = 0;
    for (let i = qi + 1; i < n; i++) excess += s[i] - u;
    const k = n - 1 - qi;
    const beta = k > 0 && excess > 0 ? excess / k : Math.max(Math.abs(u), 1e-12);
    return -Math.log10((n - qi) / (n + 1)) + (x - u) / beta / Math.LN10;
  }

  /** the ring in arrival order, for checkpoints */
  values(): number[] {
    const out: number[] = [];
    const start = this.count === this.size ? this.#next : 0;
    for (let i = 0; i < this.count; i++) out.push(this.#ring[(start + i) % this.size]);
    return out;
  }
}

/** a SeriesDetector's state as plain JSON (numbers and arrays; NaN and Infinity as null) */
export interface DetectorSnapshot {
  n: number; recent: number[]; values: number[]; valueStride: number;
  contexts: number[]; contextStride: number; contextSkip: number; pending: number[][];
  daily: (number | null)[]; weekly: (number | null)[]; dailyResiduals: number[]; weeklyResiduals: number[];
  calibration: number[][];
  noveltyRecent: number[]; surprises: number[]; minStep: number | null; lastValue: number | null;
  /** the spread in use and the row it was computed at (it is recomputed every 32 rows) */
  scale: number; scaleAt: number;
}

const DAY_MS = 86_400_000;
const WEEK_MS = 7 * DAY_MS;
const DAILY_SLOTS = 48;
const WEEKLY_SLOTS = 168;
const MEASURES = 5;
/** a surprise no higher than the incident already reported keeps a tenth of itself (−log10 scale) */
const DAMPING = 0.1;
/** one hour of the day, in radians */
const CLOCK_TOLERANCE = (2 * Math.PI) / 24;

export class SeriesDetector {
  readonly embed: number;
  readonly memory: number;
  readonly history: number;
  readonly warmup: number;
  readonly refractory: number;
  readonly clockWeight: number;
  readonly sustain: number;
  readonly seasonalRate: number;
  /** rows seen */
  n = 0;
  /** last `embed` raw values, newest last */
  #recent: number[] = [];
  /** reservoir of values for the robust spread (evenly spaced over the history) */
  #values: number[] = [];
  #valueStride = 1;
  /** past contexts, each `embed + 2` numbers (values then clock), in a ring; raw (unscaled) values */
  #contexts: Float64Array;
  #contextCount = 0;
  #contextStride = 1;
  #contextSkip = 0;
  /** contexts waiting `embed` rows before they may be neighbours */
  #pending: Float64Array[] = [];
  /** calibration of each measure against its own history: novelty, sustained novelty, daily deviation, sustained daily and weekly deviation */
  #calibration: TailCalibrator[];
  /** the last `sustain` novelty distances */
  #noveltyRecent: number[] = [];
  /** per slot: the series' recent level at that half hour of the day / hour of the week (NaN: not seen yet) */
  #daily = new Float64Array(DAILY_SLOTS).fill(NaN);
  #weekly = new Float64Array(WEEKLY_SLOTS).fill(NaN);
  /** the last `sustain` signed deviations from those levels, in units of the spread */
  #dailyResiduals: number[] = [];
  #weeklyResiduals: number[] = [];
  /** the last `refractory` surprises (−log10 p) */
  #surprises: number[] = [];
  #scale = 0;
  #scaleAt = -1;
  #minStep = Infinity;
  #lastValue = NaN;

  constructor(cfg: DetectorConfig = {}) {
    this.embed = cfg.embed ?? 8;
    this.memory = cfg.memory ?? 600;
    this.history = cfg.history ?? 1000;
    this.warmup = cfg.warmup ?? 300;
    this.refractory = cfg.refractory ?? 100;
    this.clockWeight = cfg.clockWeight ?? 1;
    for (const [k, v, min] of [['embed', this.embed, 1], ['memory', this.memory, 10], ['history', this.history, 50], ['warmup', this.warmup, 0], ['refractory', this.refractory, 0]] as const) {
      if (!Number.isInteger(v) || v < min) throw new ConfigError(`SeriesDetector: ${k} must be an integer ≥ ${min}, got ${v}`);
    }
    if (!(this.clockWeight >= 0)) throw new ConfigError(`SeriesDetector: clockWeight must be ≥ 0, got ${this.clockWeight}`);
    this.#contexts = new Float64Array(this.memory * (this.embed + 2));
    this.sustain = cfg.sustain ?? 10;
    this.seasonalRate = cfg.seasonalRate ?? 0.05;
    if (!Number.isInteger(this.sustain) || this.sustain < 1) throw new ConfigError(`SeriesDetector: sustain must be an integer ≥ 1, got ${this.sustain}`);
    if (!(this.seasonalRate > 0 && this.seasonalRate <= 1)) throw new ConfigError(`SeriesDetector: seasonalRate must be in (0, 1], got ${this.seasonalRate}`);
    this.#calibration = Array.from({ length: MEASURES }, () => new TailCalibrator(this.history));
  }

  /** the series' spread: a robust range of its values, never below its smallest step */
  #spread(): number {
    // recomputed every 32 rows: the spread moves slowly and sorting the reservoir per row would dominate
    if (this.#scaleAt >= 0 && this.n - this.#scaleAt < 32) return this.#scale;
    const v = [...this.#values].sort((a, b) => a - b);
    const q = (p: number) => v[Math.min(v.length - 1, Math.floor(p * v.length))];
    let s = q(0.95) - q(0.05);
    if (!(s > 0)) s = q(1) - q(0);
    const step = Number.isFinite(this.#minStep) ? this.#minStep : 0;
    s = Math.max(s, step, 1e-9 * Math.max(1, Math.abs(q(0.5))));
    this.#scale = s;
    this.#scaleAt = this.n;
    return s;
  }

  #keepValue(x: number): void {
    // an evenly thinned reservoir: keep every stride-th value, halve when full
    if (this.n % this.#valueStride !== 0) return;
    this.#values.push(x);
    if (this.#values.length >= 2 * 512) { this.#values = this.#values.filter((_, i) => i % 2 === 0); this.#valueStride *= 2; }
  }

  #keepContext(c: Float64Array): void {
    // contexts are kept evenly over the whole history, densest early, by the same halving
    const d = this.embed + 2;
    if (this.#contextSkip++ % this.#contextStride !== 0) return;
    if (this.#contextCount === this.memory) {
      let w = 0;
      for (let i = 0; i < this.memory; i += 2, w++) this.#contexts.copyWithin(w * d, i * d, i * d + d);
      this.#contextCount = w;
      this.#contextStride *= 2;
    }
    this.#contexts.set(c, this.#contextCount * d);
    this.#contextCount++;
  }

  snapshot(): DetectorSnapshot {
    const fin = (x: number) => (Number.isFinite(x) ? x : null);
    return {
      n: this.n, recent: [...this.#recent], values: [...this.#values], valueStride: this.#valueStride,
      contexts: Array.from(this.#contexts.subarray(0, this.#contextCount * (this.embed + 2))), contextStride: this.#contextStride, contextSkip: this.#contextSkip,
      pending: this.#pending.map((c) => Array.from(c)),
      daily: Array.from(this.#daily, fin), weekly: Array.from(this.#weekly, fin), dailyResiduals: [...this.#dailyResiduals], weeklyResiduals: [...this.#weeklyResiduals],
      calibration: this.#calibration.map((c) => c.values()),
      noveltyRecent: [...this.#noveltyRecent], surprises: [...this.#surprises], minStep: fin(this.#minStep), lastValue: fin(this.#lastValue),
      scale: this.#scale, scaleAt: this.#scaleAt,
    };
  }

  /** a detector in the state `s` describes (same configuration as the one that took it) */
  static restore(s: DetectorSnapshot, cfg: DetectorConfig = {}): SeriesDetector {
    const d = new SeriesDetector(cfg);
    d.n = s.n; d.#recent = [...s.recent]; d.#values = [...s.values]; d.#valueStride = s.valueStride;
    d.#contexts.set(s.contexts.slice(0, d.#contexts.length)); d.#contextCount = Math.floor(Math.min(s.contexts.length, d.#contexts.length) / (d.embed + 2));
    d.#contextStride = s.contextStride; d.#contextSkip = s.contextSkip; d.#pending = s.pending.map((c) => Float64Array.from(c));
    s.calibration.forEach((xs, m) => { for (const x of xs) d.#calibration[m].add(x); });
    d.#daily = Float64Array.from(s.daily, (x) => x ?? NaN); d.#weekly = Float64Array.from(s.weekly, (x) => x ?? NaN);
    d.#dailyResiduals = [...s.dailyResiduals]; d.#weeklyResiduals = [...s.weeklyResiduals];
    d.#noveltyRecent = [...s.noveltyRecent]; d.#surprises = [...s.surprises];
    d.#minStep = s.minStep ?? Infinity; d.#lastValue = s.lastValue ?? NaN;
    d.#scale = s.scale; d.#scaleAt = s.scaleAt;
    return d;
  }

  /** distance from `c` to its nearest kept context, in units of the spread */
  #nearest(c: Float64Array, scale: number): number {
    const d = this.embed + 2, e = this.embed, cw = this.clockWeight * Math.sqrt(e);
    let best = Infinity;
    const ctx = this.#contexts;
    for (let j = 0; j < this.#contextCount; j++) {
      const o = j * d;
      let s = 0;
      for (let k = 0; k < e; k++) { const t = (ctx[o + k] - c[k]) / scale; s += t * t; if (s >= best) break; }
      if (s >= best) continue;
      // clock distance as an angle, with an hour's tolerance: history is sampled, so the nearest
      // kept context at the same time of day may be some minutes away; that is not novelty
      const dot = ctx[o + e] * c[e] + ctx[o + e + 1] * c[e + 1];
      const angle = Math.max(0, Math.acos(Math.max(-1, Math.min(1, dot))) - CLOCK_TOLERANCE) * cw;
      s += angle * angle;
      if (s < best) best = s;
    }
    return Math.sqrt(best / e);
  }

  /** the row's signed deviation from `levels[slot]` (0 the first time), which then moves towards x; kept in `recent` */
  #deviation(levels: Float64Array, slot: number, x: number, scale: number, recent: number[]): number {
    const level = levels[slot];
    const dev = Number.isFinite(level) ? (x - level) / scale : 0;
    levels[slot] = Number.isFinite(level) ? level + this.seasonalRate * (x - level) : x;
    recent.push(dev);
    if (recent.length > this.sustain) recent.shift();
    return dev;
  }

  /** one row: its event time (ms) and value → its anomaly score in [0, 1] */
  update(tsMs: number, x: number): number {
    const prev = this.#lastValue;
    if (Number.isFinite(prev) && x !== prev) this.#minStep = Math.min(this.#minStep, Math.abs(x - prev));
    this.#lastValue = x;
    this.#keepValue(x);
    this.#recent.push(x);
    if (this.#recent.length > this.embed) this.#recent.shift();
    this.n++;
    if (this.#recent.length < this.embed) return 0;

    const e = this.embed;
    const c = new Float64Array(e + 2);
    for (let k = 0; k < e; k++) c[k] = this.#recent[k];
    const phase = ((((tsMs % DAY_MS) + DAY_MS) % DAY_MS) / DAY_MS) * 2 * Math.PI;
    c[e] = Math.cos(phase);
    c[e + 1] = Math.sin(phase);

    const scale = this.#spread();
    // deviations from the recent level at this half hour of the day and this hour of the week
    const dailyDev = this.#deviation(this.#daily, Math.floor((phase / (2 * Math.PI)) * DAILY_SLOTS) % DAILY_SLOTS, x, scale, this.#dailyResiduals);
    this.#deviation(this.#weekly, Math.floor((((tsMs % WEEK_MS) + WEEK_MS) % WEEK_MS) / 3_600_000) % WEEKLY_SLOTS, x, scale, this.#weeklyResiduals);
    let score = 0;
    if (this.#contextCount > 0) {
      const novelty = this.#nearest(c, scale);
      this.#noveltyRecent.push(novelty);
      if (this.#noveltyRecent.length > this.sustain) this.#noveltyRecent.shift();
      const measures = [novelty, mean(this.#noveltyRecent), Math.abs(dailyDev), Math.abs(mean(this.#dailyResiduals)), Math.abs(mean(this.#weeklyResiduals))];
      if (this.n > this.warmup && this.#calibration[0].count >= 20) {
        let surprise = fisher(measures.map((v, m) => this.#calibration[m].surprise(v)));
        const recentMax = this.#surprises.length ? Math.max(...this.#surprises) : 0;
        this.#surprises.push(surprise);
        if (this.#surprises.length > this.refractory) this.#surprises.shift();
        if (surprise <= recentMax) surprise *= DAMPING; // the same incident, already reported
        score = 1 - 10 ** -surprise;
      }
      measures.forEach((v, m) => this.#calibration[m].add(v));
    }
    // a context becomes a neighbour only `embed` rows later, when it no longer overlaps the present
    this.#pending.push(c);
    if (this.#pending.length > e) this.#keepContext(this.#pending.shift()!);
    return score;
  }
}

/**
 * Fisher's method on surprises (−log10 pᵢ): with X = −Σ ln pᵢ, P(χ²₂ₖ ≥ 2X) = e^−X Σ_{j<k} Xʲ/j!,
 * returned as −log10 of it (computed in logs: X runs to hundreds on a real incident).
 */
export function fisher(surprises: number[]): number {
  const k = surprises.length;
  const X = surprises.reduce((a, b) => a + b, 0) * Math.LN10;
  let term = 1, sum = 1;
  for (let j = 1; j < k; j++) { term *= X / j; sum += term; }
  return Math.max(0, (X - Math.log(sum)) / Math.LN10);
}

function mean(xs: number[]): number { let s = 0; for (const x of xs) s += x; return xs.length ? s / xs.length : 0; }
