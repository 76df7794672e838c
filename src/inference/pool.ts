/**
 * A pool of inference workers for one model version (piscina + onnxruntime-node).
 *
 * Thread budget: workers × intra-op threads must fit the cores (oversubscription halved
 * throughput and tripled p99 in our measurements); by default one core is left to the
 * event loop, which parses, windows and talks to Kafka. Workers never time out
 * (respawning costs ~35 ms) and are only closed gracefully, never terminated mid-run.
 *
 * run() takes tensors whose buffers are transferred to the worker (the caller's arrays
 * are detached afterwards) and resolves with the outputs, transferred back.
 */
import { log } from '../log.js';
import { availableParallelism } from 'node:os';
import { fileURLToPath } from 'node:url';
import { Piscina } from 'piscina';
import { ConfigError } from '../errors.js';
import { InferenceError, ModelLoadError, ModelShapeError, PoolClosedError } from './errors.js';
import type { ModelRef } from './registry.js';
import type { InferFailure, InferResult, InferTask, WireTensor, WorkerConfig, WorkerInfo } from './worker.js';
import type { RecordBatch } from 'apache-arrow';
import { BatchShapeError, isWireBatch, toWire, transferListOf, type WireBatch } from './arrow-batch.js';

export interface PoolOptions {
  /** worker threads (default: cores − 1, at least 1) */
  workers?: number;
  /** onnxruntime intra-op threads per worker (default 1) */
  intraOpThreads?: number;
  /** execution provider (default 'cpu'); 'cuda' falls back to cpu with one log line */
  provider?: 'cpu' | 'cuda';
  /** tasks that may wait for a worker before run() rejects (default 100,000: the scoring stage bounds what it sends by its maxPending) */
  maxQueue?: number;
  /** batch sizes to warm up and time at load (default 1, 2, 4 … 64) */
  warmup?: number[];
  /** allow workers × intra-op threads above the core count (default false) */
  allowOversubscription?: boolean;
  /** where the fallback line goes (default: the engine's logger, src/log.ts) */
  log?: (line: string) => void;
}

/** Told of every batch a pool runs (the metrics module listens). */
export interface InferenceObserver {
  /** rows in the batch; queueUs = round trip − compute (waiting for a worker, messaging); computeUs inside onnxruntime */
  batch(model: string, rows: number, queueUs: number, computeUs: number): void;
  failed(model: string): void;
}
let inferenceObserver: InferenceObserver | undefined;
export function observeInference(o: InferenceObserver | undefined): void { inferenceObserver = o; }
/** pools open in this process (metrics: queue depth, model versions) */
export const openPools = new Set<InferencePool>();

export interface ThreadPlan { workers: number; intraOpThreads: number; cores: number }

/** Workers and intra-op threads for this machine; refuses oversubscription unless allowed. */
export function planThreads(o: Pick<PoolOptions, 'workers' | 'intraOpThreads' | 'allowOversubscription'> = {}, cores = availableParallelism()): ThreadPlan {
  const intraOpThreads = o.intraOpThreads ?? 1;
  const workers = o.workers ?? Math.max(1, cores - 1);
  for (const [k, v] of [['workers', workers], ['intraOpThreads', intraOpThreads]] as const) {
    if (!Number.isInteger(v) || v < 1) throw new ConfigError(`inference pool: ${k} must be a positive integer, got ${String(v)}`);
  }
  if (workers * intraOpThreads > cores && !o.allowOversubscription) {
    throw new ConfigError(`inference pool: ${workers} workers × ${intraOpThreads} intra-op threads = ${workers * intraOpThreads} threads on ${cores} cores; oversubscribed inference threads contend (measured 2× slower, 3× p99). Lower them or set allowOversubscription`);
  }
  return { workers, intraOpThreads, cores };
}

const workerFile = fileURLToPath(new URL('./worker.js', import.meta.url));

export class InferencePool {
  readonly id: string;
  #running = 0;
  #closed = false;

  private constructor(readonly model: ModelRef, readonly plan: ThreadPlan, private readonly piscina: Piscina, readonly provider: 'cpu' | 'cuda', readonly warmupUs: Record<number, number>) {
    this.id = `${model.name}@${model.version}`;
  }

  /** Start the workers, load and warm the model in each; resolves when all are ready. */
  static async open(model: ModelRef, opts: PoolOptions = {}): Promise<InferencePool> {
    const plan = planThreads(opts);
    const warmup = opts.warmup ?? [1, 2, 4, 8, 16, 32, 64];
    const m = model.manifest;
    const workerData: WorkerConfig = {
      id: `${model.name}@${model.version}`, path: model.path, inputs: m.inputs, outputs: m.outputs,
      provider: opts.provider ?? 'cpu', intraOpThreads: plan.intraOpThreads, warmup,
    };
    const piscina = new Piscina({
      filename: workerFile, workerData,
      minThreads: plan.workers, maxThreads: plan.workers, idleTimeout: Infinity,
      maxQueue: opts.maxQueue ?? 100_000,
      concurrentTasksPerWorker: 1,
      recordTiming: false,
    });
    // info tasks answer only from a worker that has loaded and warmed up; each holds its
    // worker briefly so the next goes to another one. Repeat until every worker has answered.
    const byThread = new Map<number, WorkerInfo>();
    try {
      for (let round = 0; byThread.size < plan.workers; round++) {
        if (round > 50) throw new ModelLoadError(`${model.name}@${model.version}`, `only ${byThread.size} of ${plan.workers} workers became ready`);
        const got = await Promise.all(Array.from({ length: plan.workers }, () => piscina.run({ op: 'info', holdMs: 20 } satisfies InferTask) as Promise<WorkerInfo>));
        for (const i of got) byThread.set(i.threadId, i);
      }
    } catch (e) {
      await piscina.close().catch(() => undefined);
      throw new ModelLoadError(`${model.name}@${model.version}`, (e as Error).message, e);
    }
    const infos = [...byThread.values()];
    const fell = infos.find((i) => i.fellBack);
    if (fell) (opts.log ?? ((l: string) => log().warn(l)))(`sluice: model ${model.name}@${model.version}: CUDA execution provider unavailable (${fell.fellBack}); running on CPU. GPU needs CUDA 12 + cuDNN 9 and ONNXRUNTIME_NODE_INSTALL=cuda12 at npm install.`);
    // per batch size, the slowest worker's best time: what the batcher plans with at first
    const warmupUs: Record<number, number> = {};
    for (const b of warmup) warmupUs[b] = Math.max(...infos.map((i) => i.warmupUs[b] ?? 0));
    const pool = new InferencePool(model, plan, piscina, infos.every((i) => i.provider === 'cuda') ? 'cuda' : 'cpu', warmupUs);
    openPools.add(pool);
    return pool;
  }

  get workers(): number { return this.plan.workers; }
  /** tasks submitted and not yet settled */
  get running(): number { return this.#running; }
  /** workers with nothing to do */
  get idle(): number { return Math.max(0, this.plan.workers - this.#running); }
  get closed(): boolean { return this.#closed; }

  /** values per row (product of the non-batch axes) for each input, from the manifest */
  rowWidths(): number[] { return this.model.manifest.inputs.map((t) => t.shape.slice(1).reduce((a, d) => a * (d < 0 ? NaN : d), 1)); }

  /** Check feeds against the manifest: names, rank, static axes, buffer length. */
  checkFeeds(feeds: Record<string, WireTensor>): void {
    const m = this.model.manifest;
    const names = Object.keys(feeds);
    for (const spec of m.inputs) {
      const t = feeds[spec.name];
      if (!t) throw new ModelShapeError(this.id, `missing input '${spec.name}' (given: ${names.join(', ')})`);
      if (t.dims.length !== spec.shape.length) throw new ModelShapeError(this.id, `input '${spec.name}' has rank ${t.dims.length}, expected ${spec.shape.length} (${JSON.stringify(spec.shape)})`);
      spec.shape.forEach((d, i) => {
        if (i > 0 && d >= 0 && t.dims[i] !== d) throw new ModelShapeError(this.id, `input '${spec.name}' axis ${i} is ${t.dims[i]}, expected ${d}`);
      });
      const n = t.dims.reduce((a, b) => a * b, 1);
      if (t.data.length !== n) throw new ModelShapeError(this.id, `input '${spec.name}' has ${t.data.length} values for dims ${JSON.stringify(t.dims)} (${n})`);
      if ((spec.dtype === 'int64') !== (t.data instanceof BigInt64Array)) throw new ModelShapeError(this.id, `input '${spec.name}' must be ${spec.dtype}`);
    }
    for (const n of names) if (!m.inputs.some((s) => s.name === n)) throw new ModelShapeError(this.id, `unknown input '${n}'`);
  }

  /**
   * Run one batch. Buffers are transferred (detached here). A failed run rejects with an
   * InferenceError whose `feeds` holds the inputs, returned by the worker, for a retry.
   */
  async run(feeds: Record<string, WireTensor>): Promise<InferResult> {
    if (this.#closed) throw new PoolClosedError(this.id);
    this.checkFeeds(feeds);
    const transferList = [...new Set(Object.values(feeds).map((t) => t.data.buffer as ArrayBuffer))];
    const rows = Object.values(feeds)[0]?.dims[0] ?? 0;
    this.#running++;
    const t0 = performance.now();
    let r: InferResult | InferFailure;
    try {
      r = await this.piscina.run({ op: 'run', feeds } satisfies InferTask, { transferList }) as InferResult | InferFailure;
    } catch (e) {
      inferenceObserver?.failed(this.id);
      throw new InferenceError(this.id, (e as Error).message, e);
    } finally {
      this.#running--;
    }
    if ('error' in r) { inferenceObserver?.failed(this.id); throw Object.assign(new InferenceError(this.id, r.error), { feeds: r.feeds }); }
    inferenceObserver?.batch(this.id, rows, Math.max(0, (performance.now() - t0) * 1000 - r.computeUs), r.computeUs);
    return r;
  }

  /**
   * Run one Arrow record batch (an apache-arrow RecordBatch, or the wire form inputBatch
   * makes): its columns make the model's inputs by the manifest (an input's own list column,
   * or the scalar columns its `columns` names; arrow-batch.ts). The
   * column buffers are transferred (detached here); the schema travels with them. A batch
   * that does not fit the inputs rejects with a ModelShapeError; a failed run with an
   * InferenceError whose `batch` holds the wire batch, returned by the worker.
   */
  async runBatch(rb: RecordBatch | WireBatch): Promise<InferResult> {
    if (this.#closed) throw new PoolClosedError(this.id);
    let wire: WireBatch;
    try { wire = isWireBatch(rb) ? rb : toWire(rb); } catch (e) {
      if (e instanceof BatchShapeError) throw new ModelShapeError(this.id, e.message);
      throw e;
    }
    this.#running++;
    const t0 = performance.now();
    let r: InferResult | InferFailure;
    try {
      r = await this.piscina.run({ op: 'batch', batch: wire } satisfies InferTask, { transferList: transferListOf(wire) }) as InferResult | InferFailure;
    } catch (e) {
      inferenceObserver?.failed(this.id);
      throw new InferenceError(this.id, (e as Error).message, e);
    } finally {
      this.#running--;
    }
    if ('error' in r) {
      if (r.shape) throw new ModelShapeError(this.id, r.error);
      inferenceObserver?.failed(this.id);
      throw Object.assign(new InferenceError(this.id, r.error), { batch: r.batch });
    }
    inferenceObserver?.batch(this.id, wire.length, Math.max(0, (performance.now() - t0) * 1000 - r.computeUs), r.computeUs);
    return r;
  }

  /** Finish every submitted task, then stop the workers (never terminates a running one). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await this.piscina.close();
    openPools.delete(this);
  }
}
