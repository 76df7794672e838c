/**
 * An incremental model's keyed state beside its two graphs (issue #17; registry.ts,
 * IncrementalSpec): `prefill` for a key whose state is not held, `step` for every other
 * event. Used inside a key-affine worker (keyed-worker.ts) or, placed inline, on the main
 * thread (pool.ts, `placement: 'inline'`): the same code either way.
 *
 * State: a slab of `slots` rings, each the key's `length − 1` newest state rows; the main
 * thread maps keys to slots (keyed.ts). A task carries each row's slot, whether the main
 * thread knows the slot to be cold (a new key, a slot given to another key, a restore),
 * and the rows' whole windows (the encoder writes them anyway). The window lets this side
 * rebuild any slot it does not trust: after a failed task every slot the task touched is
 * marked invalid and its next row is prefilled, so a failure can never leave a stale cache
 * behind a correct-looking score.
 *
 * Within one task a key may have several events: they run in waves, the k-th event of
 * each slot in the k-th wave, so each step sees the state row its predecessor wrote.
 */
import { dirname, join } from 'node:path';
import ort from 'onnxruntime-node';
import type { IncrementalSpec, TensorSpec } from './registry.js';
import { tensorsOf, type WireTensor } from './arrow-batch.js';
import type { StatelessTask } from './task-inputs.js';
import type { InferResult } from './worker.js';
import { openSession } from './session.js';

export interface KeyedModelConfig {
  /** the full model's path; the prefill and step graphs lie beside it */
  path: string;
  inputs: TensorSpec[];
  /** outputs returned per row (score, logits): the manifest's outputs */
  outputs: TensorSpec[];
  incremental: IncrementalSpec;
  /** state slots held (each (length − 1) × stateWidth floats) */
  slots: number;
  provider: 'cpu' | 'cuda';
  intraOpThreads: number;
}

/**
 * rows of one task: slot per row, cold (1: prefill) per row, and every row's window
 * [n, length × width]; `seq` numbers the tasks sent to this worker (1, 2, …)
 */
export interface KeyedTask { op: 'keyed'; slots: Int32Array; cold: Uint8Array; windows: Float32Array; seq?: number }
/** a keyed task's outputs, how many rows were prefilled (cold) and stepped, and whether it came out of order */
export interface KeyedResult extends InferResult { prefilled: number; stepped: number; reordered?: boolean }

function need(session: ort.InferenceSession, file: string, inputs: string[], outputs: string[]): void {
  for (const n of inputs) if (!session.inputNames.includes(n)) throw new Error(`${file} has no input '${n}' (it has ${session.inputNames.join(', ')})`);
  for (const n of outputs) if (!session.outputNames.includes(n)) throw new Error(`${file} has no output '${n}' (it has ${session.outputNames.join(', ')})`);
}

export class KeyedModel {
  readonly provider: 'cpu' | 'cuda';
  readonly fellBack: string | undefined;
  readonly #run: (task: KeyedTask) => Promise<KeyedResult>;
  readonly #stateless: (windows: Float32Array, n: number) => Promise<Record<string, WireTensor>>;
  readonly #warm: (sizes: number[]) => Promise<Record<number, number>>;

  private constructor(parts: { provider: 'cpu' | 'cuda'; fellBack?: string; run: KeyedModel['run']; stateless: KeyedModel['stateless']; warm: KeyedModel['warm'] }) {
    this.provider = parts.provider; this.fellBack = parts.fellBack;
    this.#run = parts.run; this.#stateless = parts.stateless; this.#warm = parts.warm;
  }

  #tail: Promise<unknown> = Promise.resolve();
  /**
   * score a task's rows, stepping the slots held and prefilling the rest; outputs in row
   * order. Tasks run one after another in the order given (the slab and the scratch buffers
   * are shared, and a run awaits between its graphs): a worker takes one task at a time
   * anyway, an inline lane may be handed several
   */
  run(task: KeyedTask): Promise<KeyedResult> {
    const go = () => this.#run(task);
    const mine = this.#tail.then(go, go);
    this.#tail = mine.catch(() => undefined);
    return mine;
  }
  /** whole windows [n, length × width] through the prefill graph alone (a retry, a shadow): no state touched */
  stateless(windows: Float32Array, n: number): Promise<Record<string, WireTensor>> { return this.#stateless(windows, n); }
  /** run both graphs at each batch size (first runs pay for allocations); the step graph's best µs per size */
  warm(sizes: number[]): Promise<Record<number, number>> { return this.#warm(sizes); }

  static async open(cfg: KeyedModelConfig): Promise<KeyedModel> {
    const L = cfg.incremental.length, W = cfg.incremental.width, S = cfg.incremental.stateWidth;
    const M = L - 1; // cached rows per key
    const dir = dirname(cfg.path);
    const [pre, stp] = await Promise.all([cfg.incremental.prefill.file, cfg.incremental.step.file].map((f) => openSession(join(dir, f), cfg.provider, cfg.intraOpThreads)));
    const outNames = cfg.outputs.map((o) => o.name);
    need(pre.session, cfg.incremental.prefill.file, [cfg.inputs[0].name], [...outNames, 'states']);
    need(stp.session, cfg.incremental.step.file, ['event', 'cache', 'ages'], [...outNames, 'state']);
    const prefill = pre.session, step = stp.session;
    const perRow = cfg.outputs.map((o) => o.shape.slice(1).reduce((a, d) => a * d, 1));

    // the slab: slot s's rings start at s × M × S; head[s] is the ring position of its oldest row
    const cache = new Float32Array(cfg.slots * M * S);
    const head = new Int32Array(cfg.slots);
    const valid = new Uint8Array(cfg.slots);
    // ages of the cached rows in events, oldest first (31 … 1): the same for every key with a full
    // ring, and for a short history too, whose front rows are the zero-padded events prefill embedded
    const agesRow = Float32Array.from({ length: M }, (_, j) => M - j);
    const scratchBufs = new Map<string, Float32Array>();
    const scratch = (name: string, n: number): Float32Array => {
      let b = scratchBufs.get(name);
      if (!b || b.length < n) { b = new Float32Array(Math.max(n, (b?.length ?? 0) * 2)); scratchBufs.set(name, b); }
      return b.subarray(0, n);
    };
    // which wave a row runs in: its slot's count of earlier rows in this task (stamped per task)
    const seen = new Int32Array(cfg.slots), stamp = new Int32Array(cfg.slots);
    let taskNo = 0;
    // the number of the last task run (-1: none yet, e.g. a thread that replaced a dead one,
    // whose slab is all invalid anyway)
    let lastSeq = -1;

    /** these rows' windows through the prefill graph, outputs scattered to their rows; the result holds the state rows */
    const runPrefill = async (windows: Float32Array, rows: number[], outs: Float32Array[]): Promise<ort.InferenceSession.OnnxValueMapType> => {
      const n = rows.length;
      const x = new Float32Array(n * L * W);
      for (let k = 0; k < n; k++) x.set(windows.subarray(rows[k] * L * W, (rows[k] + 1) * L * W), k * L * W);
      const r = await prefill.run({ [cfg.inputs[0].name]: new ort.Tensor('float32', x, [n, L, W]) });
      scatter(r, rows, outs);
      return r;
    };
    const scatter = (r: ort.InferenceSession.OnnxValueMapType, rows: number[], outs: Float32Array[]): void => {
      cfg.outputs.forEach((o, j) => {
        const d = r[o.name].data as Float32Array, w = perRow[j];
        for (let k = 0; k < rows.length; k++) outs[j].set(d.subarray(k * w, (k + 1) * w), rows[k] * w);
      });
    };

    async function run(task: KeyedTask): Promise<KeyedResult> {
      const { slots, cold, windows } = task;
      const n = slots.length;
      // the main thread routed this task's rows as if every earlier task had run: one that
      // comes out of order cannot trust any slot it touches, and leaves them for a rebuild
      const reordered = task.seq !== undefined && lastSeq >= 0 && task.seq !== lastSeq + 1;
      if (task.seq !== undefined) lastSeq = Math.max(lastSeq, task.seq);
      const outs = perRow.map((w) => new Float32Array(n * w));
      taskNo++;
      let waves = 0;
      const wave = new Int32Array(n);
      for (let i = 0; i < n; i++) {
        const s = slots[i];
        if (stamp[s] !== taskNo) { stamp[s] = taskNo; seen[s] = 0; }
        wave[i] = seen[s]++;
        if (wave[i] + 1 > waves) waves = wave[i] + 1;
      }
      let prefilled = 0, stepped = 0;
      try {
        for (let w = 0; w < waves; w++) {
          const toPrefill: number[] = [], toStep: number[] = [];
          for (let i = 0; i < n; i++) {
            if (wave[i] !== w) continue;
            if (reordered || cold[i] === 1 || valid[slots[i]] === 0) toPrefill.push(i); else toStep.push(i);
          }
          if (toPrefill.length > 0) {
            // prefill embeds the whole window; the slot keeps its newest M rows (position 0 is dropped)
            const n1 = toPrefill.length;
            const r = await runPrefill(windows, toPrefill, outs);
            const states = r.states.data as Float32Array;
            for (let k = 0; k < n1; k++) {
              const s = slots[toPrefill[k]];
              cache.set(states.subarray(k * L * S + S, (k + 1) * L * S), s * M * S);
              head[s] = 0; valid[s] = 1;
            }
            prefilled += n1;
          }
          if (toStep.length > 0) {
            const m = toStep.length;
            // scratch reused across tasks (views of the first m rows): a fresh 16 KB per row made
            // tens of MB/s of garbage in this thread at 5,000 events/s
            const ev = scratch('ev', m * W), c = scratch('cache', m * M * S), ages = scratch('ages', m * M);
            for (let k = 0; k < m; k++) {
              const i = toStep[k], s = slots[i];
              ev.set(windows.subarray((i * L + L - 1) * W, (i + 1) * L * W), k * W); // the newest event: the window's last row
              // the ring from its oldest row: head … M−1, then 0 … head−1
              const base = s * M * S, h = head[s];
              c.set(cache.subarray(base + h * S, base + M * S), k * M * S);
              if (h > 0) c.set(cache.subarray(base, base + h * S), k * M * S + (M - h) * S);
              ages.set(agesRow, k * M);
            }
            const r = await step.run({ event: new ort.Tensor('float32', ev, [m, W]), cache: new ort.Tensor('float32', c, [m, M, S]), ages: new ort.Tensor('float32', ages, [m, M]) });
            scatter(r, toStep, outs);
            const rows = r.state.data as Float32Array;
            for (let k = 0; k < m; k++) {
              const s = slots[toStep[k]];
              // the new row replaces the oldest, which becomes the newest position of the ring
              cache.set(rows.subarray(k * S, (k + 1) * S), s * M * S + head[s] * S);
              head[s] = (head[s] + 1) % M;
            }
            stepped += m;
          }
        }
      } catch (e) {
        for (let i = 0; i < n; i++) valid[slots[i]] = 0; // rebuilt from their windows next time
        throw e;
      }
      if (reordered) for (let i = 0; i < n; i++) valid[slots[i]] = 0;
      const outputs: Record<string, WireTensor> = {};
      cfg.outputs.forEach((o, j) => { outputs[o.name] = { data: outs[j], dims: [n, ...o.shape.slice(1)] }; });
      return { outputs, computeUs: 0, prefilled, stepped, ...(reordered ? { reordered } : {}) };
    }

    const stateless = async (windows: Float32Array, n: number): Promise<Record<string, WireTensor>> => {
      const outs = perRow.map((w) => new Float32Array(n * w));
      await runPrefill(windows, Array.from({ length: n }, (_, i) => i), outs);
      const outputs: Record<string, WireTensor> = {};
      cfg.outputs.forEach((o, j) => { outputs[o.name] = { data: outs[j], dims: [n, ...o.shape.slice(1)] }; });
      return outputs;
    };
    const warm = async (sizes: number[]): Promise<Record<number, number>> => {
  // warm both graphs at each batch size (first runs pay for allocations), timing the step
  // graph: what a warm key costs, which is what the batcher plans with
      const warmupUs: Record<number, number> = {};
  for (const b of sizes) {
    const x = new ort.Tensor('float32', new Float32Array(b * L * W), [b, L, W]);
    const feeds = { event: new ort.Tensor('float32', new Float32Array(b * W), [b, W]), cache: new ort.Tensor('float32', new Float32Array(b * M * S), [b, M, S]), ages: new ort.Tensor('float32', new Float32Array(b * M).fill(1), [b, M]) };
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      await prefill.run({ [cfg.inputs[0].name]: x });
      const t0 = performance.now();
      await step.run(feeds);
      best = Math.min(best, (performance.now() - t0) * 1000);
    }
    warmupUs[b] = best;
  }
      return warmupUs;
    };
    const fellBack = pre.fellBack ?? stp.fellBack;
    return new KeyedModel({ provider: pre.provider === 'cuda' && stp.provider === 'cuda' ? 'cuda' : 'cpu', ...(fellBack ? { fellBack } : {}), run, stateless, warm });
  }
}

/**
 * A keyed model placed inline, on the calling thread: the same tasks a key-affine worker
 * takes (keyed, stateless, info), answered without a thread hop. session.run is a
 * synchronous native call wrapped in setImmediate (NOTES-runtime.md), so while it runs it
 * blocks this thread's event loop: worth it only where the step is cheaper than the hop
 * (pool.ts, `placement: 'inline'`; bench/RESULTS-surveillance-incremental.md has both).
 */
export class InlineKeyedLane {
  private constructor(private readonly model: KeyedModel, private readonly inputs: TensorSpec[], private readonly info: { provider: 'cpu' | 'cuda'; fellBack?: string; warmupUs: Record<number, number>; threadId: number }) {}

  static async open(cfg: KeyedModelConfig, warmup: number[]): Promise<InlineKeyedLane> {
    const model = await KeyedModel.open(cfg);
    const warmupUs = await model.warm(warmup);
    const { threadId } = await import('node:worker_threads');
    return new InlineKeyedLane(model, cfg.inputs, { provider: model.provider, ...(model.fellBack ? { fellBack: model.fellBack } : {}), warmupUs, threadId });
  }

  async run(task: KeyedTask | StatelessTask | { op: 'info' }): Promise<unknown> {
    if (task.op === 'info') return this.info;
    const t0 = performance.now();
    if (task.op === 'keyed') {
      try {
        const r = await this.model.run(task);
        r.computeUs = (performance.now() - t0) * 1000;
        return r;
      } catch (e) { return { error: (e as Error).message }; }
    }
    let tensors: Record<string, WireTensor>;
    try { tensors = task.op === 'run' ? task.feeds : tensorsOf(task.batch, this.inputs); } catch (e) {
      return { error: (e as Error).message, shape: true, ...(task.op === 'batch' ? { batch: task.batch } : {}) };
    }
    const t = tensors[this.inputs[0].name];
    try {
      const outputs = await this.model.stateless(t.data as Float32Array, t.dims[0]);
      return { outputs, computeUs: (performance.now() - t0) * 1000 } satisfies InferResult;
    } catch (e) {
      return task.op === 'batch' ? { error: (e as Error).message, batch: task.batch } : { error: (e as Error).message, feeds: task.feeds };
    }
  }

  async close(): Promise<void> { /* the sessions go with the pool */ }
}
