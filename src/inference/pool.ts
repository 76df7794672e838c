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
 *
 * A model with an incremental form (manifest `incremental`, issue #17) opens key-affine
 * workers instead: one single-thread piscina per worker (piscina cannot send a task to a
 * chosen thread), each holding its keys' cached state beside the model (keyed-worker.ts),
 * and runKeyed() routes each row to its key's worker (keyed.ts). run()/runBatch() stay
 * stateless there (whole windows through the prefill graph). `incremental: false` opens
 * such a model's full graph in the ordinary workers.
 *
 * A stateless model's small batches may run on the calling thread instead of a worker when
 * no worker is busy and the thread has time to spare (inline-small.ts: at low rates the hop
 * cost more than the model).
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
import { BatchShapeError, isWireBatch, tensorsOf, toWire, transferListOf, type WireBatch } from './arrow-batch.js';
import { KeyRouter } from './keyed.js';
import type { KeyedResult, KeyedTask, KeyedWorkerConfig } from './keyed-worker.js';
import { InlineSmallLane, resolveInlineSmall, type InlineSmallOptions } from './inline-small.js';

/** where a pool's tasks run: a piscina, or an inline keyed model (keyed-state.ts) */
interface Lane { run(task: unknown, options?: { transferList?: ArrayBuffer[] }): Promise<unknown>; close(): Promise<void> }

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
  /** an incremental model runs key-affine with cached state (default true where the manifest has `incremental`) */
  incremental?: boolean;
  /**
   * where an incremental model runs (default 'workers'): 'workers' = key-affine worker
   * threads; 'inline' = on the calling thread, no hop (session.run then blocks the event loop
   * for the step's duration: for models whose step is cheaper than the hop)
   */
  placement?: 'workers' | 'inline';
  /** keys whose state each key-affine worker holds (default 4,096; each (length − 1) × stateWidth floats, 15.9 KB for the detector) */
  keyedSlots?: number;
  /**
   * keyed tasks one key-affine worker may hold at once (default 2): with 1 the worker idles
   * through every round trip (the result's message home, the next batch's message out); with
   * 2 the next batch waits in the worker's queue while one runs. Measured in paired runs on
   * 2 vCPUs, depth 2 had the lower p99 in 5 of 7 (bench/RESULTS-surveillance-incremental.md)
   */
  keyedDepth?: number;
  /**
   * a stateless model's small batches on the calling thread when that beats the hop to a
   * worker (default on, CPU only; false: every batch goes to a worker). inline-small.ts says
   * when a batch runs here and why; `runBatch` only (`run` always uses the workers)
   */
  inlineSmallBatches?: InlineSmallOptions | false;
}

/** Told of every batch a pool runs (the metrics module listens). */
export interface InferenceObserver {
  /** rows in the batch; queueUs = round trip − compute (waiting for a worker, messaging); computeUs inside onnxruntime */
  batch(model: string, rows: number, queueUs: number, computeUs: number): void;
  failed(model: string): void;
  /** an incremental model's rows: prefilled (cold keys) and stepped (warm keys) */
  keyed?(model: string, prefilled: number, stepped: number): void;
  /** a batch ran on the calling thread, not a worker (PoolOptions.inlineSmallBatches) */
  inline?(model: string, rows: number): void;
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
const keyedWorkerFile = fileURLToPath(new URL('./keyed-worker.js', import.meta.url));

/** what runKeyed() resolves with: the outputs in row order, and how many rows were prefilled or stepped */
export interface KeyedRunResult extends InferResult { prefilled: number; stepped: number }

export class InferencePool {
  readonly id: string;
  #running = 0;
  #closed = false;
  /** running tasks per piscina (key-affine pools have one piscina per worker) */
  readonly #laneRunning: number[];
  /**
   * per key-affine worker, the number of the last keyed task submitted. A key's steps must
   * run in its event order: the pools keep FIFO order (stricterFIFO below), and the worker
   * checks the numbers anyway. A task that arrives out of order is prefilled whole and its
   * slots are rebuilt from their windows next time (keyed-state.ts), so an ordering slip
   * costs recomputation, never a wrong score
   */
  readonly #laneSeq: number[];
  /** keyed tasks the workers saw out of their submission order (tests; should stay 0) */
  reorderedTasks = 0;
  /** small batches run on the calling thread (inline-small.ts), and their rows */
  inlineBatches = 0;
  inlineRows = 0;
  /** the calling thread's session for small stateless batches; null: every batch goes to a worker */
  inlineSmall: InlineSmallLane | null = null;
  /** inline runs not yet finished: close() waits for them before it releases the session */
  readonly #inlineInFlight = new Set<Promise<unknown>>();

  private constructor(readonly model: ModelRef, readonly plan: ThreadPlan, private readonly lanes: Lane[], readonly provider: 'cpu' | 'cuda', readonly warmupUs: Record<number, number>, readonly router?: KeyRouter) {
    this.id = `${model.name}@${model.version}`;
    this.#laneRunning = lanes.map(() => 0);
    this.#laneSeq = lanes.map(() => 0);
  }

  /** key-affine workers holding an incremental model's keyed state (runKeyed) */
  get keyed(): boolean { return this.router !== undefined; }
  /** 'inline': the keyed model runs on this thread (PoolOptions.placement) */
  readonly placement: 'workers' | 'inline' = 'workers';

  /** Start the workers, load and warm the model in each; resolves when all are ready. */
  static async open(model: ModelRef, opts: PoolOptions = {}): Promise<InferencePool> {
    const plan = planThreads(opts);
    const warmup = opts.warmup ?? [1, 2, 4, 8, 16, 32, 64];
    const m = model.manifest;
    const inc = opts.incremental === false ? undefined : m.incremental;
    const workerData: WorkerConfig = {
      id: `${model.name}@${model.version}`, path: model.path, inputs: m.inputs, outputs: m.outputs,
      provider: opts.provider ?? 'cpu', intraOpThreads: plan.intraOpThreads, warmup,
    };
    const make = (filename: string, threads: number, data: unknown) => new Piscina({
      filename, workerData: data,
      minThreads: threads, maxThreads: threads, idleTimeout: Infinity,
      maxQueue: opts.maxQueue ?? 100_000,
      concurrentTasksPerWorker: 1,
      recordTiming: false,
      // piscina's default (false) puts a task it could not hand to a busy worker back at the
      // queue's TAIL: measured, with one task in flight the 2nd, 4th, 6th … of a burst ran
      // after the ones behind them, which scrambled keyed steps. true puts it back in front
      stricterFIFO: true,
    });
    const slots = opts.keyedSlots ?? 4096;
    const depth = opts.keyedDepth ?? 2;
    if (!Number.isInteger(depth) || depth < 1 || depth > 8) throw new ConfigError(`inference pool: keyedDepth must be an integer in [1, 8], got ${String(opts.keyedDepth)}`);
    const inline = opts.placement === 'inline';
    if (inline && !inc) throw new ConfigError(`inference pool: placement 'inline' needs an incremental model (${model.name}@${model.version} has none, or incremental is off)`);
    if (inline && opts.workers !== undefined && opts.workers !== 1) throw new ConfigError(`inference pool: placement 'inline' runs on the calling thread; workers must be 1 or absent, got ${opts.workers}`);
    if (inline) plan.workers = 1;
    const router = inc ? new KeyRouter(plan.workers, slots) : undefined;
    const keyedConfig = inc ? { ...workerData, outputs: m.outputs.filter((o) => o.shape.length <= 2), incremental: inc, slots } satisfies KeyedWorkerConfig : undefined;
    let lanes: Lane[];
    try {
      lanes = inline ? [await (await import('./keyed-state.js')).InlineKeyedLane.open(keyedConfig!, warmup)]
        : keyedConfig ? Array.from({ length: plan.workers }, () => make(keyedWorkerFile, 1, keyedConfig))
          : [make(workerFile, plan.workers, workerData)];
    } catch (e) { throw new ModelLoadError(`${model.name}@${model.version}`, (e as Error).message, e); }
    // info tasks answer only from a worker that has loaded and warmed up; each holds its
    // worker briefly so the next goes to another one. Repeat until every worker has answered.
    const byThread = new Map<number, WorkerInfo>();
    try {
      for (let round = 0; byThread.size < plan.workers; round++) {
        if (round > 50) throw new ModelLoadError(`${model.name}@${model.version}`, `only ${byThread.size} of ${plan.workers} workers became ready`);
        const asks = inc ? lanes.map((p) => p.run({ op: 'info' })) : Array.from({ length: plan.workers }, () => lanes[0].run({ op: 'info', holdMs: 20 } satisfies InferTask));
        const got = await Promise.all(asks as Promise<WorkerInfo>[]);
        for (const i of got) byThread.set(i.threadId, i);
      }
    } catch (e) {
      await Promise.all(lanes.map((p) => p.close().catch(() => undefined)));
      throw new ModelLoadError(`${model.name}@${model.version}`, (e as Error).message, e);
    }
    const infos = [...byThread.values()];
    const fell = infos.find((i) => i.fellBack);
    if (fell) (opts.log ?? ((l: string) => log().warn(l)))(`sluice: model ${model.name}@${model.version}: CUDA execution provider unavailable (${fell.fellBack}); running on CPU. GPU needs CUDA 12 + cuDNN 9 and ONNXRUNTIME_NODE_INSTALL=cuda12 at npm install.`);
    // per batch size, the slowest worker's best time: what the batcher plans with at first
    const warmupUs: Record<number, number> = {};
    for (const b of warmup) warmupUs[b] = Math.max(...infos.map((i) => i.warmupUs[b] ?? 0));
    const pool = new InferencePool(model, plan, lanes, infos.every((i) => i.provider === 'cuda') ? 'cuda' : 'cpu', warmupUs, router);
    // small stateless batches may skip the hop: CPU pools of stateless models only (a keyed
    // model's state lives in its workers; inline-small.ts says why not CUDA)
    const small = resolveInlineSmall(opts.inlineSmallBatches);
    if (small && !inc && pool.provider === 'cpu') {
      try { pool.inlineSmall = await InlineSmallLane.open(model.path, m.inputs, m.outputs, small); } catch (e) {
        await Promise.all(lanes.map((p) => p.close().catch(() => undefined)));
        throw new ModelLoadError(`${model.name}@${model.version}`, (e as Error).message, e);
      }
    }
    if (inline) (pool as { placement: string }).placement = 'inline';
    else if (inc) (pool as { depth: number }).depth = depth;
    openPools.add(pool);
    return pool;
  }

  get workers(): number { return this.plan.workers; }
  /** tasks submitted and not yet settled */
  get running(): number { return this.#running; }
  /** tasks each worker may hold at once (PoolOptions.keyedDepth; 1 for all but key-affine workers) */
  readonly depth: number = 1;
  /** batches the workers could take now (workers × depth − tasks running) */
  get idle(): number { return Math.max(0, this.plan.workers * this.depth - this.#running); }
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
      r = await this.#onLane((p) => p.run({ op: 'run', feeds } satisfies InferTask, { transferList })) as InferResult | InferFailure;
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
    if (this.inlineSmall && this.#running === 0 && this.inlineSmall.takes(wire.length)) return this.#runInline(wire);
    this.#running++;
    const t0 = performance.now();
    let r: InferResult | InferFailure;
    try {
      r = await this.#onLane((p) => p.run({ op: 'batch', batch: wire } satisfies InferTask, { transferList: transferListOf(wire) })) as InferResult | InferFailure;
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

  /** a small batch on this thread (inline-small.ts): no worker is busy and the thread has time to spare */
  async #runInline(wire: WireBatch): Promise<InferResult> {
    let tensors: Record<string, WireTensor>;
    try { tensors = tensorsOf(wire, this.model.manifest.inputs); } catch (e) { throw new ModelShapeError(this.id, (e as Error).message); }
    let r: InferResult;
    const running = this.inlineSmall!.run(tensors);
    this.#inlineInFlight.add(running);
    try { r = await running; } catch (e) {
      inferenceObserver?.failed(this.id);
      throw Object.assign(new InferenceError(this.id, (e as Error).message, e), { batch: wire });
    } finally { this.#inlineInFlight.delete(running); }
    this.inlineBatches++;
    this.inlineRows += wire.length;
    inferenceObserver?.batch(this.id, wire.length, 0, r.computeUs);
    inferenceObserver?.inline?.(this.id, wire.length);
    return { ...r, inline: true };
  }

  /** a stateless task on the least busy piscina */
  async #onLane<T>(go: (p: Lane) => Promise<T>, lane = -1): Promise<T> {
    if (lane < 0) { lane = 0; for (let i = 1; i < this.lanes.length; i++) if (this.#laneRunning[i] < this.#laneRunning[lane]) lane = i; }
    this.#laneRunning[lane]++;
    try { return await go(this.lanes[lane]); } finally { this.#laneRunning[lane]--; }
  }

  /**
   * Score rows of an incremental model with the keys' cached state (key-affine pools only):
   * `keys[i]` and `seqs[i]` (the key's event number, 1 = its first; what makes a cached
   * state usable, keyed.ts) and `windows`, every row's whole window [n, length × width],
   * which is transferred (detached here) with one worker: a cold key is prefilled from it, a warm one steps
   * on its newest row alone (with one worker the buffer goes as it is; with more, each
   * worker's rows are copied out). Outputs come back in row order. A failed run rejects with an
   * InferenceError, and the keys it touched start cold next time.
   */
  async runKeyed(keys: readonly string[], seqs: ArrayLike<number>, windows: Float32Array): Promise<KeyedRunResult> {
    if (this.#closed) throw new PoolClosedError(this.id);
    const router = this.router;
    const inc = this.model.manifest.incremental;
    if (!router || !inc) throw new ModelShapeError(this.id, 'runKeyed needs a key-affine pool of an incremental model');
    const n = keys.length, row = inc.length * inc.width;
    if (windows.length !== n * row) throw new ModelShapeError(this.id, `runKeyed: ${windows.length} window values for ${n} rows of ${row}`);
    if (n >= router.slots) throw new ModelShapeError(this.id, `runKeyed: a batch of ${n} rows needs more than the ${router.slots} keyed slots per worker`);
    const lanes = this.lanes.length;
    const laneOf = new Int32Array(n), slots = new Int32Array(n), cold = new Uint8Array(n), counts = new Int32Array(lanes);
    for (let i = 0; i < n; i++) {
      slots[i] = router.route(keys[i], seqs[i]);
      laneOf[i] = router.lane; cold[i] = router.cold ? 1 : 0; counts[router.lane]++;
    }
    // one task per worker with rows; with one worker the encoder's buffer goes as it is
    const tasks: { lane: number; rows: Int32Array; task: KeyedTask }[] = [];
    if (lanes === 1) tasks.push({ lane: 0, rows: Int32Array.from({ length: n }, (_, i) => i), task: { op: 'keyed', slots, cold, windows } });
    else {
      for (let l = 0; l < lanes; l++) {
        if (counts[l] === 0) continue;
        const m = counts[l], rows = new Int32Array(m);
        const t: KeyedTask = { op: 'keyed', slots: new Int32Array(m), cold: new Uint8Array(m), windows: new Float32Array(m * row) };
        for (let i = 0, k = 0; i < n; i++) {
          if (laneOf[i] !== l) continue;
          rows[k] = i; t.slots[k] = slots[i]; t.cold[k] = cold[i];
          t.windows.set(windows.subarray(i * row, (i + 1) * row), k * row);
          k++;
        }
        tasks.push({ lane: l, rows, task: t });
      }
    }
    this.#running++;
    const t0 = performance.now();
    let results: (KeyedResult | InferFailure)[];
    try {
      results = await Promise.all(tasks.map(({ lane, task }) => {
        // the windows are transferred; slots and cold flags (a few bytes a row) are copied, so
        // a failed task's slots can still be forgotten here
        task.seq = ++this.#laneSeq[lane];
        return this.#onLane((p) => p.run(task, { transferList: [task.windows.buffer as ArrayBuffer] }) as Promise<KeyedResult | InferFailure>, lane);
      }));
    } catch (e) {
      for (const t of tasks) router.forget(t.lane, t.task.slots); // a thread died: its slots are gone with it
      inferenceObserver?.failed(this.id);
      throw new InferenceError(this.id, (e as Error).message, e);
    } finally {
      this.#running--;
    }
    const failed = results.findIndex((r) => 'error' in r);
    if (failed >= 0) {
      results.forEach((r, j) => { if ('error' in r) router.forget(tasks[j].lane, tasks[j].task.slots); });
      inferenceObserver?.failed(this.id);
      throw new InferenceError(this.id, (results[failed] as InferFailure).error);
    }
    const ok = results as KeyedResult[];
    let computeUs = 0, prefilled = 0, stepped = 0;
    for (const r of ok) { computeUs = Math.max(computeUs, r.computeUs); prefilled += r.prefilled; stepped += r.stepped; if (r.reordered) this.reorderedTasks++; }
    let outputs: Record<string, WireTensor>;
    if (ok.length === 1 && tasks[0].rows.length === n) outputs = ok[0].outputs;
    else {
      outputs = {};
      for (const name of Object.keys(ok[0].outputs)) {
        const dims = [n, ...ok[0].outputs[name].dims.slice(1)];
        const w = dims.slice(1).reduce((a, d) => a * d, 1);
        const data = new Float32Array(n * w);
        ok.forEach((r, j) => { const src = r.outputs[name].data as Float32Array; tasks[j].rows.forEach((i, k) => data.set(src.subarray(k * w, (k + 1) * w), i * w)); });
        outputs[name] = { data, dims };
      }
    }
    inferenceObserver?.batch(this.id, n, Math.max(0, (performance.now() - t0) * 1000 - computeUs), computeUs);
    inferenceObserver?.keyed?.(this.id, prefilled, stepped);
    return { outputs, computeUs, prefilled, stepped };
  }

  /** every key starts cold: a restore or rebalance changed the encoder's rings under the cache */
  forgetKeys(): void { this.router?.clear(); }

  /** Finish every submitted task, then stop the workers (never terminates a running one). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    await Promise.all(this.lanes.map((p) => p.close()));
    await Promise.allSettled([...this.#inlineInFlight]);
    await this.inlineSmall?.close();
    openPools.delete(this);
  }
}
