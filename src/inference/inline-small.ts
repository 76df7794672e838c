/**
 * Small stateless batches on the calling thread (issue #17: at low rates the hop to a worker
 * cost more than the model). A pool of a stateless model keeps, beside its workers, one
 * onnxruntime session on the thread that opened it; `InferencePool.runBatch` sends a batch
 * there instead of to a worker when all of these hold:
 *
 * - the batch has at most `maxRows` rows and this session ran that size, warm, within
 *   `maxUs` (what one run may block the event loop for);
 * - no worker task of the pool is running (with work queued at the workers the load is past
 *   "one event at a time", and batching there is what keeps up);
 * - inline runs of every pool on this thread have taken less than `share` of its recent time
 *   (an exponentially decaying sum with a 1 s time constant), so as the rate climbs the
 *   event loop keeps its time for parsing, windows and Kafka, and batches go to the workers.
 *
 * Why: measured in paired load-test runs on 2 vCPUs shared with the broker
 * (loadtest/NOTES.md, 2026-12-07 night), a one-row batch spent p50 1.4 ms / p99 9 ms between
 * dispatch and result through a worker, where a naive service's own session.run took
 * p50 0.9 ms including its JSON parse: the two thread wake-ups of a hop (to the worker and
 * back) are what a loaded machine delays. Run here, the event loop is blocked for the run
 * (session.run is a synchronous native call wrapped in setImmediate, NOTES-runtime), which
 * is why the run's size and the thread's share are bounded. The share's default (10%) is
 * measured too (bench/RESULTS-surveillance-inline-small.md, paced replay): with 25% the
 * inline runs blocked the loop often enough that p99 was worse than all-workers from 500/s up;
 * with 10% it was better at 100–200/s and within the run-to-run spread above.
 * Measured to help on platformatic (the default transport). On kafkajs it was worse at
 * 200–400/s in 2 of 2 load-test pairs: kafkajs decodes the protocol on this same loop, and
 * the cap counts inline runs only, not the loop's other work (loadtest/NOTES.md). There,
 * set inlineSmallBatches: false.
 *
 * CPU only: a CUDA session per thread would hold its own device memory and contend for the
 * device with the workers' sessions.
 */
import ort from 'onnxruntime-node';
import { ConfigError } from '../errors.js';
import type { TensorSpec } from './registry.js';
import type { WireTensor } from './arrow-batch.js';
import { openSession, toFeeds, zeroFeeds } from './session.js';

export interface InlineSmallOptions {
  /** most rows a batch may have to run here (default 4) */
  maxRows?: number;
  /** most µs this session took, warm, for the batch's size (default 1,000) */
  maxUs?: number;
  /** most share of this thread's recent time inline runs may take (default 0.1) */
  share?: number;
}

export interface ResolvedInlineSmall { maxRows: number; maxUs: number; share: number }

export function resolveInlineSmall(o: InlineSmallOptions | false | undefined): ResolvedInlineSmall | null {
  if (o === false) return null;
  const r = { maxRows: o?.maxRows ?? 4, maxUs: o?.maxUs ?? 1000, share: o?.share ?? 0.1 };
  if (!Number.isInteger(r.maxRows) || r.maxRows < 1 || r.maxRows > 64) throw new ConfigError(`inference pool: inlineSmallBatches.maxRows must be an integer in [1, 64], got ${String(o?.maxRows)}`);
  if (!(r.maxUs > 0)) throw new ConfigError(`inference pool: inlineSmallBatches.maxUs must be > 0, got ${String(o?.maxUs)}`);
  if (!(r.share > 0 && r.share <= 1)) throw new ConfigError(`inference pool: inlineSmallBatches.share must be in (0, 1], got ${String(o?.share)}`);
  return r;
}

/** this thread's time in inline runs, decaying with a 1 s time constant: about the share of the last second × 1 s */
const TAU_US = 1e6;
let spentUs = 0;
let spentAt = 0;
function decayTo(nowUs: number): void {
  if (nowUs > spentAt) { spentUs *= Math.exp(-(nowUs - spentAt) / TAU_US); spentAt = nowUs; }
}
/** the share of this thread's recent time inline runs took (0 … 1) */
export function inlineShareNow(nowUs = performance.now() * 1000): number { decayTo(nowUs); return spentUs / TAU_US; }
function spend(us: number): void { decayTo(performance.now() * 1000); spentUs += us; }

export class InlineSmallLane {
  /** best warm µs per batch size (1 … maxRows) */
  readonly warmupUs: Record<number, number> = {};
  private constructor(private readonly session: ort.InferenceSession, readonly outputs: TensorSpec[], readonly opts: ResolvedInlineSmall) {}

  /** a session on this thread, warmed at 1 … maxRows rows; null when not even one row fits maxUs */
  static async open(path: string, inputs: TensorSpec[], outputs: TensorSpec[], opts: ResolvedInlineSmall): Promise<InlineSmallLane | null> {
    // the workers' choices (session.ts); one intra-op thread: this is the event loop's core
    const { session } = await openSession(path, 'cpu', 1);
    const lane = new InlineSmallLane(session, outputs, opts);
    for (let n = 1; n <= opts.maxRows; n++) {
      const feeds = zeroFeeds(inputs, n);
      let best = Infinity;
      for (let i = 0; i < 3; i++) { const t0 = performance.now(); await session.run(feeds); best = Math.min(best, (performance.now() - t0) * 1000); }
      lane.warmupUs[n] = best;
    }
    if (!(lane.warmupUs[1] <= opts.maxUs)) { await session.release(); return null; }
    return lane;
  }

  /** may a batch of `rows` rows run here now? */
  takes(rows: number): boolean {
    return rows <= this.opts.maxRows && this.warmupUs[rows] <= this.opts.maxUs && inlineShareNow() < this.opts.share;
  }

  /** run on this thread (blocks it for the run); outputs by the manifest's names */
  async run(tensors: Record<string, WireTensor>): Promise<{ outputs: Record<string, WireTensor>; computeUs: number }> {
    const feeds = toFeeds(tensors);
    const t0 = performance.now();
    let out: ort.InferenceSession.OnnxValueMapType, computeUs = 0;
    try { out = await this.session.run(feeds); } finally { computeUs = (performance.now() - t0) * 1000; spend(computeUs); }
    const outputs: Record<string, WireTensor> = {};
    for (const s of this.outputs) { const t = out[s.name]; outputs[s.name] = { data: t.data as Float32Array, dims: [...t.dims] }; }
    return { outputs, computeUs };
  }

  async close(): Promise<void> { await this.session.release(); }
}
