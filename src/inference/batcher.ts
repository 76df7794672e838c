/**
 * Micro-batching for model inference: when to send the rows waiting for the model.
 *
 * Two policies:
 *
 * - `deadline` (default): every row carries a latency budget (default 2 ms) counted from
 *   its arrival. Rows are sent as soon as a worker is free — there is no reason to hold
 *   work while capacity idles — and a batch takes as many waiting rows as fit the oldest
 *   row's remaining budget, using the measured inference time per batch size (kept up to
 *   date from every batch that ran). While every worker is busy, rows accumulate, so
 *   batches grow with load exactly as far as the deadline allows; none is queued behind
 *   a busy worker, where it could only wait.
 * - `fixed`: Triton's `max_queue_delay`: a batch is sent when it is full or when its
 *   oldest row has waited `maxDelayMs`, whether or not a worker is free (it then queues
 *   in the pool). Offered for comparison.
 *
 * The batcher only counts rows and times; the scoring operator owns the rows.
 */
import { ConfigError } from '../errors.js';

export type BatchPolicy =
  | { kind: 'deadline'; budgetMs?: number; maxBatch?: number; marginMs?: number }
  | { kind: 'fixed'; maxDelayMs: number; maxBatch?: number };

export interface ResolvedPolicy { kind: 'deadline' | 'fixed'; budgetUs: number; marginUs: number; maxDelayUs: number; maxBatch: number }

export function resolvePolicy(p: BatchPolicy = { kind: 'deadline' }): ResolvedPolicy {
  const maxBatch = p.maxBatch ?? 64;
  if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new ConfigError(`batch policy: maxBatch must be a positive integer, got ${String(maxBatch)}`);
  if (p.kind === 'deadline') {
    const budget = p.budgetMs ?? 2;
    const margin = p.marginMs ?? 0.25;
    if (!(budget > 0)) throw new ConfigError(`batch policy: budgetMs must be > 0, got ${String(budget)}`);
    if (!(margin >= 0 && margin < budget)) throw new ConfigError(`batch policy: marginMs must be in [0, budgetMs), got ${String(margin)}`);
    return { kind: 'deadline', budgetUs: budget * 1000, marginUs: margin * 1000, maxDelayUs: Infinity, maxBatch };
  }
  if (p.kind === 'fixed') {
    if (!(p.maxDelayMs >= 0)) throw new ConfigError(`batch policy: maxDelayMs must be ≥ 0, got ${String(p.maxDelayMs)}`);
    return { kind: 'fixed', budgetUs: Infinity, marginUs: 0, maxDelayUs: p.maxDelayMs * 1000, maxBatch };
  }
  throw new ConfigError(`batch policy: kind must be 'deadline' or 'fixed', got '${String((p as { kind: unknown }).kind)}'`);
}

/**
 * Inference time per batch size: seeded from the warm-up timings, then an exponentially
 * weighted average of observed round trips per power-of-two size class; sizes between
 * classes are interpolated linearly.
 */
export class LatencyModel {
  readonly #sizes: number[];
  readonly #us: number[];
  constructor(seed: Record<number, number>, readonly alpha = 0.1) {
    const entries = Object.entries(seed).map(([b, us]) => [Number(b), us] as const).filter(([, us]) => us > 0).sort((a, b) => a[0] - b[0]);
    if (entries.length === 0) throw new ConfigError('latency model: needs at least one timed batch size');
    this.#sizes = entries.map((e) => e[0]);
    this.#us = entries.map((e) => e[1]);
  }

  /** estimated µs to run a batch of n rows */
  estimate(n: number): number {
    const s = this.#sizes, u = this.#us;
    if (n <= s[0]) return u[0];
    for (let i = 1; i < s.length; i++) {
      if (n <= s[i]) return u[i - 1] + ((u[i] - u[i - 1]) * (n - s[i - 1])) / (s[i] - s[i - 1]);
    }
    // beyond the largest timed size: extrapolate per row
    const last = s.length - 1;
    const perRow = last > 0 ? (u[last] - u[last - 1]) / (s[last] - s[last - 1]) : u[0];
    return u[last] + perRow * (n - s[last]);
  }

  /** the largest batch (≤ cap) estimated to finish within `us`; 0 if not even one row */
  largestWithin(us: number, cap: number): number {
    if (this.estimate(1) > us) return 0;
    let lo = 1, hi = cap;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.estimate(mid) <= us) lo = mid; else hi = mid - 1;
    }
    return lo;
  }

  /** a batch of n rows took `us` (round trip, no queueing) */
  observe(n: number, us: number): void {
    const s = this.#sizes;
    let i = 0;
    // nearest size class at or above n
    while (i < s.length - 1 && s[i] < n) i++;
    if (s[i] !== n) {
      // scale the observation to the class's size along the current curve
      const scaled = us * (this.estimate(s[i]) / this.estimate(n));
      this.#us[i] += this.alpha * (scaled - this.#us[i]);
    } else {
      this.#us[i] += this.alpha * (us - this.#us[i]);
    }
  }

  table(): Record<number, number> { return Object.fromEntries(this.#sizes.map((s, i) => [s, Math.round(this.#us[i])])); }
}

export interface BatcherHooks {
  /** µs clock */
  now(): number;
  /** workers free to take a batch now */
  idleWorkers(): number;
  /** send the oldest n waiting rows as one batch */
  dispatch(n: number): void;
}

/** Decides batch boundaries for a FIFO of waiting rows. */
export class MicroBatcher {
  /** arrival time (µs) of each waiting row, oldest first */
  #arrivals: Float64Array = new Float64Array(1024);
  #head = 0;
  #tail = 0;
  #timer: NodeJS.Timeout | undefined;
  #timerAt = Infinity;
  deadlineMisses = 0;

  constructor(readonly policy: ResolvedPolicy, public latency: LatencyModel, private readonly hooks: BatcherHooks) {}

  get waiting(): number { return this.#tail - this.#head; }

  /** n rows arrived at time `at` (µs) */
  add(n: number, at: number): void {
    if (this.#tail + n > this.#arrivals.length) this.#grow(n);
    this.#arrivals.fill(at, this.#tail, this.#tail + n);
    this.#tail += n;
    this.poll();
  }

  /** decide now: called on arrivals, when a worker frees up, and by the delay timer */
  poll(): void {
    const p = this.policy;
    const now = this.hooks.now();
    if (p.kind === 'deadline') {
      while (this.waiting > 0 && this.hooks.idleWorkers() > 0) {
        const slack = this.#arrivals[this.#head] + p.budgetUs - p.marginUs - now;
        let n = Math.min(this.waiting, this.latency.largestWithin(slack, p.maxBatch));
        if (n === 0) { this.deadlineMisses++; n = Math.min(this.waiting, p.maxBatch); } // already late: send what fits a full batch
        this.#take(n);
      }
      return;
    }
    // fixed delay: full batches at once; a partial one when its oldest row has waited maxDelay
    while (this.waiting >= p.maxBatch) this.#take(p.maxBatch);
    if (this.waiting > 0) {
      const due = this.#arrivals[this.#head] + p.maxDelayUs;
      if (due <= now) this.#take(this.waiting);
      else this.#arm(due, now);
    }
  }

  /** send everything waiting (checkpoint barrier, end of input) */
  flush(): void {
    while (this.waiting > 0) this.#take(Math.min(this.waiting, this.policy.maxBatch));
  }

  close(): void { clearTimeout(this.#timer); this.#timer = undefined; }

  #take(n: number): void {
    this.#head += n;
    if (this.#head === this.#tail) { this.#head = 0; this.#tail = 0; }
    this.hooks.dispatch(n);
  }

  #arm(due: number, now: number): void {
    if (this.#timer && this.#timerAt <= due) return;
    clearTimeout(this.#timer);
    this.#timerAt = due;
    this.#timer = setTimeout(() => { this.#timer = undefined; this.#timerAt = Infinity; this.poll(); }, Math.max(0, (due - now) / 1000));
  }

  #grow(n: number): void {
    const live = this.#arrivals.subarray(this.#head, this.#tail);
    const next = new Float64Array(Math.max(this.#arrivals.length * 2, live.length + n));
    next.set(live);
    this.#arrivals = next;
    this.#tail -= this.#head;
    this.#head = 0;
  }
}
