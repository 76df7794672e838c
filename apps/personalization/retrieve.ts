/**
 * Candidate retrieval: the top-K catalogue items by inner product with the record's user
 * vector (meta.vectors.user, from the scoring stage), leaving out items the user already
 * consumed and items the configured filters reject. Candidates ride on in meta.vectors
 * (`candidates`: catalogue rows, `candidateScores`), best first.
 *
 * Keyed by user: the consumed set is per-user state (bounded: the most recent
 * `maxConsumed` items), snapshotted. The record's own item counts as consumed before
 * retrieval (the user has just seen it).
 */
import { rejectUnknown } from '../../src/config.js';
import type { Batch, Schema } from '../../src/batch.js';
import { ConfigError } from '../../src/errors.js';
import type { OperatorContext, OperatorDef } from '../../src/operator.js';
import type { ItemCatalogue } from './catalogue.js';

export interface RetrievalFilter {
  /** never recommend items carrying any of these tags */
  excludeTags?: string[];
  /** only recommend items carrying at least one of these tags */
  requireTags?: string[];
  /** never recommend these item ids */
  excludeItems?: string[];
}

export interface RetrieveConfig {
  catalogue: ItemCatalogue;
  /** candidates per record (default 50) */
  k?: number;
  filter?: RetrievalFilter;
  /** consumed items remembered per user (default 5,000) */
  maxConsumed?: number;
}

export function retrieve<I extends Schema & { userId: 'str'; itemId: 'str' }>(cfg: RetrieveConfig): OperatorDef<I, I> & { readonly keyed: true } {
  rejectUnknown('retrieve', cfg, ['catalogue', 'k', 'filter', 'maxConsumed']);
  const k = cfg.k ?? 50;
  const maxConsumed = cfg.maxConsumed ?? 5000;
  if (!Number.isInteger(k) || k < 1) throw new ConfigError(`retrieve: k must be a positive integer, got ${String(k)}`);
  if (!Number.isInteger(maxConsumed) || maxConsumed < 1) throw new ConfigError(`retrieve: maxConsumed must be a positive integer, got ${String(maxConsumed)}`);
  return { kind: 'retrieve', output: (input: Schema) => input as I, sides: {}, keyed: true as const, create: () => new Retriever(cfg.catalogue, k, maxConsumed, cfg.filter ?? {}) as never };
}

class Retriever {
  readonly #consumed = new Map<string, Set<string>>();
  #allowed = new Uint8Array(0);
  #allowedVersion = -1;

  constructor(private readonly cat: ItemCatalogue, private readonly k: number, private readonly maxConsumed: number, private readonly filter: RetrievalFilter) {}

  /** rows the filters allow, recomputed when the catalogue changes */
  #allowedRows(): Uint8Array {
    if (this.#allowedVersion === this.cat.version) return this.#allowed;
    const n = this.cat.ids.length;
    const a = new Uint8Array(n);
    const ex = new Set(this.filter.excludeTags ?? []), req = this.filter.requireTags ? new Set(this.filter.requireTags) : undefined;
    const exItems = new Set(this.filter.excludeItems ?? []);
    for (let r = 1; r < n; r++) {
      const tags = this.cat.tags[r] ?? [];
      a[r] = exItems.has(this.cat.ids[r]) || tags.some((t) => ex.has(t)) || (req !== undefined && !tags.some((t) => req.has(t))) ? 0 : 1;
    }
    this.#allowed = a; this.#allowedVersion = this.cat.version;
    return a;
  }

  process(batch: Batch<Schema & { userId: 'str'; itemId: 'str' }>, ctx: OperatorContext<Schema>): void {
    const vectors = batch.meta.vectors;
    if (!vectors) throw new ConfigError('retrieve: records carry no user vector (meta.vectors.user); put a scoring stage with keepOutputs: [\'user\'] before it');
    const allowed = this.#allowedRows();
    const cat = this.cat, n = cat.ids.length;
    for (let i = 0; i < batch.length; i++) {
      const user = batch.columns.userId[i];
      let seen = this.#consumed.get(user);
      if (!seen) { seen = new Set(); this.#consumed.set(user, seen); }
      seen.delete(batch.columns.itemId[i]); seen.add(batch.columns.itemId[i]);
      if (seen.size > this.maxConsumed) seen.delete(seen.values().next().value!);
      const u = vectors[i]?.user;
      if (!u) continue;
      // inner products over the whole catalogue, then the best k allowed and unseen
      const s = cat.table.innerProducts(u, n);
      const top = new Int32Array(this.k).fill(0), topS = new Float32Array(this.k).fill(-Infinity);
      let filled = 0;
      for (let r = 1; r < n; r++) {
        const v = s[r];
        if (allowed[r] === 0 || (filled === this.k && v <= topS[this.k - 1])) continue;
        if (seen.has(cat.ids[r])) continue;
        // insertion into the sorted top list (k is small)
        let p = Math.min(filled, this.k - 1);
        while (p > 0 && topS[p - 1] < v) { topS[p] = topS[p - 1]; top[p] = top[p - 1]; p--; }
        topS[p] = v; top[p] = r;
        if (filled < this.k) filled++;
      }
      const cand = new Float32Array(filled), candScore = new Float32Array(filled);
      for (let j = 0; j < filled; j++) { cand[j] = top[j]; candScore[j] = topS[j]; }
      vectors[i] = { ...vectors[i], candidates: cand, candidateScores: candScore };
    }
    ctx.emit(batch);
  }

  snapshot(): unknown { return Object.fromEntries([...this.#consumed].map(([u, s]) => [u, [...s]])); }
  restore(state: unknown): void {
    this.#consumed.clear();
    for (const [u, items] of Object.entries(state as Record<string, string[]>)) this.#consumed.set(u, new Set(items));
  }
}

