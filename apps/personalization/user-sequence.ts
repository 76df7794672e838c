/**
 * The user encoder's input, per behaviour event: the user's last L events (the new one
 * last) as fused item vectors from the catalogue, each with its behaviour type, the time
 * since the user's event before it and its value, plus the user's static profile.
 *
 * Keyed state: per user, a bounded ring of the last L events (catalogue row, action,
 * log gap, value) and the last event time; snapshotted with the scoring stage. Vectors
 * are read from the catalogue when the row is encoded, so a catalogue update reaches the
 * next event of every user holding that item. The encoder hands the rows it used to the
 * record (meta.vectors.items, .actions): the ranking stage names them in reasons.
 *
 * Feature definitions match models/tools/recmodel.py (action codes, value feature).
 */
import { checkBounds, entriesOf, KEYED, keyedEntries, KeyedStore, type KeyedEntries, type StateBounds, type StateStats } from '../../src/state.js';
import type { Batch } from '../../src/batch.js';
import { ConfigError } from '../../src/errors.js';
import type { BehaviorSchema } from '../../src/contracts.js';
import type { ModelManifest } from '../../src/inference/registry.js';
import { ModelShapeError } from '../../src/inference/errors.js';
import type { Encoder } from '../../operators/score.js';
import type { ItemCatalogue } from './catalogue.js';
import type { ProfileStore } from './profiles.js';

export const ACTIONS = ['impression', 'view', 'click', 'like', 'comment', 'share', 'skip', 'rate', 'purchase'] as const;
export const EVENT_FEATURES = ['action', 'logGapSeconds', 'value'] as const;

/** 1-based action code (0 is padding) */
export function actionCode(action: string): number { return ACTIONS.indexOf(action as (typeof ACTIONS)[number]) + 1; }

/** rate: stars / 5; view: watched fraction; otherwise 0; clamped to [0, 1] */
export function valueFeature(action: string, value: number): number {
  if (!Number.isFinite(value)) return 0;
  const v = action === 'rate' ? value / 5 : action === 'view' ? value : 0;
  return Math.min(1, Math.max(0, v));
}

interface UserState { rows: number[]; ev: number[]; lastTs: number }
type SavedUser = { items: string[]; ev: number[]; lastTs: number };

export class UserSequenceEncoder implements Encoder<BehaviorSchema> {
  readonly widths: readonly number[];
  readonly length: number;
  readonly d: number;
  readonly profileFeatures: readonly string[];
  readonly #users: KeyedStore<UserState>;
  /** events whose item the catalogue does not hold (encoded as a zero vector) */
  unknownItems = 0;

  /** @param state bounds on the users held (over this process's partitions; default: unbounded) */
  constructor(manifest: ModelManifest, readonly catalogue: ItemCatalogue, readonly profiles: ProfileStore, state?: StateBounds) {
    this.#users = new KeyedStore(checkBounds('userSequence', state));
    const [seq, events, profile] = ['seq', 'events', 'profile'].map((n) => manifest.inputs.find((i) => i.name === n));
    if (!seq || !events || !profile) throw new ModelShapeError(`${manifest.name}@${manifest.version}`, 'a user encoder takes seq, events and profile');
    this.length = seq.shape[1];
    this.d = seq.shape[2];
    if (this.d !== catalogue.d) throw new ModelShapeError(`${manifest.name}@${manifest.version}`, `user encoder takes item vectors of ${this.d}, the catalogue's item tower makes ${catalogue.d}`);
    const ef = manifest.features.events ?? [];
    if (ef.join(',') !== EVENT_FEATURES.join(',')) throw new ConfigError(`user encoder ${manifest.name}: event features must be ${EVENT_FEATURES.join(', ')}, the manifest says ${ef.join(', ')}`);
    this.profileFeatures = manifest.features.profile ?? [];
    if (this.profileFeatures.length !== profile.shape[1]) throw new ModelShapeError(`${manifest.name}@${manifest.version}`, 'profile features and input width differ');
    this.widths = [this.length * this.d, this.length * 3, profile.shape[1]];
  }

  get users(): number { return this.#users.size; }

  /** the user's history as catalogue rows, oldest first (tests, reasons) */
  history(userId: string): readonly number[] { return this.#users.get(userId)?.rows ?? []; }

  encode(batch: Batch<BehaviorSchema>, row: number, dst: Float32Array[], at: number): Record<string, Float32Array> {
    const c = batch.columns;
    const user = c.userId[row], action = c.action[row], ts = c.ts[row];
    const s = this.#users.touch(user, ts) ?? this.#users.add(user, { rows: [], ev: [], lastTs: NaN }, ts);
    const item = this.catalogue.rowOf(c.itemId[row]);
    if (item === 0) this.unknownItems++;
    const gapS = Number.isFinite(s.lastTs) ? Math.max(0, (ts - s.lastTs) / 1e6) : 0;
    s.lastTs = Number.isFinite(s.lastTs) ? Math.max(s.lastTs, ts) : ts;
    s.rows.push(item);
    s.ev.push(actionCode(action), Math.log1p(gapS), valueFeature(action, c.value[row]));
    if (s.rows.length > this.length) { s.rows.shift(); s.ev.splice(0, 3); }

    const L = this.length, d = this.d, n = s.rows.length, pad = L - n;
    const seq = dst[0], ev = dst[1], prof = dst[2];
    const seqAt = at * L * d, evAt = at * L * 3;
    seq.fill(0, seqAt, seqAt + pad * d);
    ev.fill(0, evAt, evAt + pad * 3);
    const V = this.catalogue.vectors;
    const items = new Float32Array(L), actions = new Float32Array(L);
    for (let j = 0; j < n; j++) {
      const r = s.rows[j];
      items[pad + j] = r;
      actions[pad + j] = s.ev[j * 3];
      seq.set(V.subarray(r * d, r * d + d), seqAt + (pad + j) * d);
      ev[evAt + (pad + j) * 3] = s.ev[j * 3]; ev[evAt + (pad + j) * 3 + 1] = s.ev[j * 3 + 1]; ev[evAt + (pad + j) * 3 + 2] = s.ev[j * 3 + 2];
    }
    this.profiles.write(user, this.profileFeatures, prof, at * this.profileFeatures.length);
    return { items, actions };
  }

  #saved(s: UserState): SavedUser { return { items: s.rows.map((r) => this.catalogue.ids[r]), ev: [...s.ev], lastTs: s.lastTs }; }
  #loaded(s: SavedUser): UserState {
    return { rows: s.items.map((id) => this.catalogue.rowOf(id)), ev: [...s.ev], lastTs: s.lastTs ?? NaN };
  }

  /**
   * per user: item ids (not rows: rows differ between catalogues), event features, last time;
   * one changelog record per user (the scoring stage makes one encoder per source partition,
   * so each partition's users move with it through Kafka rebalances and restarts)
   */
  snapshot(): unknown {
    const users: [string, SavedUser][] = [];
    for (const [u, s] of this.#users) users.push([u, this.#saved(s)]);
    return keyedEntries(users);
  }

  /** this saved state replaces the users held (a plain user → state object is read too) */
  restore(state: unknown): void {
    this.#users.clear();
    if (!state || typeof state !== 'object') return;
    const users = KEYED in state ? entriesOf(state as KeyedEntries<SavedUser>) : Object.entries(state as Record<string, SavedUser>);
    for (const [u, s] of users) this.#users.set(u, this.#loaded(s));
  }

  /** drop users idle beyond the TTL as of the watermark */
  expire(watermark: number): void { this.#users.expire(watermark); }
  stateStats(): StateStats { return this.#users.stats(); }
}
