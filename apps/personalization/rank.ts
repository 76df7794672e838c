/**
 * Ranking: the retrieval stage's candidates become the push list — re-ranked for
 * variety (at most `maxPerTag` items sharing a first tag, when set), cut to `size`,
 * each item with a one-line reason saying what drove it:
 *
 *   - the recent event whose item contributes most to the item's score: the user
 *     encoder's attention on that event × how close the two items' vectors are (over
 *     the 8 events the encoder attended to most)
 *     ("because you rated “Star Wars (1977)”");
 *   - "similar in content to …" instead when the item's vector comes mostly from its
 *     text and the team's vector rather than its ID (the fusion weights say so);
 *   - "new: " in front for items the model never trained on (content only);
 *   - with no usable history: "matches your profile" (known profile) or "fits your recent
 *     activity".
 *
 * Output: one push per record, per push.schema.json (items as a JSON array text).
 */
import { rejectUnknown } from '../../src/config.js';
import { BatchBuilder, type Batch, type Schema } from '../../src/batch.js';
import { ConfigError } from '../../src/errors.js';
import type { OperatorContext, OperatorDef } from '../../src/operator.js';
import type { ItemCatalogue } from './catalogue.js';
import { ACTIONS } from './user-sequence.js';

export const PushSchema = {
  ts: 'f64',
  emittedAt: 'f64',
  userId: 'str',
  /** JSON array of {itemId, score, reason}, best first */
  items: 'str',
  modelVersion: 'str',
  /** how many items the push holds */
  size: 'i32',
} as const satisfies Schema;
export type PushSchema = typeof PushSchema;

export interface RankConfig {
  catalogue: ItemCatalogue;
  /** items per push (default 10) */
  size?: number;
  /** at most this many items sharing their first tag (default: no limit) */
  maxPerTag?: number;
  /** whether the user has a known profile (cold-start reasons) */
  hasProfile?: (userId: string) => boolean;
}

/** reasons weigh the events the encoder attended to most (the rest carry little weight; 8 keeps reasons cheap) */
const REASON_EVENTS = 8;

/** positions of the k largest attention weights on real events */
function topAttention(v: Record<string, Float32Array>, k: number): number[] {
  const att = v.attention, items = v.items;
  if (!att || !items) return [];
  const idx: number[] = [];
  for (let j = 0; j < att.length; j++) if (items[j] > 0) idx.push(j);
  idx.sort((a, b) => att[b] - att[a]);
  return idx.slice(0, k);
}

const VERB: Record<string, string> = { impression: 'saw', view: 'watched', click: 'opened', like: 'liked', comment: 'commented on', share: 'shared', skip: 'skipped', rate: 'rated', purchase: 'bought' };

export function rank<I extends Schema & { ts: 'f64'; userId: 'str'; model: 'str' }>(cfg: RankConfig): OperatorDef<I, PushSchema> {
  rejectUnknown('rank', cfg, ['catalogue', 'size', 'maxPerTag', 'hasProfile']);
  const size = cfg.size ?? 10;
  if (!Number.isInteger(size) || size < 1) throw new ConfigError(`rank: size must be a positive integer, got ${String(size)}`);
  if (cfg.maxPerTag !== undefined && (!Number.isInteger(cfg.maxPerTag) || cfg.maxPerTag < 1)) throw new ConfigError(`rank: maxPerTag must be a positive integer, got ${String(cfg.maxPerTag)}`);
  return { kind: 'rank', output: PushSchema, sides: {}, keyed: false, create: () => new Ranker(cfg, size) as never };
}

class Ranker {
  constructor(private readonly cfg: RankConfig, private readonly size: number) {}

  process(batch: Batch<Schema & { ts: 'f64'; userId: 'str'; model: 'str' }>, ctx: OperatorContext<PushSchema>): void {
    const out = new BatchBuilder(PushSchema, batch.length);
    const keys: string[] | undefined = batch.meta.keys ? [] : undefined;
    const now = ctx.clock.now();
    for (let i = 0; i < batch.length; i++) {
      const v = batch.meta.vectors?.[i];
      const cand = v?.candidates;
      if (!cand || cand.length === 0) continue; // nothing left to recommend (all consumed or filtered)
      const picked = this.#pick(cand, v!.candidateScores!);
      const drivers = topAttention(v!, REASON_EVENTS);
      const parts: string[] = [];
      for (const [row, score] of picked) {
        parts.push(`{"itemId":${JSON.stringify(this.cfg.catalogue.ids[row])},"score":${Number.isFinite(score) ? Number(score.toFixed(4)) : 0},"reason":${JSON.stringify(this.reasonFor(row, v!, batch.columns.userId[i], drivers))}}`);
      }
      out.push({ ts: batch.columns.ts[i], emittedAt: now, userId: batch.columns.userId[i], items: `[${parts.join(',')}]`, modelVersion: batch.columns.model[i], size: picked.length });
      keys?.push(batch.meta.keys![i]);
    }
    if (out.length > 0) ctx.emit(out.finish({ ...batch.meta, keys, vectors: undefined, headers: undefined, timestamps: undefined }));
  }

  #pick(cand: Float32Array, scores: Float32Array): [number, number][] {
    const out: [number, number][] = [];
    const perTag = new Map<string, number>();
    const cap = this.cfg.maxPerTag;
    for (let j = 0; j < cand.length && out.length < this.size; j++) {
      const row = cand[j];
      if (cap !== undefined) {
        const t = this.cfg.catalogue.tags[row]?.[0];
        if (t !== undefined) {
          const c = perTag.get(t) ?? 0;
          if (c >= cap) continue;
          perTag.set(t, c + 1);
        }
      }
      out.push([row, scores[j]]);
    }
    return out;
  }

  /** one line: which recent event (or content, or profile) drove this item */
  reasonFor(row: number, v: Record<string, Float32Array>, userId: string, drivers: number[] = topAttention(v, REASON_EVENTS)): string {
    const cat = this.cfg.catalogue, d = cat.d, V = cat.vectors;
    const items = v.items, actions = v.actions, att = v.attention;
    const fresh = cat.weights[row * 3] < 0.01 ? 'new: ' : '';
    let best = -1, bestC = 0;
    if (items && att) {
      for (const j of drivers) {
        const r = items[j];
        if (r <= 0 || r === row) continue;
        let dot = 0;
        for (let x = 0; x < d; x++) dot += V[r * d + x] * V[row * d + x];
        const c = att[j] * dot;
        if (c > bestC) { bestC = c; best = j; }
      }
    }
    if (best < 0) return fresh + (this.cfg.hasProfile?.(userId) ? 'matches your profile' : 'fits your recent activity');
    const contentLed = cat.weights[row * 3] < cat.weights[row * 3 + 1] + cat.weights[row * 3 + 2];
    const src = `“${cat.label(items![best])}”`;
    if (contentLed) return `${fresh}similar in content to ${src}`;
    const a = ACTIONS[(actions?.[best] ?? 0) - 1];
    return `${fresh}because you ${a ? VERB[a] : 'chose'} ${src}`;
  }
}

/** push.schema.json JSON for one output row (items are already JSON) */
export function pushJson(row: { ts: number; emittedAt: number; userId: string; items: string; modelVersion: string }): string {
  return `{"ts":${Math.round(row.ts)},"emittedAt":${Math.round(row.emittedAt)},"userId":${JSON.stringify(row.userId)},"items":${row.items},"modelVersion":${JSON.stringify(row.modelVersion)}}`;
}

/** pushJson for row i of a batch: the serializer file and Kafka sinks take */
export function pushLine(b: Batch<PushSchema>, i: number): string {
  const c = b.columns;
  return pushJson({ ts: c.ts[i], emittedAt: c.emittedAt[i], userId: c.userId[i], items: c.items[i], modelVersion: c.modelVersion[i] });
}
