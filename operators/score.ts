/**
 * Model scoring on worker threads, as one stage of a topology.
 *
 * Each record is encoded into the model's input rows (an Encoder, which may keep keyed
 * state such as the last events of each key), rows wait in a micro-batcher (see
 * src/inference/batcher.ts: deadline-aware by default), batches run on the model slot's
 * worker pool, and the scores rejoin their records, which leave in arrival order with
 * the columns
 *
 *   score        the model's score output (one value per row)
 *   label        argmax of the class output, named by the manifest's classes ('' if none)
 *   labelProb    its softmax probability (NaN if none)
 *   model        name@version that scored the record
 *   shadowScore  the shadow version's score (NaN without a shadow)
 *   shadowModel  the shadow's name@version ('')
 *
 * Outputs named in `keepOutputs` (a user vector, attention weights) ride with each record
 * in meta.vectors, beside whatever the encoder returned for the record.
 *
 * Watermarks are held until the records before them have left, and the runtime lets no
 * checkpoint barrier or end of input pass while records are in flight, so checkpoints
 * and event time stay exact. The stage's queue is bounded (maxPending records): when
 * full, its input waits and backpressure reaches the source. A batch whose inference
 * fails is retried once; if it fails again its records go to the dead-letter output
 * with the error, and the stage keeps running.
 */
import { rejectUnknown } from '../src/config.js';
import { DeadLetters } from '../src/dead-letters.js';
import type { StateStats } from '../src/state.js';
import { Batch, BatchBuilder, originOnly, type Schema } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';
import { DeadLetterSchema, type OperatorContext, type OperatorDef } from '../src/operator.js';
import { LatencyModel, MicroBatcher, resolvePolicy, type BatchPolicy } from '../src/inference/batcher.js';
import { InferenceCode, ModelShapeError } from '../src/inference/errors.js';
import type { InferencePool } from '../src/inference/pool.js';
import type { ModelManifest } from '../src/inference/registry.js';
import type { ModelSlot } from '../src/inference/slot.js';
import type { InferResult } from '../src/inference/worker.js';
import { inputBatch } from '../src/inference/arrow-batch.js';
import { PartitionInstances, partitionName, type PartitionScoped } from '../src/partitioned.js';

export const ScoreColumns = {
  score: 'f64', label: 'str', labelProb: 'f64', model: 'str', shadowScore: 'f64', shadowModel: 'str',
} as const satisfies Schema;
export type Scored<S extends Schema> = S & typeof ScoreColumns;
export const ScoreSides = { dead: DeadLetterSchema } as const;

/** Turns a record into the model's input rows. */
export interface Encoder<I extends Schema> {
  /** values per row for each model input, in the manifest's input order */
  readonly widths: readonly number[];
  /**
   * Write record `row` of `batch` into `dst[k]` at offset `at × widths[k]`. Called once
   * per record, in arrival order (keyed state may advance here). What it returns travels
   * with the record in meta.vectors (e.g. which items the model input held).
   */
  encode(batch: Batch<I>, row: number, dst: Float32Array[], at: number): void | Record<string, Float32Array>;
  snapshot?(): unknown;
  restore?(state: unknown): void;
  /** drop keyed state idle beyond its TTL as of this watermark (bounded state; called once per batch) */
  expire?(watermark: number): void;
  /** keys held and dropped by the state bounds (metrics) */
  stateStats?(): StateStats;
  /**
   * For an incremental model (issue #17): the key of the record encode() just wrote, and
   * that key's event count including it (1 = its first). With these, a key-affine pool
   * steps a key whose state it holds on the newest event instead of re-encoding the window.
   * The key is unique within the encoder; the stage adds the partition's name.
   */
  lastKey?(): string;
  lastSeq?(): number;
}

/** Encoder for a model over plain feature columns: the manifest's feature order and normalization. */
export function columnsEncoder(manifest: ModelManifest): Encoder<Schema> {
  if (manifest.inputs.length !== 1 || manifest.inputs[0].shape.length !== 2) {
    throw new ConfigError(`columnsEncoder: model ${manifest.name} must have one [batch, features] input`);
  }
  const input = manifest.inputs[0].name;
  const names = manifest.features[input];
  if (!names) throw new ConfigError(`columnsEncoder: manifest of ${manifest.name} lists no features for '${input}'`);
  const norm = manifest.normalization?.[input];
  const w = names.length;
  return {
    widths: [w],
    encode(batch, row, dst, at) {
      const out = dst[0];
      for (let j = 0; j < w; j++) {
        const col = batch.columns[names[j]] as Float64Array | undefined;
        if (!col) throw new ConfigError(`columnsEncoder: input stream has no column '${names[j]}' (model ${manifest.name} needs ${names.join(', ')})`);
        const v = col[row];
        const x = norm ? (v - norm.mean[j]) / (norm.std[j] || 1) : v;
        out[at * w + j] = Number.isFinite(x) ? x : 0; // absent features are the training mean
      }
    },
  };
}

export interface ScoreConfig<I extends Schema> {
  slot: ModelSlot;
  /**
   * An encoder factory (keyed state): one encoder per source partition, which the runtime
   * saves, loads and drops with its partition; the stage then needs keyBy before it. Or one
   * encoder instance for every partition (stateless encoders, single-partition inputs).
   */
  encoder: Encoder<I> | (() => Encoder<I>);
  /** output holding one score per row (default: the manifest's first output) */
  scoreOutput?: string;
  /** output holding class logits, named by manifest.classes */
  classOutput?: string;
  policy?: BatchPolicy;
  /** records accepted but not yet emitted before the input waits (default 4096) */
  maxPending?: number;
  /** outputs whose per-record slices are kept in meta.vectors */
  keepOutputs?: string[];
}

interface Pending {
  batch: Batch<Schema>;
  score: Float64Array;
  labelIdx: Int32Array;
  labelProb: Float64Array;
  model: string[];
  shadowScore: Float64Array;
  shadowModel: string[];
  dead: (string | undefined)[];
  vectors: (Record<string, Float32Array> | null)[] | undefined;
  remaining: number;
}
type Entry = { p: Pending } | { wm: number };

type ScoreDef<I extends Schema> = OperatorDef<I, Scored<I>, typeof ScoreSides>;
export function score<I extends Schema>(cfg: ScoreConfig<I> & { encoder: () => Encoder<I> }): ScoreDef<I> & { readonly keyed: true };
export function score<I extends Schema>(cfg: ScoreConfig<I> & { encoder: Encoder<I> }): ScoreDef<I> & { readonly keyed: false };
export function score<I extends Schema>(cfg: ScoreConfig<I>): ScoreDef<I> {
  rejectUnknown('score', cfg, ['slot', 'encoder', 'scoreOutput', 'classOutput', 'policy', 'maxPending', 'keepOutputs']);
  const policy = resolvePolicy(cfg.policy);
  const maxPending = cfg.maxPending ?? 4096;
  if (!Number.isInteger(maxPending) || maxPending < policy.maxBatch) throw new ConfigError(`score: maxPending must be an integer ≥ maxBatch (${policy.maxBatch}), got ${String(maxPending)}`);
  const manifest = cfg.slot.live.model.manifest;
  const scoreOutput = cfg.scoreOutput ?? manifest.outputs[0].name;
  if (!manifest.outputs.some((o) => o.name === scoreOutput)) throw new ConfigError(`score: model ${cfg.slot.version} has no output '${scoreOutput}'`);
  if (cfg.classOutput && !manifest.outputs.some((o) => o.name === cfg.classOutput)) throw new ConfigError(`score: model ${cfg.slot.version} has no output '${cfg.classOutput}'`);
  for (const o of cfg.keepOutputs ?? []) if (!manifest.outputs.some((x) => x.name === o)) throw new ConfigError(`score: model ${cfg.slot.version} has no output '${o}' to keep`);
  if (cfg.classOutput && !manifest.classes) throw new ConfigError(`score: model ${cfg.slot.version} names no classes for '${cfg.classOutput}'`);
  const factory = typeof cfg.encoder === 'function' ? cfg.encoder as () => Encoder<I> : undefined;
  const probe = factory ? factory() : cfg.encoder as Encoder<I>;
  const widths = cfg.slot.live.rowWidths();
  if (widths.length !== probe.widths.length || widths.some((w, k) => w !== probe.widths[k])) {
    throw new ModelShapeError(cfg.slot.version, `encoder writes rows of [${probe.widths.join(', ')}] values, the model takes [${widths.join(', ')}]`);
  }
  return {
    kind: 'score',
    output: (input: Schema) => ({ ...input, ...ScoreColumns }) as Scored<I>,
    sides: ScoreSides,
    // per-partition encoders are the stage's keyed state: keyBy before it; the stage keeps
    // them itself (PartitionScoped) so that one batch of model rows can span partitions
    keyed: factory !== undefined,
    scopesPartitions: factory !== undefined,
    create: () => (factory
      ? new PartitionScopedScoreOperator(cfg as unknown as ScoreConfig<Schema>, policy, maxPending, scoreOutput, factory as unknown as () => Encoder<Schema>)
      : new ScoreOperator(cfg as unknown as ScoreConfig<Schema>, policy, maxPending, scoreOutput, cfg.encoder as unknown as Encoder<Schema>)) as never,
  };
}

class ScoreOperator {
  readonly #entries: Entry[] = [];
  #entryHead = 0;
  /** waiting rows (not yet sent), oldest first */
  #waitP: Pending[] = [];
  #waitRow: number[] = [];
  #waitHead = 0;
  #held = 0;
  #ctx!: OperatorContext<Schema, typeof ScoreSides>;
  readonly #batcher: MicroBatcher;
  readonly #classes: string[];
  retries = 0;
  /** rows an incremental model prefilled (cold keys) and stepped (warm keys) */
  prefilled = 0;
  stepped = 0;

  constructor(protected readonly cfg: ScoreConfig<Schema>, policy: ReturnType<typeof resolvePolicy>, private readonly maxPending: number, private readonly scoreOutput: string, private readonly shared?: Encoder<Schema>) {
    this.#classes = cfg.slot.live.model.manifest.classes ?? [];
    this.#batcher = new MicroBatcher(policy, new LatencyModel(cfg.slot.live.warmupUs), {
      now: () => performance.now() * 1000,
      idleWorkers: () => cfg.slot.live.idle,
      dispatch: (n) => this.#dispatch(n),
    });
    this.#timedPool = cfg.slot.live;
    this.#keepsVectors = (cfg.keepOutputs?.length ?? 0) > 0;
  }
  /** the pool the latency model was measured on; a hot swap brings its own warm-up timings */
  #timedPool: InferencePool;
  /** records carry meta.vectors (kept outputs, or what the encoder returns) */
  #keepsVectors: boolean;

  process(batch: Batch<Schema>, ctx: OperatorContext<Schema, typeof ScoreSides>): void {
    this.#ctx = ctx;
    this.expire(ctx.watermark);
    const n = batch.length;
    const p: Pending = {
      batch, score: new Float64Array(n).fill(NaN), labelIdx: new Int32Array(n).fill(-1), labelProb: new Float64Array(n).fill(NaN),
      model: new Array<string>(n).fill(''), shadowScore: new Float64Array(n).fill(NaN), shadowModel: new Array<string>(n).fill(''),
      dead: new Array(n), vectors: this.#keepsVectors ? new Array(n).fill(null) : undefined, remaining: n,
    };
    this.#entries.push({ p });
    for (let i = 0; i < n; i++) { this.#waitP.push(p); this.#waitRow.push(i); }
    this.#held += n;
    this.#batcher.add(n, performance.now() * 1000);
  }

  canAccept(): boolean { return this.#held < this.maxPending; }
  inFlight(): number { return this.#held; }
  flush(): void { this.#batcher.flush(); }

  onWatermark(wm: number): number {
    if (this.#entryHead === this.#entries.length) return wm;
    this.#entries.push({ wm });
    return -Infinity; // forwarded by #drain once the records before it have left
  }

  close(): void { this.#batcher.flush(); }

  /** send the oldest n waiting rows to the live model (and the shadow) */
  #dispatch(n: number): void {
    const live = this.cfg.slot.live;
    if (live !== this.#timedPool) { this.#timedPool = live; this.#batcher.latency = new LatencyModel(live.warmupUs); }
    const specs = live.model.manifest.inputs;
    const dst = live.rowWidths().map((w) => new Float32Array(w * n)); // the encoders' widths (checked at build)
    const rowsP = this.#waitP.slice(this.#waitHead, this.#waitHead + n);
    const rowsI = this.#waitRow.slice(this.#waitHead, this.#waitHead + n);
    this.#waitHead += n;
    // spent slots must not keep their records alive (src/queue.ts says what that cost)
    if (this.#waitHead === this.#waitP.length) { this.#waitP.length = 0; this.#waitRow.length = 0; this.#waitHead = 0; }
    else if (this.#waitHead > 4096 && this.#waitHead * 2 > this.#waitP.length) {
      this.#waitP = this.#waitP.slice(this.#waitHead); this.#waitRow = this.#waitRow.slice(this.#waitHead); this.#waitHead = 0;
    }
    // an incremental model on key-affine workers: each row's key and event number go along,
    // so a key whose state its worker holds costs one step, not a re-encode of its window
    // (the key names its partition: encoders are per partition, and a key may recur in another)
    let keys: string[] | undefined, seqs: Float64Array | undefined;
    for (let k = 0; k < n; k++) {
      const b = rowsP[k].batch;
      const enc = this.encoderFor(b);
      const extra = enc.encode(b, rowsI[k], dst, k);
      if (extra && rowsP[k].vectors) rowsP[k].vectors![rowsI[k]] = extra;
      if (k === 0 && live.keyed && enc.lastKey && enc.lastSeq) { keys = new Array<string>(n); seqs = new Float64Array(n); }
      if (keys) { keys[k] = partitionName(b.meta) + '\u0001' + enc.lastKey!(); seqs![k] = enc.lastSeq!(); }
    }
    // what crosses into the worker is an Arrow record batch (wire form): one fixed-size-list
    // column per model input, its child buffer the encoder's packed rows (transferred, not copied)
    const batchOf = (arrays: Float32Array[]) => inputBatch(specs, arrays, n);
    const shadow = this.cfg.slot.shadow;
    const shadowRun = shadow ? shadow.runBatch(batchOf(dst.map((a) => a.slice()))) : undefined;
    // the inputs are transferred to the worker: keep a copy for the retry, since a worker
    // thread that dies mid-batch cannot hand them back (re-encoding would advance keyed state twice)
    const kept = live.placement === 'inline' ? dst : dst.map((a) => a.slice()); // inline: nothing is transferred
    const t0 = performance.now();
    const first: Promise<InferResult> = keys
      ? live.runKeyed(keys, seqs!, dst[0]).then((r) => { this.prefilled += r.prefilled; this.stepped += r.stepped; return r; })
      : live.runBatch(batchOf(dst));
    first.then(
      // the latency model sizes batches for the workers: a small batch run inline (no hop) would make it optimistic
      (r) => { if (!r.inline) this.#batcher.latency.observe(n, (performance.now() - t0) * 1000); return r; },
      () => {
        // retry once, on whatever version is live now (stateless: whole windows; a keyed
        // pool forgets the failed task's keys, so their next events are prefilled)
        this.retries++;
        return this.cfg.slot.live.runBatch(batchOf(kept)).then((r) => ({ ...r, retriedOn: this.cfg.slot.live }));
      },
    ).then(
      (r: InferResult & { retriedOn?: InferencePool }) => this.#complete(rowsP, rowsI, r, (r.retriedOn ?? live).id),
      (e: Error) => this.#deadLetter(rowsP, rowsI, e),
    ).then(async () => {
      if (!shadowRun) return;
      const shadowId = shadow!.id;
      try {
        const r = await shadowRun;
        const out = r.outputs[this.scoreOutput].data as Float32Array;
        for (let k = 0; k < n; k++) { rowsP[k].shadowScore[rowsI[k]] = out[k]; rowsP[k].shadowModel[rowsI[k]] = shadowId; }
      } catch { /* a failing shadow never holds back live scores: its scores stay NaN */ }
    }).then(() => {
      for (let k = 0; k < n; k++) rowsP[k].remaining--;
      this.#drain();
      this.#batcher.poll(); // a worker is free again
    }).catch((e) => this.#ctx.fail(e));
  }

  #complete(rowsP: Pending[], rowsI: number[], r: InferResult, version: string): void {
    const scores = r.outputs[this.scoreOutput].data as Float32Array;
    const per = scores.length / rowsP.length;
    const logits = this.cfg.classOutput ? r.outputs[this.cfg.classOutput].data as Float32Array : undefined;
    const c = this.#classes.length;
    const kept = (this.cfg.keepOutputs ?? []).map((o) => [o, r.outputs[o].data as Float32Array] as const);
    for (let k = 0; k < rowsP.length; k++) {
      const p = rowsP[k], i = rowsI[k];
      if (p.vectors && kept.length > 0) {
        const v = (p.vectors[i] ??= {});
        for (const [o, data] of kept) { const w = data.length / rowsP.length; v[o] = data.subarray(k * w, (k + 1) * w); }
      }
      p.score[i] = scores[k * per];
      p.model[i] = version;
      if (logits) {
        let best = 0, max = -Infinity, sum = 0;
        for (let j = 0; j < c; j++) if (logits[k * c + j] > max) { max = logits[k * c + j]; best = j; }
        for (let j = 0; j < c; j++) sum += Math.exp(logits[k * c + j] - max);
        p.labelIdx[i] = best;
        p.labelProb[i] = 1 / sum;
      }
    }
  }

  #deadLetter(rowsP: Pending[], rowsI: number[], e: Error): void {
    const code = (e as { code?: string }).code ?? InferenceCode.INFERENCE;
    for (let k = 0; k < rowsP.length; k++) rowsP[k].dead[rowsI[k]] = `${code}\u0000${e.message}`;
  }

  /** emit finished batches and the watermarks behind them, in arrival order */
  #drain(): void {
    const ctx = this.#ctx;
    let emitted = false;
    while (this.#entryHead < this.#entries.length) {
      const e = this.#entries[this.#entryHead];
      if ('wm' in e) { ctx.emitWatermark(e.wm); this.#entryHead++; emitted = true; continue; }
      const p = e.p;
      if (p.remaining > 0) break;
      this.#entryHead++;
      this.#held -= p.batch.length;
      this.#emit(p, ctx);
      emitted = true;
    }
    if (this.#entryHead === this.#entries.length) { this.#entries.length = 0; this.#entryHead = 0; }
    else if (this.#entryHead > 1024 && this.#entryHead * 2 > this.#entries.length) { this.#entries.splice(0, this.#entryHead); this.#entryHead = 0; }
    if (emitted) ctx.wake();
  }

  #emit(p: Pending, ctx: OperatorContext<Schema, typeof ScoreSides>): void {
    const b = p.batch;
    const n = b.length;
    const keep: number[] = [];
    const dead = new DeadLetters(ctx);
    for (let i = 0; i < n; i++) {
      const why = p.dead[i];
      if (why === undefined) { keep.push(i); continue; }
      const [code, reason] = why.split('\u0000');
      // the row as the model saw it (parsed fields), from its partition: it has no source offset any more
      dead.add(code, reason, JSON.stringify(b.row(i)), b.meta);
    }
    dead.emit(ctx, b.meta);
    if (keep.length === 0) return;
    const src = keep.length === n ? b : b.select(keep);
    const pick = <T extends { [i: number]: unknown; length: number }>(a: T, make: (m: number) => T): T => {
      if (keep.length === n) return a;
      const out = make(keep.length);
      for (let j = 0; j < keep.length; j++) out[j] = a[keep[j]];
      return out;
    };
    const label = new Array<string>(keep.length);
    const idx = pick(p.labelIdx, (m) => new Int32Array(m));
    for (let j = 0; j < keep.length; j++) label[j] = idx[j] >= 0 ? this.#classes[idx[j]] : '';
    const columns = {
      ...src.columns,
      score: pick(p.score, (m) => new Float64Array(m)),
      label,
      labelProb: pick(p.labelProb, (m) => new Float64Array(m)),
      model: pick(p.model, (m) => new Array<string>(m)),
      shadowScore: pick(p.shadowScore, (m) => new Float64Array(m)),
      shadowModel: pick(p.shadowModel, (m) => new Array<string>(m)),
    };
    const meta = p.vectors ? { ...src.meta, vectors: keep.length === n ? p.vectors : keep.map((i) => p.vectors![i]) } : src.meta;
    ctx.emit(new Batch({ ...src.schema, ...ScoreColumns }, keep.length, columns as never, meta));
  }

  /** the encoder for a batch's records (one for every partition here; per partition in the subclass) */
  protected encoderFor(_batch: Batch<Schema>): Encoder<Schema> { return this.shared!; }
  /** drop keyed state idle beyond its TTL as of the watermark (once per batch) */
  protected expire(watermark: number): void { this.shared!.expire?.(watermark); }

  snapshot(): unknown { return this.shared!.snapshot?.() ?? null; }
  restore(state: unknown): void { if (state !== null) this.shared!.restore?.(state); this.forgetModelState(); }
  /** the encoders' rings changed (restore, a partition adopted or dropped): cached model state must be rebuilt from them */
  protected forgetModelState(): void { this.cfg.slot.live.forgetKeys(); this.cfg.slot.shadow?.forgetKeys(); }
  get boundedState(): boolean { return this.shared!.stateStats !== undefined; }
  stateStats(): StateStats { return this.shared!.stateStats?.() ?? { keys: 0, expired: 0, evicted: 0 }; }
}

/**
 * Scoring with one encoder per source partition (an encoder factory: a key's sequence is
 * keyed state). The partitions' encoders are kept by PartitionInstances, the same
 * bookkeeping the runtime's PartitionedOperator uses for keyed operators: saved, loaded
 * and dropped with their partition, records read before a partition moved dropped. One
 * stage instance serves every partition so that a model batch can hold rows of several.
 */
class PartitionScopedScoreOperator extends ScoreOperator implements PartitionScoped {
  readonly #parts: PartitionInstances<Encoder<Schema>>;
  readonly #bounded: boolean;

  constructor(cfg: ScoreConfig<Schema>, policy: ReturnType<typeof resolvePolicy>, maxPending: number, scoreOutput: string, make: () => Encoder<Schema>) {
    super(cfg, policy, maxPending, scoreOutput);
    this.#parts = new PartitionInstances(make, {
      snapshot: (e) => e.snapshot?.() ?? null,
      restore: (e, st) => e.restore?.(st),
      stats: (e) => e.stateStats?.(),
    });
    this.#bounded = make().stateStats !== undefined;
  }

  get revoked(): Set<string> { return this.#parts.revoked; }

  override process(batch: Batch<Schema>, ctx: OperatorContext<Schema, typeof ScoreSides>): void {
    if (!this.#parts.forBatch(batch.meta)) { ctx.dropped('partition-moved', batch.length); return; }
    super.process(batch, ctx);
  }

  protected override encoderFor(batch: Batch<Schema>): Encoder<Schema> { return this.#parts.get(partitionName(batch.meta)); }
  protected override expire(watermark: number): void { for (const e of this.#parts.values()) e.expire?.(watermark); }

  override snapshot(): Record<string, unknown> { return this.#parts.snapshot(); }
  override restore(state: unknown): void { this.#parts.restore(state); this.forgetModelState(); }
  adopt(name: string, state: unknown, epoch: number): void { this.#parts.adopt(name, state, epoch); this.forgetModelState(); }
  drop(name: string): void { this.#parts.drop(name); this.forgetModelState(); }
  override get boundedState(): boolean { return this.#bounded; }
  override stateStats(): StateStats { return this.#parts.stats(); }
}
