/**
 * The last `length` order events of each key, kept as flags, times and sizes, and summed
 * up on demand: what the alerts describe as an alert's window and what the statistical
 * baseline scores. (The model sees the same window through OrderSequenceEncoder.)
 */
import { entriesOf, keyedEntries, KeyedStore, type KeyedEntries, type StateBounds, type StateStats } from '../../src/state.js';
import type { Batch } from '../../src/batch.js';

export type EventWindowInput = { ts: 'f64'; participant: 'str'; venue: 'str'; type: 'str'; orderType: 'str'; qty: 'f64'; counterparty: 'str' };

const NEW = 1, CANCEL = 2, EXEC = 4, SELF = 8, AGGR = 16, DARK = 32;

/** counts over a key's window (reused object: copy what you keep) */
export interface WindowSummary {
  events: number; start: number; end: number;
  newOrders: number; cancels: number; executions: number;
  /** events whose counterparty is the participant itself (both legs of a self-trade) */
  selfTrades: number;
  /** MARKET or IOC orders */
  aggressive: number;
  /** events on a dark venue */
  darkOrders: number;
  maxQty: number;
}

interface Ring { ts: Float64Array; kind: Uint8Array; qty: Float64Array; n: number }

export class KeyedEventWindows {
  readonly #rings: KeyedStore<Ring>;
  readonly #sum: WindowSummary = { events: 0, start: 0, end: 0, newOrders: 0, cancels: 0, executions: 0, selfTrades: 0, aggressive: 0, darkOrders: 0, maxQty: 0 };
  constructor(readonly length = 32, bounds: StateBounds = {}) { this.#rings = new KeyedStore(bounds); }

  /** drop windows of keys idle beyond the TTL as of `watermark` */
  expire(watermark: number): void { this.#rings.expire(watermark); }
  stateStats(): StateStats { return this.#rings.stats(); }

  /** add record i of the batch to `key`'s window */
  push(key: string, b: Batch<EventWindowInput>, i: number): void {
    const L = this.length, c = b.columns;
    const at = c.ts[i];
    const w = this.#rings.touch(key, at) ?? this.#rings.add(key, { ts: new Float64Array(L), kind: new Uint8Array(L), qty: new Float64Array(L), n: 0 }, at);
    const slot = w.n % L, t = c.type[i], ot = c.orderType[i];
    w.ts[slot] = c.ts[i];
    w.qty[slot] = c.qty[i];
    w.kind[slot] = (t === 'NEW' ? NEW : 0) | (t === 'CANCEL' ? CANCEL : 0) | (t === 'EXEC' ? EXEC : 0) | (c.counterparty[i] !== '' && c.counterparty[i] === c.participant[i] ? SELF : 0)
      | (ot === 'MARKET' || ot === 'IOC' ? AGGR : 0) | (c.venue[i].includes('DARK') ? DARK : 0);
    w.n++;
  }

  /** the counts over `key`'s window (call after push) */
  summary(key: string): WindowSummary {
    const s = this.#sum, w = this.#rings.get(key)!;
    const have = Math.min(w.n, this.length);
    s.events = have; s.start = Infinity; s.end = -Infinity;
    s.newOrders = s.cancels = s.executions = s.selfTrades = s.aggressive = s.darkOrders = s.maxQty = 0;
    for (let j = 0; j < have; j++) {
      const k = w.kind[j], ts = w.ts[j];
      if (ts < s.start) s.start = ts;
      if (ts > s.end) s.end = ts;
      if (k & NEW) s.newOrders++; if (k & CANCEL) s.cancels++; if (k & EXEC) s.executions++;
      if (k & SELF) s.selfTrades++; if (k & AGGR) s.aggressive++; if (k & DARK) s.darkOrders++;
      if (w.qty[j] > s.maxQty) s.maxQty = w.qty[j];
    }
    return s;
  }

  /** every key's ring, for checkpoints */
  snapshot(): KeyedEntries<[number[], number[], number[], number]> {
    return keyedEntries([...this.#rings].map(([k, w]) => [k, [Array.from(w.ts), Array.from(w.kind), Array.from(w.qty), w.n]]));
  }

  restore(state: KeyedEntries<[number[], number[], number[], number]>): void {
    this.#rings.clear();
    for (const [k, [ts, kind, qty, n]] of entriesOf(state)) this.#rings.set(k, { ts: Float64Array.from(ts), kind: Uint8Array.from(kind), qty: Float64Array.from(qty), n });
  }
}
