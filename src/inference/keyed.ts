/**
 * Which worker and which state slot each key uses, for an incremental model's key-affine
 * workers (issue #17; keyed-worker.ts holds the state itself).
 *
 * A key always goes to the same worker (a hash of the key), where it holds one slot of the
 * worker's state slab while it is among that worker's `slots` most recently used keys. The
 * table remembers, per key, the sequence number (events the encoder has seen for that key)
 * that the worker's slot has absorbed: the next event is a step only when it is exactly the
 * one after, otherwise (a new key, an evicted one, an encoder whose key expired and began
 * again, a restore) it is cold and the worker prefills it from its window. The cached state
 * is therefore never what makes a score right: it only saves recomputation, and whatever
 * loses it (eviction, a failed task, a rebalance) costs one prefill per key.
 */
import { ConfigError } from '../errors.js';

interface Entry { slot: number; seq: number }

export class KeyRouter {
  /** per worker: key → slot and the seq its state holds, least recently used first */
  readonly #tables: Map<string, Entry>[];
  /** per worker: the key holding each slot (to forget a failed task's keys) */
  readonly #owners: (string | undefined)[][];
  readonly #next: number[];
  /** the worker and cold flag of the last route() (read right after it: no object per row) */
  lane = 0;
  cold = false;
  /** keys routed cold since the router was made (a metric) */
  colds = 0;

  constructor(readonly workers: number, readonly slots: number) {
    if (!Number.isInteger(slots) || slots < 1) throw new ConfigError(`incremental inference: keyedSlots must be a positive integer, got ${String(slots)}`);
    this.#tables = Array.from({ length: workers }, () => new Map());
    this.#owners = Array.from({ length: workers }, () => new Array<string | undefined>(slots));
    this.#next = new Array<number>(workers).fill(0);
  }

  /** the worker a key lives on (FNV-1a of the key: stable for the pool's life) */
  laneOf(key: string): number {
    if (this.workers === 1) return 0;
    let h = 0x811c9dc5;
    for (let i = 0; i < key.length; i++) { h ^= key.charCodeAt(i); h = Math.imul(h, 0x01000193); }
    return (h >>> 0) % this.workers;
  }

  /**
   * The slot for event number `seq` (1 = the key's first) of `key`; sets `lane` and `cold`.
   * Within one batch no slot may be given away twice, so a batch must hold fewer distinct
   * keys than `slots` (the pool checks).
   */
  route(key: string, seq: number): number {
    const lane = this.laneOf(key);
    const table = this.#tables[lane];
    this.lane = lane;
    let e = table.get(key);
    if (e) {
      this.cold = e.seq !== seq - 1;
      table.delete(key); // most recently used: to the end of the map's order
    } else {
      this.cold = true;
      let slot: number;
      if (this.#next[lane] < this.slots) slot = this.#next[lane]++;
      else {
        const [oldKey, old] = table.entries().next().value as [string, Entry];
        table.delete(oldKey);
        slot = old.slot;
      }
      this.#owners[lane][slot] = key;
      e = { slot, seq: 0 };
    }
    if (this.cold) this.colds++;
    e.seq = seq;
    table.set(key, e);
    return e.slot;
  }

  /** the worker's state for these slots is lost (its task failed): their keys start cold again */
  forget(lane: number, slots: Int32Array): void {
    const table = this.#tables[lane], owners = this.#owners[lane];
    for (const s of slots) {
      const key = owners[s];
      if (key !== undefined && table.get(key)?.slot === s) table.get(key)!.seq = -1;
    }
  }

  /** every key starts cold (a restore, a partition adopted or dropped: the encoder's rings changed under the cache) */
  clear(): void {
    for (const t of this.#tables) for (const e of t.values()) e.seq = -1;
  }

  /** keys holding a slot */
  get keys(): number { let n = 0; for (const t of this.#tables) n += t.size; return n; }
}
