/**
 * A scorer for the Numenta Anomaly Benchmark, written from the published rules (the NAB paper,
 * Lavin & Ahmad 2015, and the behaviour of NAB's `sweeper.py` / `runner.normalize`), so that a
 * detector's scores can be judged here exactly as NAB's scoreboard judges them:
 *
 *  - each file's first 15% of rows (at most 750) is probationary and not scored;
 *  - a row inside a labelled window scores as a true positive, 2·sigmoid(−5·p) − 1 scaled so the
 *    window's first row earns `tpWeight`, where p = −(rightIndex − i + 1) / width runs from −1 at
 *    the window's left edge towards 0 at its right: earlier detection is worth more; only the
 *    best (= earliest) detection in a window counts;
 *  - a row outside every window scores as a false positive: −fpWeight, or, after a window, the
 *    same sigmoid of the distance past it (p = |prevRight − i| / (prevWidth − 1), −1 from p ≥ 3),
 *    so a detection just after a window costs little;
 *  - a window with no detection costs −fnWeight (windows lying wholly in the probationary part
 *    are not counted);
 *  - detections are the rows whose anomaly score is ≥ the threshold; the optimizer tries every
 *    distinct score over the whole corpus and keeps the best total per profile;
 *  - the total is normalised so that the null detector (never alerts) scores 0 and a perfect one
 *    (every window caught at its first row) scores 100: 100·(raw − null)/(windows·tpWeight − null).
 *
 * Two baselines for `null`. NAB's runner does not rescore the null detector: it reads the total
 * from the null detector's results shipped in its repository, which were scored on all 58 files
 * (116 windows, so null = −116·fnWeight), while `perfect` counts the windows of the labels file in
 * use. On a subset that mixes the two corpora; it is what NAB prints for the dev split, so the
 * `nab` baseline reproduces NAB's figures (the Numenta HTM results there: 78.43 / 74.25 / 83.32 —
 * solving NAB's published dev figures for the baseline gives −116.0 and −232.1, the full corpus's
 * null). The `self` baseline is the null detector on the files scored (every window missed), the
 * normalisation NAB intends; both are reported. Checked in tests/nab-scorer.test.ts and by
 * `npm run eval:timeseries`.
 */
import { readFileSync } from 'node:fs';

export interface CostMatrix { tpWeight: number; fpWeight: number; fnWeight: number }

/** NAB's three application profiles (config/profiles.json) */
export const PROFILES: Record<'standard' | 'reward_low_FP_rate' | 'reward_low_FN_rate', CostMatrix> = {
  standard: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 1.0 },
  reward_low_FP_rate: { tpWeight: 1.0, fpWeight: 0.22, fnWeight: 1.0 },
  reward_low_FN_rate: { tpWeight: 1.0, fpWeight: 0.11, fnWeight: 2.0 },
};
export type ProfileName = keyof typeof PROFILES;

/** windows in all 58 files of NAB (labels/combined_windows.json at ea702d75): what its shipped null results miss */
export const NAB_CORPUS_WINDOWS = 116;
/** 'self': the null detector on the files scored; 'nab': NAB's shipped null results (all 58 files) */
export type Baseline = 'self' | 'nab';

/** one file's rows: timestamps (ms) and the detector's score for each */
export interface ScoredFile { name: string; timestamps: number[]; scores: ArrayLike<number>; windows: [number, number][] }

/** a scored row: its anomaly score, which window it lies in (-1: none), and its position weights */
interface Point { score: number; window: number; tp: number; fpPos: number }

const sigmoid = (x: number) => 1 / (1 + Math.exp(-x));
export function scaledSigmoid(p: number): number { return p >= 3 ? -1 : 2 * sigmoid(-5 * p) - 1; }
const MAX_TP = scaledSigmoid(-1);

export function probationaryLength(rows: number, percent = 0.15): number { return Math.min(Math.floor(percent * rows), percent * 5000); }

/** `YYYY-MM-DD HH:MM:SS[.ffffff]` (UTC) → ms */
export function nabTime(text: string): number {
  const m = /^(\d{4})-(\d{2})-(\d{2})[ T](\d{2}):(\d{2}):(\d{2})(?:\.(\d+))?/.exec(text);
  if (!m) throw new Error(`nab-scorer: timestamp '${text}' is not YYYY-MM-DD HH:MM:SS`);
  return Date.UTC(+m[1], +m[2] - 1, +m[3], +m[4], +m[5], +m[6]) + (m[7] ? Math.round(Number(`0.${m[7]}`) * 1000) : 0);
}

/**
 * The rows of one file that are scored, each with its window and the weight it earns as a
 * detection (profile-free: `tp` in [0, 1] for window rows, `fpPos` the sigmoid for the others;
 * the profile's weights multiply them later). Window ids are global: `base + index in file`.
 */
function sweep(f: ScoredFile, windowBase: number, windowsSeen: Set<number>): Point[] {
  const ts = f.timestamps, n = ts.length;
  const index = new Map<number, number>();
  for (let i = 0; i < n; i++) if (!index.has(ts[i])) index.set(ts[i], i);
  const windows = f.windows.map(([a, b]) => {
    const l = index.get(a), r = index.get(b);
    if (l === undefined || r === undefined) throw new Error(`nab-scorer: ${f.name}: window ${new Date(a).toISOString()}..${new Date(b).toISOString()} does not start and end on rows of the file`);
    return [l, r] as const;
  });
  const prob = probationaryLength(n);
  const out: Point[] = [];
  let w = 0, cur = -1, curRight = -1, curWidth = 0, prevRight = -1, prevWidth = 0;
  for (let i = 0; i < n; i++) {
    if (w < windows.length && i === windows[w][0]) { cur = w; curRight = windows[w][1]; curWidth = curRight - windows[w][0] + 1; w++; }
    let tp = 0, fpPos = 0;
    if (cur >= 0) tp = scaledSigmoid(-(curRight - i + 1) / curWidth) / MAX_TP;
    else fpPos = scaledSigmoid(prevRight < 0 ? 3 : Math.abs(prevRight - i) / (prevWidth - 1));
    if (i >= prob) {
      const id = cur >= 0 ? windowBase + cur : -1;
      if (id >= 0) windowsSeen.add(id);
      out.push({ score: f.scores[i], window: id, tp, fpPos });
    }
    if (cur >= 0 && i === curRight) { prevRight = i; prevWidth = curWidth; cur = -1; }
  }
  return out;
}

export interface ThresholdResult { threshold: number; raw: number; normalized: number; tp: number; fp: number; fn: number }

/** Prepared corpus: every scored row of every file, sorted by anomaly score, highest first. */
export class NabCorpus {
  readonly points: Point[] = [];
  readonly windowCount: number;
  readonly #windowsScored: number;
  readonly files: string[];
  constructor(files: ScoredFile[], readonly baseline: Baseline = 'self') {
    const seen = new Set<number>();
    let base = 0;
    for (const f of files) { for (const p of sweep(f, base, seen)) this.points.push(p); base += f.windows.length; }
    this.windowCount = base;
    this.#windowsScored = seen.size;
    this.points.sort((a, b) => b.score - a.score);
    this.files = files.map((f) => f.name);
  }

  /** the null detector's raw score: every scored window missed */
  nullScore(cost: CostMatrix): number { return -cost.fnWeight * this.#windowsScored; }
  /** the baseline that normalises to 0 (see the file's comment for the two kinds) */
  baselineScore(cost: CostMatrix): number { return this.baseline === 'nab' ? -cost.fnWeight * NAB_CORPUS_WINDOWS : this.nullScore(cost); }
  normalize(raw: number, cost: CostMatrix): number { const base = this.baselineScore(cost); return (100 * (raw - base)) / (this.windowCount * cost.tpWeight - base); }

  /** raw and normalised score at every distinct threshold, highest threshold first (NAB's sweep) */
  *sweep(cost: CostMatrix): Generator<ThresholdResult> {
    const best = new Map<number, number>();
    let missed = this.#windowsScored, tp = 0, fp = 0;
    let raw = this.nullScore(cost);
    let threshold = 1.1;
    const result = (): ThresholdResult => ({ threshold, raw, normalized: this.normalize(raw, cost), tp, fp, fn: missed });
    for (const p of this.points) {
      if (p.score !== threshold) { yield result(); threshold = p.score; }
      if (p.window < 0) { fp++; raw += p.fpPos * cost.fpWeight; continue; }
      tp++;
      const s = p.tp * cost.tpWeight, old = best.get(p.window);
      if (old === undefined) { best.set(p.window, s); missed--; raw += s + cost.fnWeight; } // the window's −fnWeight is replaced by s
      else if (s > old) { best.set(p.window, s); raw += s - old; }
    }
    yield result();
  }

  /** NAB's optimizer: the threshold with the best total for this profile */
  optimize(cost: CostMatrix): ThresholdResult {
    let best: ThresholdResult | null = null;
    for (const r of this.sweep(cost)) if (!best || r.raw > best.raw) best = r;
    return best!;
  }

  /** the score with detections at `score ≥ threshold` */
  at(threshold: number, cost: CostMatrix): ThresholdResult {
    let last: ThresholdResult | null = null;
    for (const r of this.sweep(cost)) { if (r.threshold < threshold) break; last = r; }
    return { ...last!, threshold };
  }
}

/** labelled windows per file from NAB's combined_windows.json, in ms */
export function readWindows(path: string): Map<string, [number, number][]> {
  const raw = JSON.parse(readFileSync(path, 'utf8')) as Record<string, [string, string][]>;
  return new Map(Object.entries(raw).map(([k, ws]) => [k, ws.map(([a, b]) => [nabTime(a), nabTime(b)] as [number, number])]));
}

/** a `timestamp,<column>,...` CSV with a header → timestamps (ms) and that column */
export function readScoreCsv(path: string, column: string): { timestamps: number[]; values: number[] } {
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim() !== '');
  const header = lines[0].split(',').map((h) => h.trim());
  const col = header.indexOf(column);
  if (col < 0) throw new Error(`nab-scorer: ${path} has no '${column}' column (header: ${header.join(',')})`);
  const timestamps: number[] = [], values: number[] = [];
  for (let i = 1; i < lines.length; i++) { const f = lines[i].split(','); timestamps.push(nabTime(f[0])); values.push(Number(f[col])); }
  return { timestamps, values };
}
