/**
 * Keyed state in snapshots, so a changelog can keep one record per key (Kafka Streams'
 * design) instead of one record per partition that outgrows the broker's message size.
 *
 * An operator marks each per-key collection in its snapshot with `keyedEntries(map)`;
 * everything else in the snapshot is the stage's shared part. `splitState` turns a
 * stage's snapshot into its shared skeleton plus one entry per (collection, key), and
 * `joinState` puts them back together, so `restore(joinState(splitState(s)))` sees what
 * `snapshot()` returned. Collections are found in plain objects up to MAX_DEPTH deep.
 */
import { ConfigError } from './errors.js';

export const KEYED = '@keyed';
const REF = '@keyedRef';
const MAX_DEPTH = 3;

export interface KeyedEntries<V> { readonly [KEYED]: [string, V][] }

/** mark a per-key collection in a snapshot */
export function keyedEntries<V>(entries: Iterable<[string, V]>): KeyedEntries<V> {
  return { [KEYED]: Array.from(entries) };
}

/** the entries of a collection marked by keyedEntries (a plain entry array is accepted too: older snapshots) */
export function entriesOf<V>(s: KeyedEntries<V> | [string, V][] | undefined | null): [string, V][] {
  if (!s) return [];
  return Array.isArray(s) ? s : s[KEYED];
}

export interface SplitState {
  /** the snapshot with each keyed collection replaced by a reference to its path */
  shared: unknown;
  /** [collection path, key, value] */
  entries: [string, string, unknown][];
}

const isPlain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function splitState(state: unknown): SplitState {
  const entries: [string, string, unknown][] = [];
  const walk = (v: unknown, path: string, depth: number): unknown => {
    if (!isPlain(v)) return v;
    if (Array.isArray(v[KEYED])) {
      for (const [k, x] of v[KEYED] as [string, unknown][]) entries.push([path, String(k), x]);
      return { [REF]: path };
    }
    if (depth >= MAX_DEPTH) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, path ? `${path}.${k}` : k, depth + 1);
    return out;
  };
  return { shared: walk(state, '', 0), entries };
}

export function joinState(shared: unknown, entries: Iterable<[string, string, unknown]>): unknown {
  const byPath = new Map<string, [string, unknown][]>();
  for (const [p, k, v] of entries) {
    let l = byPath.get(p);
    if (!l) { l = []; byPath.set(p, l); }
    l.push([k, v]);
  }
  const walk = (v: unknown, depth: number): unknown => {
    if (!isPlain(v)) return v;
    if (typeof v[REF] === 'string') return { [KEYED]: byPath.get(v[REF] as string) ?? [] };
    if (depth >= MAX_DEPTH) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, depth + 1);
    return out;
  };
  return walk(shared, 0);
}

/**
 * Bounds on one stage's per-key state (per partition instance). Kafka Streams and Flink
 * leave state unbounded unless told (state TTL); a surveillance or personalization job
 * sees new participants, symbols and users every day, so unbounded means it grows until
 * the process dies. Both bounds are optional; a stage's defaults are its topology's.
 */
export interface StateBounds {
  /** a key not touched for this long in event time (µs, against the watermark) is dropped */
  ttlUs?: number;
  /** at most this many keys; a new key beyond it drops the least recently touched one */
  maxKeys?: number;
}

/** what a bounded stage reports to metrics: keys held, keys dropped by TTL and by the key bound */
export interface StateStats { keys: number; expired: number; evicted: number }

/** an operator instance whose keyed state is bounded (metrics read stateStats at scrape time) */
export interface BoundedState {
  stateStats(): StateStats;
  /** false where a wrapper (per-partition instances, a scoring stage) holds no bounded state after all */
  readonly boundedState?: boolean;
}

export function isBoundedState(op: unknown): op is BoundedState {
  return typeof (op as BoundedState | null)?.stateStats === 'function' && (op as BoundedState).boundedState !== false;
}

export function addStats(a: StateStats, b: StateStats): StateStats {
  return { keys: a.keys + b.keys, expired: a.expired + b.expired, evicted: a.evicted + b.evicted };
}

export function checkBounds(where: string, b: StateBounds | undefined): StateBounds {
  if (!b) return {};
  if (b.ttlUs !== undefined && !(b.ttlUs > 0)) throw new ConfigError(`${where}: state ttlUs must be > 0 µs, got ${String(b.ttlUs)}`);
  if (b.maxKeys !== undefined && !(Number.isInteger(b.maxKeys) && b.maxKeys >= 1)) throw new ConfigError(`${where}: state maxKeys must be an integer ≥ 1, got ${String(b.maxKeys)}`);
  return b;
}

/** one key's entry: its value, when it was last touched (event time; NaN: restored, not yet), and its place in the order */
interface Slot<V> { key: string; v: V; t: number; prev: Slot<V> | null; next: Slot<V> | null }

/**
 * Per-key state kept in least-recently-touched order, so both bounds cost O(1) per record:
 * the TTL looks only at the oldest end, and the key bound drops it. The order is a linked
 * list through the entries (a touch moves one entry to the newest end); a Map finds them.
 * (Moving keys by Map delete + set instead leaves holes that V8 skips on every walk from
 * the start: 7× slower at 100,000 keys.) Iteration (and so a snapshot) is oldest first,
 * which a restore keeps. Touch times are not in snapshots: a restored key counts as touched
 * at the first expire() after the restore (it gets a full TTL), so snapshot formats stay.
 */
export class KeyedStore<V> implements Iterable<[string, V]> {
  readonly #m = new Map<string, Slot<V>>();
  #oldest: Slot<V> | null = null;
  #newest: Slot<V> | null = null;
  readonly #ttl: number;
  readonly #max: number;
  /** restored keys not yet given a touch time (they sit at the oldest end) */
  #untimed = 0;
  expired = 0;
  evicted = 0;

  /** @param onDrop told of each key the bounds drop, with its value (e.g. to forget it in a per-key metric, or count what it held) */
  constructor(bounds: StateBounds = {}, readonly onDrop?: (key: string, value: V) => void) {
    this.#ttl = bounds.ttlUs ?? Infinity;
    this.#max = bounds.maxKeys ?? Infinity;
  }

  get size(): number { return this.#m.size; }
  has(key: string): boolean { return this.#m.has(key); }
  /** the value, without touching it */
  get(key: string): V | undefined { return this.#m.get(key)?.v; }

  /** the key's value (made by `make` when it has none), touched at event time `ts` */
  use(key: string, ts: number, make: () => V): V {
    const v = this.touch(key, ts);
    return v !== undefined ? v : this.add(key, make(), ts);
  }

  /**
   * The key's value touched at event time `ts`, or undefined when it has none (then `add`
   * it). Hot paths use this pair rather than use(): no closure is made per record.
   */
  touch(key: string, ts: number): V | undefined {
    const e = this.#m.get(key);
    if (!e) return undefined;
    if (ts > e.t) e.t = ts;
    else if (e.t !== e.t) { this.#untimed--; e.t = ts; } // NaN: restored, first touch
    if (e !== this.#newest) { this.#unlink(e); this.#append(e); }
    return e.v;
  }

  /** a new key's value, touched at `ts` (the key bound may evict the least recently touched) */
  add(key: string, v: V, ts: number): V {
    if (this.#m.size >= this.#max) this.#dropOldest();
    const e: Slot<V> = { key, v, t: ts, prev: null, next: null };
    this.#m.set(key, e);
    this.#append(e);
    return v;
  }

  /** put a value (a restore): at the newest end, untimed until the next expire() */
  set(key: string, v: V): void {
    this.delete(key);
    const e: Slot<V> = { key, v, t: NaN, prev: null, next: null };
    this.#m.set(key, e);
    this.#append(e);
    this.#untimed++;
    while (this.#m.size > this.#max) this.#dropOldest();
  }

  delete(key: string): boolean {
    const e = this.#m.get(key);
    if (!e) return false;
    if (Number.isNaN(e.t)) this.#untimed--;
    this.#unlink(e);
    return this.#m.delete(key);
  }

  clear(): void { this.#m.clear(); this.#oldest = this.#newest = null; this.#untimed = 0; }

  /** drop keys not touched within the TTL before event time `now` (a watermark); returns how many */
  expire(now: number): number {
    if (this.#ttl === Infinity || !Number.isFinite(now)) return 0;
    // restored keys first get a touch time: now (they keep their place, all being at least as old as any touched since)
    if (this.#untimed > 0) for (let e = this.#oldest; e; e = e.next) if (Number.isNaN(e.t)) { e.t = now; this.#untimed--; }
    let dropped = 0;
    const cutoff = now - this.#ttl;
    while (this.#oldest && this.#oldest.t < cutoff) { this.#drop(this.#oldest); dropped++; }
    this.expired += dropped;
    return dropped;
  }

  stats(): StateStats { return { keys: this.#m.size, expired: this.expired, evicted: this.evicted }; }

  #append(e: Slot<V>): void {
    e.prev = this.#newest; e.next = null;
    if (this.#newest) this.#newest.next = e; else this.#oldest = e;
    this.#newest = e;
  }

  #unlink(e: Slot<V>): void {
    if (e.prev) e.prev.next = e.next; else this.#oldest = e.next;
    if (e.next) e.next.prev = e.prev; else this.#newest = e.prev;
    // e keeps its pointers: an iterator standing on it (a delete while iterating) walks on
  }

  #drop(e: Slot<V>): void {
    if (Number.isNaN(e.t)) this.#untimed--;
    this.#unlink(e);
    this.#m.delete(e.key);
    this.onDrop?.(e.key, e.v);
  }

  #dropOldest(): void {
    if (!this.#oldest) return;
    this.#drop(this.#oldest);
    this.evicted++;
  }

  // each walk takes the next entry before it yields: the caller may delete the one it was given
  *[Symbol.iterator](): IterableIterator<[string, V]> {
    for (let e = this.#oldest; e;) { const n = e.next; yield [e.key, e.v]; e = n; }
  }
  *keys(): IterableIterator<string> { for (const [k] of this) yield k; }
  *values(): IterableIterator<V> { for (const [, v] of this) yield v; }
}
