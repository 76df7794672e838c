/**
 * The matching engine of the second generator family (auction-sim.ts): one lit limit order
 * book per symbol with price-time priority, plus a dark midpoint pool, emitting order events
 * as a venue's member drop-copy feed would: NEW for every accepted order, REPLACE, CANCEL
 * (also for the unfilled rest of an IOC or market order) and one EXEC per side of every fill,
 * both carrying the trade's execId and each naming the other side as counterparty.
 *
 * Written apart from market.ts on purpose: there, executions are scripted next to the orders
 * that cause them; here nothing executes unless it crosses something resting in the book, so
 * prices move because of what participants do, and a manipulator's orders meet real queues.
 * Prices are integer ticks inside the engine (no float drift in the book) and currency units
 * on the wire. Self-matches are allowed: venues without self-trade prevention are where wash
 * trades happen.
 */
import type { OrderEvent } from '../../demo/orderflow.js';

export type Side = 'B' | 'S';
export interface Resting { id: string; owner: string; side: Side; ticks: number; qty: number; display: number; at: number }
interface Level { ticks: number; queue: Resting[] }

/** what a fill did, reported to whoever wants to react (agents track their own inventory) */
export interface Fill { symbol: string; ticks: number; qty: number; aggressor: string; passive: string; aggressorSide: Side; ts: number }

export interface VenueNames { lit: string; dark: string }

export class SymbolBook {
  readonly bids: Level[] = []; // best (highest) first
  readonly asks: Level[] = []; // best (lowest) first
  readonly dark: Resting[] = [];
  readonly #byId = new Map<string, Resting>();
  readonly #darkIds = new Set<string>();
  lastTradeTicks: number;

  constructor(readonly symbol: string, startTicks: number, readonly out: OrderEvent[], readonly venues: VenueNames,
    readonly nextExecId: () => string, readonly onFill: (f: Fill) => void) {
    this.lastTradeTicks = startTicks;
  }

  bestBid(): number | undefined { return this.bids[0]?.ticks; }
  bestAsk(): number | undefined { return this.asks[0]?.ticks; }
  /** midpoint in ticks (half ticks possible); the last trade when a side is empty */
  mid(): number {
    const b = this.bestBid(), a = this.bestAsk();
    return b !== undefined && a !== undefined ? (a + b) / 2 : b ?? a ?? this.lastTradeTicks;
  }
  depthAt(side: Side, ticks: number): number {
    const lv = (side === 'B' ? this.bids : this.asks).find((l) => l.ticks === ticks);
    return lv ? lv.queue.reduce((s, o) => s + o.qty, 0) : 0;
  }
  resting(id: string): Resting | undefined { return this.#byId.get(id); }
  isResting(id: string): boolean { return this.#byId.has(id) || this.#darkIds.has(id); }

  /** a limit order (IOC: the unfilled rest is cancelled at once); returns the rest left in the book */
  limit(ts: number, owner: string, id: string, side: Side, ticks: number, qty: number, o: { ioc?: boolean; display?: number } = {}): number {
    ts = Math.round(ts); // the contract's times are integer microseconds; agents compute in floats
    const display = o.display ?? qty;
    this.out.push({ ts, venue: this.venues.lit, symbol: this.symbol, orderId: id, participant: owner, side, type: 'NEW', orderType: o.ioc ? 'IOC' : 'LIMIT', price: ticks / 100, qty, displayQty: display });
    const left = this.#match(ts, owner, id, side, qty, ticks, this.venues.lit);
    if (left > 0) {
      if (o.ioc) this.out.push({ ts: ts + 1, venue: this.venues.lit, symbol: this.symbol, orderId: id, participant: owner, side, type: 'CANCEL', qty: left });
      else this.#rest({ id, owner, side, ticks, qty: left, display: Math.min(display, left), at: ts });
    }
    return o.ioc ? 0 : left;
  }

  /** a market order: sweeps the other side; what finds no liquidity is cancelled */
  market(ts: number, owner: string, id: string, side: Side, qty: number): void {
    ts = Math.round(ts);
    this.out.push({ ts, venue: this.venues.lit, symbol: this.symbol, orderId: id, participant: owner, side, type: 'NEW', orderType: 'MARKET', qty, displayQty: qty });
    const left = this.#match(ts, owner, id, side, qty, side === 'B' ? Infinity : -Infinity, this.venues.lit);
    if (left > 0) this.out.push({ ts: ts + 1, venue: this.venues.lit, symbol: this.symbol, orderId: id, participant: owner, side, type: 'CANCEL', qty: left });
  }

  /** cancels what is left of a resting order (lit or dark); false when nothing rests */
  cancel(ts: number, id: string): boolean {
    ts = Math.round(ts);
    const o = this.#byId.get(id);
    if (o) {
      this.#remove(o);
      this.out.push({ ts, venue: this.venues.lit, symbol: this.symbol, orderId: id, participant: o.owner, side: o.side, type: 'CANCEL', qty: o.qty });
      return true;
    }
    if (this.#darkIds.has(id)) {
      const k = this.dark.findIndex((d) => d.id === id);
      const d = this.dark[k];
      this.dark.splice(k, 1); this.#darkIds.delete(id);
      this.out.push({ ts, venue: this.venues.dark, symbol: this.symbol, orderId: id, participant: d.owner, side: d.side, type: 'CANCEL', qty: d.qty });
      return true;
    }
    return false;
  }

  /** amends a resting lit order's price and size (priority lost); it may cross and trade */
  replace(ts: number, id: string, ticks: number, qty: number): boolean {
    ts = Math.round(ts);
    const o = this.#byId.get(id);
    if (!o) return false;
    this.#remove(o);
    this.out.push({ ts, venue: this.venues.lit, symbol: this.symbol, orderId: id, participant: o.owner, side: o.side, type: 'REPLACE', orderType: 'LIMIT', price: ticks / 100, qty, displayQty: Math.min(o.display, qty) });
    const left = this.#match(ts, o.owner, id, o.side, qty, ticks, this.venues.lit);
    if (left > 0) this.#rest({ ...o, ticks, qty: left, display: Math.min(o.display, left), at: ts });
    return true;
  }

  /** a midpoint order in the dark pool: trades with resting dark orders of the other side at the lit midpoint; returns the quantity filled */
  midpoint(ts: number, owner: string, id: string, side: Side, qty: number, ioc: boolean): number {
    ts = Math.round(ts);
    this.out.push({ ts, venue: this.venues.dark, symbol: this.symbol, orderId: id, participant: owner, side, type: 'NEW', orderType: ioc ? 'IOC' : 'MIDPOINT', qty, displayQty: 0 });
    let left = qty;
    const px = Math.round(this.mid()) / 100;
    for (let k = 0; k < this.dark.length && left > 0;) {
      const d = this.dark[k];
      if (d.side === side) { k++; continue; }
      const q = Math.min(left, d.qty);
      this.#execPair(ts + 1, px, q, owner, id, side, d, this.venues.dark);
      left -= q; d.qty -= q;
      if (d.qty === 0) { this.dark.splice(k, 1); this.#darkIds.delete(d.id); } else k++;
    }
    if (left > 0) {
      if (ioc) this.out.push({ ts: ts + 2, venue: this.venues.dark, symbol: this.symbol, orderId: id, participant: owner, side, type: 'CANCEL', qty: left });
      else { this.dark.push({ id, owner, side, ticks: 0, qty: left, display: 0, at: ts }); this.#darkIds.add(id); }
    }
    return qty - left;
  }

  #match(ts: number, owner: string, id: string, side: Side, qty: number, limitTicks: number, venue: string): number {
    const book = side === 'B' ? this.asks : this.bids;
    let left = qty, t = ts + 1;
    while (left > 0 && book.length) {
      const lv = book[0];
      if (side === 'B' ? lv.ticks > limitTicks : lv.ticks < limitTicks) break;
      const o = lv.queue[0];
      const q = Math.min(left, o.qty);
      this.#execPair(t++, lv.ticks / 100, q, owner, id, side, o, venue);
      this.lastTradeTicks = lv.ticks;
      this.onFill({ symbol: this.symbol, ticks: lv.ticks, qty: q, aggressor: owner, passive: o.owner, aggressorSide: side, ts });
      left -= q; o.qty -= q; o.display = Math.min(o.display, o.qty);
      if (o.qty === 0) { lv.queue.shift(); this.#byId.delete(o.id); if (!lv.queue.length) book.shift(); }
    }
    return left;
  }

  #execPair(ts: number, price: number, qty: number, owner: string, id: string, side: Side, passive: Resting, venue: string): void {
    const execId = this.nextExecId();
    this.out.push({ ts, venue, symbol: this.symbol, orderId: passive.id, participant: passive.owner, side: passive.side, type: 'EXEC', price, qty, counterparty: owner, execId });
    this.out.push({ ts, venue, symbol: this.symbol, orderId: id, participant: owner, side, type: 'EXEC', price, qty, counterparty: passive.owner, execId });
  }

  #rest(o: Resting): void {
    const book = o.side === 'B' ? this.bids : this.asks;
    const better = o.side === 'B' ? (a: number, b: number) => a > b : (a: number, b: number) => a < b;
    let k = 0;
    while (k < book.length && better(book[k].ticks, o.ticks)) k++;
    if (k < book.length && book[k].ticks === o.ticks) book[k].queue.push(o);
    else book.splice(k, 0, { ticks: o.ticks, queue: [o] });
    this.#byId.set(o.id, o);
  }

  #remove(o: Resting): void {
    const book = o.side === 'B' ? this.bids : this.asks;
    const k = book.findIndex((l) => l.ticks === o.ticks);
    if (k >= 0) {
      const lv = book[k];
      const j = lv.queue.indexOf(o);
      if (j >= 0) lv.queue.splice(j, 1);
      if (!lv.queue.length) book.splice(k, 1);
    }
    this.#byId.delete(o.id);
  }
}
