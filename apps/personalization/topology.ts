/**
 * Live personalization: behaviour events → parse → watermarks → key by user → user
 * encoder on the worker pool (each user's last L events as fused item vectors, with
 * behaviour type, time gaps and the static profile) → candidate retrieval (top-K inner
 * product over the catalogue, consumed items and filtered items left out) → ranking
 * (variety cap, reasons) → pushes (push.schema.json); bad records and records the model
 * could not score go to dead letters.
 *
 * Side inputs: an item catalogue stream (new or changed items get content vectors and
 * are recommendable at once), a profiles stream (static user features), and a feedback
 * stream (impressions/clicks on pushes → online metrics).
 *
 * The models are opened by the caller (they start worker threads): `openRecommender`,
 * and close it after the run.
 */
import type { StateBounds } from '../../src/state.js';
import { BehaviorSchema } from '../../src/contracts.js';
import type { RawSchema, SinkDef, SourceDef } from '../../src/io.js';
import { DeadLetterSchema } from '../../src/operator.js';
import { TopologyBuilder, type Topology } from '../../src/topology.js';
import { ModelRegistry } from '../../src/inference/registry.js';
import { ModelSlot } from '../../src/inference/slot.js';
import type { PoolOptions } from '../../src/inference/pool.js';
import type { BatchPolicy } from '../../src/inference/batcher.js';
import { ItemCatalogue, type CatalogueItem } from './catalogue.js';
import { ProfileStore, type UserProfile } from './profiles.js';
import { PushFeedback } from './feedback.js';
import { parse } from '../../operators/parse.js';
import { parseJsonRecords, type JsonRecordSchema } from '../../operators/parse-json.js';
import { shedStale } from '../../operators/shed.js';
import { watermarks } from '../../operators/watermarks.js';
import { score } from '../../operators/score.js';
import { UserSequenceEncoder } from './user-sequence.js';
import { retrieve, type RetrievalFilter } from './retrieve.js';
import { rank, PushSchema } from './rank.js';

export interface Recommender {
  slot: ModelSlot;
  catalogue: ItemCatalogue;
  profiles: ProfileStore;
  close(): Promise<void>;
}

/**
 * Open a model family: `<family>-user` (user encoder, on `pool`: by default cores − 1
 * workers) and `<family>-items` (item tower) with the text encoder, then embed the
 * catalogue and load the profiles given.
 */
export async function openRecommender(o: { family?: string; version?: string; registry?: ModelRegistry; pool?: PoolOptions; catalogue?: CatalogueItem[]; profiles?: UserProfile[] } = {}): Promise<Recommender> {
  const registry = o.registry ?? new ModelRegistry();
  const family = o.family ?? 'movielens';
  const user = registry.load(`${family}-user`, o.version);
  const items = registry.load(`${family}-items`, o.version);
  const catalogue = await ItemCatalogue.open(items, { registry });
  let slot: ModelSlot | undefined;
  try {
    if (o.catalogue) await catalogue.upsert(o.catalogue);
    slot = await ModelSlot.open(user, o.pool ?? {}, registry);
  } catch (e) { await catalogue.close(); throw e; }
  const profiles = new ProfileStore();
  for (const p of o.profiles ?? []) profiles.put(p);
  return { slot, catalogue, profiles, close: async () => { await Promise.all([slot!.close(), catalogue.close()]); } };
}

export interface PersonalizationOptions {
  events: SourceDef<RawSchema>;
  recommender: Recommender;
  pushes: SinkDef<PushSchema>;
  deadLetters: SinkDef<DeadLetterSchema>;
  /** item catalogue records (item-catalogue contract) */
  catalogue?: SourceDef<RawSchema>;
  /** user profiles (user-profile contract) */
  profiles?: SourceDef<RawSchema>;
  /** behaviour on pushed items (impressions, clicks) → `feedbackStats` */
  feedback?: SourceDef<RawSchema>;
  feedbackStats?: PushFeedback;
  /** candidates retrieved per event (default 50) */
  candidates?: number;
  filter?: RetrievalFilter;
  /** items per push (default 10) */
  size?: number;
  maxPerTag?: number;
  policy?: BatchPolicy;
  maxOutOfOrdernessUs?: number;
  /**
   * Load shedding, off unless set: events whose event time is more than `maxAgeMs` behind
   * processing time are dropped before the model (counted as
   * sluice_dropped_records_total{reason="shed"}); a shed event never enters its user's sequence
   */
  shed?: { maxAgeMs: number };
  /** bounds on the users whose sequences are held (default PersonalizationStateBounds) */
  state?: StateBounds;
}

/** Default: a user idle for 30 days of event time is forgotten; at most 1,000,000 users held per source partition (~1 KB each). */
export const PersonalizationStateBounds: StateBounds = { ttlUs: 30 * 86_400e6, maxKeys: 1_000_000 };

export function personalizationTopology(o: PersonalizationOptions): Topology {
  const t = new TopologyBuilder('personalization');
  const r = o.recommender;
  const parsed = t.source('events', o.events).via('parse', parse({ format: 'json', contract: 'behavior-event' }));
  // one encoder per source partition: each partition's users are saved, loaded and dropped with it
  const encoder = () => new UserSequenceEncoder(r.slot.live.model.manifest, r.catalogue, r.profiles, o.state ?? PersonalizationStateBounds);
  const timed = parsed.via('watermarks', watermarks<BehaviorSchema>({ timestamp: 'ts', maxOutOfOrdernessUs: o.maxOutOfOrdernessUs ?? 5_000_000 }));
  const scored = (o.shed ? timed.via('shed', shedStale<BehaviorSchema>({ maxAgeMs: o.shed.maxAgeMs })) : timed)
    .keyBy('by-user', (c, i) => c.userId[i])
    .via('user-encoder', score({ slot: r.slot, encoder, scoreOutput: 'user', keepOutputs: ['user', 'attention'], policy: o.policy ?? { kind: 'deadline', budgetMs: 2 } }));
  const pushes = scored
    .keyBy('rekey', (c, i) => c.userId[i])
    .via('retrieve', retrieve({ catalogue: r.catalogue, k: o.candidates ?? 50, ...(o.filter ? { filter: o.filter } : {}) }))
    .via('rank', rank({ catalogue: r.catalogue, size: o.size ?? 10, ...(o.maxPerTag ? { maxPerTag: o.maxPerTag } : {}), hasProfile: (u) => r.profiles.get(u) !== undefined }));
  pushes.to('pushes-out', o.pushes);
  if (o.feedbackStats) pushes.to('push-log', o.feedbackStats.pushSink());
  let dead = parsed.side('dead').union('model-dead-letters', scored.side('dead'));
  if (o.catalogue) {
    const c = t.source('catalogue', o.catalogue).via('parse-catalogue', parseJsonRecords({
      contract: 'item-catalogue', keyField: 'itemId',
      check: (it) => (Array.isArray(it.vector) && it.vector.length !== r.catalogue.extraWidth ? `field 'vector' has ${it.vector.length} values; the item tower ${r.catalogue.items.id} takes ${r.catalogue.extraWidth}` : undefined),
    }));
    c.to('catalogue-upserts', catalogueSink(r.catalogue));
    dead = dead.union('catalogue-dead-letters', c.side('dead'));
  }
  if (o.profiles) {
    const p = t.source('profiles', o.profiles).via('parse-profiles', parseJsonRecords({ contract: 'user-profile', keyField: 'userId' }));
    p.to('profile-updates', profileSink(r.profiles));
    dead = dead.union('profile-dead-letters', p.side('dead'));
  }
  if (o.feedback) {
    const stats = o.feedbackStats ?? new PushFeedback();
    const f = t.source('feedback', o.feedback).via('parse-feedback', parse({ format: 'json', contract: 'behavior-event' }));
    f.to('feedback-metrics', stats.feedbackSink());
    dead = dead.union('feedback-dead-letters', f.side('dead'));
  }
  dead.to('dead-letters', o.deadLetters);
  return t.build();
}

/** Catalogue records → the catalogue (embedded on the pools; the sink acknowledges when the vectors are in) */
export function catalogueSink(catalogue: ItemCatalogue): SinkDef<JsonRecordSchema> {
  return {
    kind: 'catalogue-upsert',
    open: async () => ({
      write: (b) => catalogue.upsert(b.columns.json.map((j) => JSON.parse(j) as CatalogueItem)),
      close: async () => {},
    }),
  };
}

export function profileSink(profiles: ProfileStore): SinkDef<JsonRecordSchema> {
  return {
    kind: 'profile-update',
    open: async () => ({
      write: (b) => { for (const j of b.columns.json) profiles.put(JSON.parse(j) as UserProfile); },
      close: async () => {},
    }),
  };
}

