/**
 * The item catalogue: every recommendable item's fused vector (the item tower's output),
 * its modality weights (how much the ID embedding, the text and the team's own vector
 * each contributed: read out for reasons and model cards), its text and tags.
 *
 * Items the model was trained on (its items.txt) start with their ID embedding alone;
 * catalogue records (item-catalogue contract) add text and vectors, or bring items the
 * model has never seen, which then get vectors from content alone and are recommendable
 * at once, without retraining. Text goes through the text encoder (models/text-encoder)
 * and both models run on worker pools, off the event loop.
 */
import { readFileSync, existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { ConfigError } from '../../src/errors.js';
import { InferencePool, type PoolOptions } from '../../src/inference/pool.js';
import type { ModelRef, ModelRegistry } from '../../src/inference/registry.js';
import { ModelShapeError } from '../../src/inference/errors.js';
import { WordPieceTokenizer } from './tokenizer.js';
import { VectorTable } from './vector-table.js';

export interface CatalogueItem {
  itemId: string;
  /** title, description, genres… (the text encoder's input) */
  text?: string;
  /** a precomputed modality vector (image/audio embedding, genre flags…), the model's `extra` width */
  vector?: number[];
  /** labels retrieval filters can match */
  tags?: string[];
}

export const MODALITIES = ['id', 'text', 'extra'] as const;

/**
 * Text embeddings by encoder and text, shared by every catalogue in the process: the
 * text encoder is the costly part of embedding a catalogue (MovieLens' 1,682 titles take
 * ~10 s on one core), and model variants over one catalogue share it.
 */
const textCache = new Map<string, Float32Array>();
const TEXT_CACHE_MAX = 200_000;

export class ItemCatalogue {
  /** vector width */
  readonly d: number;
  readonly extraWidth: number;
  readonly textWidth: number;
  /** row → itemId; row 0 is "no item" (zero vector) */
  readonly ids: string[] = [''];
  readonly tags: (readonly string[] | undefined)[] = [undefined];
  readonly texts: (string | undefined)[] = [undefined];
  /** the fused vectors, row × d, in WASM memory for retrieval's SIMD kernel */
  readonly table: VectorTable;
  weights: Float32Array;
  /** bumped on every change (retrieval caches its filter masks per version) */
  version = 0;
  readonly #rows = new Map<string, number>();
  readonly #vocab = new Map<string, number>();

  private constructor(readonly items: InferencePool, readonly text: InferencePool | undefined, readonly tokenizer: WordPieceTokenizer | undefined, vocab: string[]) {
    const m = items.model.manifest;
    const out = m.outputs.find((o) => o.name === 'vector');
    const extra = m.inputs.find((i) => i.name === 'extra');
    const textIn = m.inputs.find((i) => i.name === 'text');
    if (!out || !extra || !textIn || !m.inputs.some((i) => i.name === 'item') || !m.inputs.some((i) => i.name === 'mask')) {
      throw new ModelShapeError(items.id, 'an item tower takes item, text, extra and mask and returns vector');
    }
    this.d = out.shape[1];
    this.extraWidth = extra.shape[1];
    this.textWidth = textIn.shape[1];
    vocab.forEach((id, k) => this.#vocab.set(id, k + 1));
    this.table = new VectorTable(this.d, 1024);
    this.weights = new Float32Array(1024 * 3);
  }

  /**
   * Open the item tower (and the text encoder) on pools of one worker each (they work
   * only when the catalogue changes) and embed the model's own items by ID.
   */
  static async open(items: ModelRef, opts: { registry?: ModelRegistry; textModel?: ModelRef; pool?: PoolOptions } = {}): Promise<ItemCatalogue> {
    const vocabPath = join(dirname(items.path), 'items.txt');
    if (!existsSync(vocabPath)) throw new ConfigError(`item tower ${items.name}@${items.version} has no items.txt beside it (${vocabPath})`);
    const vocab = readFileSync(vocabPath, 'utf8').split('\n').filter((l) => l.length > 0);
    // run() only, which always goes to the workers: no session on this thread (inline-small.ts)
    const poolOpts: PoolOptions = { workers: 1, warmup: [1, 64], inlineSmallBatches: false, ...opts.pool };
    const textRef = opts.textModel ?? opts.registry?.load('text-encoder');
    const [pool, text] = await Promise.all([InferencePool.open(items, poolOpts), textRef ? InferencePool.open(textRef, poolOpts) : undefined]);
    const tok = textRef ? new WordPieceTokenizer(join(dirname(dirname(textRef.path)), 'vocab.txt'), textRef.manifest.inputs[0].shape[1]) : undefined;
    const cat = new ItemCatalogue(pool, text, tok, vocab);
    await cat.upsert(vocab.map((itemId) => ({ itemId })));
    return cat;
  }

  get size(): number { return this.ids.length - 1; }
  rowOf(itemId: string): number { return this.#rows.get(itemId) ?? 0; }
  /** whether the item has a trained ID embedding */
  known(itemId: string): boolean { return this.#vocab.has(itemId); }

  /** Add or update items (in chunks of 256) and compute their vectors. */
  async upsert(items: CatalogueItem[]): Promise<void> {
    for (let a = 0; a < items.length; a += 256) await this.#upsertChunk(items.slice(a, a + 256));
  }

  async #upsertChunk(items: CatalogueItem[]): Promise<void> {
    const n = items.length;
    if (n === 0) return;
    const E = this.extraWidth, T = this.textWidth;
    for (const it of items) {
      if (it.vector && it.vector.length !== E) throw new ConfigError(`catalogue item ${it.itemId}: vector has ${it.vector.length} values, the item tower ${this.items.id} takes ${E}`);
    }
    const textRows = items.map((it, k) => (it.text && this.text ? k : -1)).filter((k) => k >= 0);
    const text = new Float32Array(n * T);
    const cacheKey = (k: number) => `${this.text!.id}\u0000${items[k].text!}`;
    const toEmbed = textRows.filter((k) => {
      const hit = textCache.get(cacheKey(k));
      if (hit) text.set(hit, k * T);
      return !hit;
    });
    if (toEmbed.length > 0 && this.text && this.tokenizer) {
      const L = this.tokenizer.maxTokens;
      const ids = new Float32Array(toEmbed.length * L), mask = new Float32Array(toEmbed.length * L);
      toEmbed.forEach((k, j) => { const e = this.tokenizer!.encode(items[k].text!); ids.set(e.ids, j * L); mask.set(e.mask, j * L); });
      const r = await this.text.run({ ids: { data: ids, dims: [toEmbed.length, L] }, mask: { data: mask, dims: [toEmbed.length, L] } });
      const emb = r.outputs.embedding.data as Float32Array;
      if (emb.length / toEmbed.length !== T) throw new ModelShapeError(this.text.id, `text embedding of width ${emb.length / toEmbed.length}, the item tower takes ${T}`);
      toEmbed.forEach((k, j) => {
        const e = emb.slice(j * T, (j + 1) * T);
        text.set(e, k * T);
        if (textCache.size >= TEXT_CACHE_MAX) textCache.delete(textCache.keys().next().value!);
        textCache.set(cacheKey(k), e);
      });
    }
    const item = new Float32Array(n), extra = new Float32Array(n * E), mask = new Float32Array(n * 3);
    items.forEach((it, k) => {
      const v = this.#vocab.get(it.itemId) ?? 0;
      item[k] = v;
      if (it.vector) extra.set(it.vector, k * E);
      mask[k * 3] = v > 0 ? 1 : 0;
      mask[k * 3 + 1] = it.text && this.text ? 1 : 0; // the rows embedded above
      mask[k * 3 + 2] = it.vector ? 1 : 0;
    });
    const r = await this.items.run({ item: { data: item, dims: [n, 1] }, text: { data: text, dims: [n, T] }, extra: { data: extra, dims: [n, E] }, mask: { data: mask, dims: [n, 3] } });
    const vec = r.outputs.vector.data as Float32Array, w = r.outputs.weights.data as Float32Array;
    const d = this.d;
    items.forEach((it, k) => {
      let row = this.#rows.get(it.itemId);
      if (row === undefined) {
        row = this.ids.length;
        this.ids.push(it.itemId); this.tags.push(it.tags); this.texts.push(it.text);
        this.#rows.set(it.itemId, row);
        this.#grow(row + 1);
      } else {
        if (it.tags) this.tags[row] = it.tags;
        if (it.text) this.texts[row] = it.text;
      }
      this.vectors.set(vec.subarray(k * d, (k + 1) * d), row * d);
      this.weights.set(w.subarray(k * 3, (k + 1) * 3), row * 3);
    });
    this.version++;
  }

  /** row × d view of the vectors (re-read after upsert: growth moves it) */
  get vectors(): Float32Array { return this.table.rows; }

  #grow(rows: number): void {
    this.table.ensure(rows);
    if (rows * 3 <= this.weights.length) return;
    const w = new Float32Array(this.table.capacity * 3); w.set(this.weights); this.weights = w;
  }

  /** short label for reasons: the text's first part (a title), else the item id */
  label(row: number): string {
    const t = this.texts[row];
    return t ? t.split(' | ')[0] : this.ids[row];
  }

  async close(): Promise<void> { await Promise.all([this.items.close(), this.text?.close()]); }
}
