/**
 * Pattern evidence (issue #18): what each manipulation pattern *is*, checked on the key's own
 * recent orders, so that an alert names a pattern only where that pattern's defining act is in
 * the flow. A detector trained on one market learns that market's look of manipulation; on
 * another market's flow the look comes back on legitimate accounts (retail bursts of
 * marketable orders named momentum ignition, by the thousand). The definitions below do not
 * depend on any market's levels, only on the order lifecycle the contract carries:
 *
 * - spoofing, layering: *size pulled just after a fill of this key on the other side*, of
 *   orders resting when it filled that never traded, at least 3× the size traded, from a key
 *   that rested at least 3× as much on the bait side as on the side it traded (the orders were
 *   bait for the trade: one-sided, large against it and not meant to execute; SEC/CFTC's
 *   definition: bids or offers with intent to cancel before execution). A market maker quotes
 *   both sides and requotes after a fill, often pulling an order that partly filled.
 * - wash_trade: a *trade with itself*, or a matched round trip: bought from and sold to one
 *   counterparty, the same size at the same price, within the window (no change of beneficial
 *   ownership and no market risk; MAR Annex I 1(a)).
 * - quote_stuffing: *a flood*: at least 20 order messages within one second, at least 40% of
 *   them cancels or replaces.
 * - momentum_ignition: *a run of at least 3 marketable orders on one side within 10 s whose
 *   fills moved the price its way, and then a fill of this key on the other side* (the exit
 *   the run was for).
 * - pinging: *at least 3 immediate-or-cancel or hidden orders, at most half of them filled*
 *   (probing for hidden liquidity, not trading it).
 * - marking_the_close: *at least 2 marketable orders on one side whose fills moved the price
 *   its way* (the engine does not know the venue's closing time, so this is the weakest check).
 *
 * Marketable: MARKET or IOC, or an order filled within 1 ms of entry. Everything is counted
 * over the key's last 64 events and at most `windowUs` of event time (default 30 s). A fill is
 * written into both parties' flows (the counterparty's from its side), once per execId, so a
 * feed that reports trades only on the resting order still shows an aggressor its own fills.
 *
 * Evidence is necessary, not sufficient: alone it alerts on half of all benign
 * participant-minutes (bench/evidence-rule.ts). It is a gate behind the detector, never a detector.
 */
import type { Batch } from '../../src/batch.js';
import { entriesOf, keyedEntries, KeyedStore, type KeyedEntries, type StateBounds, type StateStats } from '../../src/state.js';

export const EvidencePatterns = ['spoofing', 'layering', 'wash_trade', 'quote_stuffing', 'momentum_ignition', 'pinging', 'marking_the_close'] as const;
export type EvidencePattern = (typeof EvidencePatterns)[number];

export type EvidenceInput = { ts: 'f64'; participant: 'str'; side: 'str'; execId: 'str'; type: 'str'; orderType: 'str'; orderId: 'str'; price: 'f64'; qty: 'f64'; displayQty: 'f64'; counterparty: 'str' };

const NEW = 1, CANCEL = 2, REPLACE = 3, EXEC = 4;
const MARKETABLE = 1, HIDDEN_OR_IOC = 2, SELF = 4, MIRRORED = 8;
const SIZE = 64;

interface Ring { ts: Float64Array; kind: Uint8Array; side: Int8Array; flags: Uint8Array; qty: Float64Array; px: Float64Array; order: string[]; cp: string[]; exec: string[]; n: number }

/** per pattern: whether its defining act is in the key's recent flow */
export type Evidence = Record<EvidencePattern, boolean>;

/** what each pattern's evidence measures (an alert's first feature: its explanation) */
export const EvidenceMeasures: Record<EvidencePattern, string> = {
  spoofing: 'sizePulledAfterOppositeFill', layering: 'sizePulledAfterOppositeFill', wash_trade: 'selfOrMatchedTrades',
  quote_stuffing: 'messagesInLastSecond', momentum_ignition: 'marketableOrdersInRun', pinging: 'unfilledProbes', marking_the_close: 'marketableOrdersInRun',
};

export class KeyedEvidence {
  readonly #rings: KeyedStore<Ring>;
  readonly #out = Object.fromEntries(EvidencePatterns.map((p) => [p, false])) as Evidence;
  /** the size of each pattern's evidence at the last evidence() call (EvidenceMeasures names it) */
  readonly measure = Object.fromEntries(EvidencePatterns.map((p) => [p, 0])) as Record<EvidencePattern, number>;
  constructor(readonly windowUs = 30e6, bounds: StateBounds = {}) { this.#rings = new KeyedStore(bounds); }

  expire(watermark: number): void { this.#rings.expire(watermark); }
  stateStats(): StateStats { return this.#rings.stats(); }

  push(key: string, b: Batch<EvidenceInput>, i: number): void {
    const c = b.columns, at = c.ts[i];
    const t = c.type[i], ot = c.orderType[i];
    const kind = t === 'NEW' ? NEW : t === 'CANCEL' ? CANCEL : t === 'REPLACE' ? REPLACE : t === 'EXEC' ? EXEC : 0;
    const w = this.#ring(key, at);
    if (!kind) return;
    const cp = c.counterparty[i], execId = c.execId[i] ?? '', side = c.side[i] === 'S' ? -1 : 1;
    let flags = (ot === 'MARKET' || ot === 'IOC' ? MARKETABLE : 0) | (ot === 'IOC' || ot === 'MIDPOINT' || (kind === NEW && c.displayQty[i] === 0) ? HIDDEN_OR_IOC : 0)
      | (cp !== '' && cp === c.participant[i] ? SELF : 0);
    if (kind === EXEC) {
      // The contract's EXEC is "(part of) this resting order was executed": a feed may report a
      // trade only on the resting order's side, so the aggressor (the counterparty) would never
      // see its own fill, and a momentum run or one leg of a round trip would vanish from its
      // flow. Each fill is therefore also written into the counterparty's ring, from its side;
      // a feed that reports both sides under one execId (as both generator families do) gives
      // the counterparty its own EXEC too, which then takes the mirrored slot's place.
      if (cp !== '' && cp !== c.participant[i]) {
        const dot = key.indexOf('|');
        const other = this.#ring(`${cp}${dot >= 0 ? key.slice(dot) : ''}`, at);
        if (!(execId && this.#slotOf(other, execId, at) >= 0)) this.#write(other, at, EXEC, -side, MIRRORED, c.qty[i], c.price[i], '', c.participant[i], execId);
      }
      const mirrored = execId ? this.#slotOf(w, execId, at) : -1;
      // a fill within 1 ms of its order's entry: the order was marketable (a limit priced through the touch)
      for (let k = 1; k <= Math.min(w.n, SIZE); k++) {
        const j = (w.n - k) % SIZE;
        if (at - w.ts[j] > 1e3) break;
        if (w.kind[j] === NEW && w.order[j] === c.orderId[i]) { w.flags[j] |= MARKETABLE; flags |= MARKETABLE; break; }
      }
      if (mirrored >= 0) { w.order[mirrored] = c.orderId[i]; w.flags[mirrored] = flags; return; }
    }
    this.#write(w, at, kind, side, flags, c.qty[i], c.price[i], c.orderId[i], cp, execId);
  }

  #ring(key: string, at: number): Ring {
    return this.#rings.touch(key, at) ?? this.#rings.add(key, {
      ts: new Float64Array(SIZE), kind: new Uint8Array(SIZE), side: new Int8Array(SIZE), flags: new Uint8Array(SIZE), qty: new Float64Array(SIZE), px: new Float64Array(SIZE),
      order: new Array(SIZE).fill(''), cp: new Array(SIZE).fill(''), exec: new Array(SIZE).fill(''), n: 0,
    }, at);
  }

  #write(w: Ring, at: number, kind: number, side: number, flags: number, qty: number, price: number, order: string, cp: string, exec: string): void {
    const s = w.n % SIZE;
    w.ts[s] = at; w.kind[s] = kind; w.side[s] = side; w.flags[s] = flags; w.qty[s] = qty; w.px[s] = Number.isFinite(price) ? price : NaN;
    w.order[s] = order; w.cp[s] = cp; w.exec[s] = exec;
    w.n++;
  }

  /** the slot of the fill `execId` among the ring's events of the last second, or −1 */
  #slotOf(w: Ring, execId: string, at: number): number {
    for (let k = 1; k <= Math.min(w.n, SIZE); k++) {
      const j = (w.n - k) % SIZE;
      if (at - w.ts[j] > 1e6) break;
      if (w.kind[j] === EXEC && w.exec[j] === execId) return j;
    }
    return -1;
  }

  /** evidence for each pattern in `key`'s window as of its newest event (reused object: copy what you keep) */
  evidence(key: string): Evidence {
    const e = this.#out, m = this.measure;
    for (const p of EvidencePatterns) { e[p] = false; m[p] = 0; }
    const w = this.#rings.get(key);
    if (!w || w.n === 0) return e;
    const have = Math.min(w.n, SIZE), now = w.ts[(w.n - 1) % SIZE];
    // newest first, within the window
    const idx: number[] = [];
    for (let k = 1; k <= have; k++) { const j = (w.n - k) % SIZE; if (now - w.ts[j] > this.windowUs) break; idx.push(j); }
    let inSecond = 0, churnInSecond = 0, probes = 0, probesFilled = 0;
    const bought = new Set<string>(), sold = new Set<string>(); // counterparty|qty|price of each fill
    for (const j of idx) {
      const k = w.kind[j];
      if (now - w.ts[j] <= 1e6) { inSecond++; if (k === CANCEL || k === REPLACE) churnInSecond++; }
      if (k === EXEC) {
        if (w.flags[j] & SELF) m.wash_trade++;
        else if (w.cp[j]) (w.side[j] > 0 ? bought : sold).add(`${w.cp[j]}|${w.qty[j]}|${w.px[j]}`);
      }
      if (k === NEW && w.flags[j] & HIDDEN_OR_IOC) {
        probes++;
        if (idx.some((x) => w.kind[x] === EXEC && w.order[x] === w.order[j])) probesFilled++;
      }
    }
    for (const fill of bought) if (sold.has(fill)) m.wash_trade++;
    e.wash_trade = m.wash_trade > 0;
    e.quote_stuffing = inSecond >= 20 && churnInSecond >= 0.4 * inSecond;
    m.quote_stuffing = inSecond;
    e.pinging = probes >= 3 && probesFilled <= probes / 2;
    m.pinging = probes - probesFilled;
    m.spoofing = m.layering = this.#pulledAfterOppositeFill(w, idx);
    e.spoofing = e.layering = m.spoofing > 0;
    this.#marketableRuns(w, idx, e, m);
    return e;
  }

  /**
   * The most size pulled after a fill on the other side, when it is at least 3× the size
   * traded: for each fill, the key's fills on that side within 1 s of it (the genuine trade,
   * partial fills summed) against the size it cancelled or replaced on the other side within
   * 5 s after it, of orders that were resting when it filled (entered before it, or older
   * than the window). A market maker requoting after a fill pulls about what it traded; bait
   * is a multiple of it. 0 when there is none.
   */
  #pulledAfterOppositeFill(w: Ring, idx: number[]): number {
    let most = 0;
    for (const f of idx) {
      if (w.kind[f] !== EXEC) continue;
      const tf = w.ts[f], side = w.side[f];
      let traded = 0, pulled = 0;
      for (const j of idx) {
        const k = w.kind[j], tj = w.ts[j];
        if (k === EXEC && w.side[j] === side && Math.abs(tj - tf) <= 1e6) traded += w.qty[j];
        else if ((k === CANCEL || k === REPLACE) && w.side[j] === -side && tj > tf && tj - tf <= 5e6) pulled += this.#baitPulled(w, idx, j, tf);
      }
      // one-sided pressure: just before the fill the key rested at least 3× as much on the bait
      // side as on the side it traded (a market maker quotes both)
      if (traded > 0 && pulled >= 3 * traded && pulled > most && this.#restingBefore(w, idx, tf, -side) >= 3 * this.#restingBefore(w, idx, tf, side)) most = pulled;
    }
    return most;
  }

  /** the key's resting size on `side` just before time t, from the orders whose entry the window holds */
  #restingBefore(w: Ring, idx: number[], t: number, side: number): number {
    const open = new Map<string, number>();
    for (let n = idx.length - 1; n >= 0; n--) { // oldest first
      const x = idx[n];
      if (w.ts[x] >= t) break;
      if (w.side[x] !== side || (w.flags[x] & MIRRORED) !== 0) continue;
      const id = w.order[x], k = w.kind[x];
      if (k === NEW || (k === REPLACE && open.has(id))) open.set(id, w.qty[x]);
      else if (k === CANCEL) open.delete(id);
      else if (k === EXEC && open.has(id)) open.set(id, Math.max(0, open.get(id)! - w.qty[x]));
    }
    let total = 0;
    for (const q of open.values()) total += q;
    return total;
  }

  /**
   * The size that cancel or replace j took away from an order that was resting at time tf and
   * never traded (bait is not meant to execute; an order that partly filled was live
   * liquidity): a cancel takes its size; a replace takes the order's size when it moved the
   * price away from the touch, else what it cut from the size. Idx is newest first.
   */
  #baitPulled(w: Ring, idx: number[], j: number, tf: number): number {
    const id = w.order[j];
    let before = -1, traded = false;
    for (const x of idx) {
      if (w.ts[x] > w.ts[j] || x === j || w.order[x] !== id) continue;
      if (w.kind[x] === EXEC && (w.flags[x] & MIRRORED) === 0) traded = true;
      if (before < 0 && (w.kind[x] === NEW || w.kind[x] === REPLACE)) before = x; // its last entry or change before j
    }
    if (traded) return 0;
    let entered = before;
    for (const x of idx) if (w.order[x] === id && w.kind[x] === NEW) entered = x;
    if (entered >= 0 && w.ts[entered] >= tf) return 0; // entered after the fill: not resting when it traded
    if (w.kind[j] === CANCEL) return w.qty[j];
    if (before < 0) return 0; // a replace of an order the window does not know: nothing to compare with
    const away = w.side[j] * (w.px[j] - w.px[before]) < 0;
    return away ? w.qty[before] : Math.max(0, w.qty[before] - w.qty[j]);
  }

  /**
   * [ignition: ≥ 3 marketable orders on one side within 10 s, this key's fills on that side
   * moving the price its way, then a fill of this key on the other side; close: ≥ 2 marketable
   * orders on one side and fills on it that moved the price its way]
   */
  #marketableRuns(w: Ring, idx: number[], e: Evidence, m: Record<EvidencePattern, number>): void {
    for (const side of [1, -1]) {
      const runs = idx.filter((j) => w.kind[j] === NEW && w.flags[j] & MARKETABLE && w.side[j] === side); // newest first
      if (runs.length < 2) continue;
      const fills = idx.filter((j) => w.kind[j] === EXEC && w.side[j] === side && Number.isFinite(w.px[j])); // newest first
      // the aggression moved the price: its newest fill beyond its oldest, in its direction
      const moved = fills.length >= 2 && side * (w.px[fills[0]] - w.px[fills[fills.length - 1]]) > 0;
      if (!moved) continue;
      e.marking_the_close = true;
      m.marking_the_close = Math.max(m.marking_the_close, runs.length);
      for (let a = runs.length - 1; a >= 2; a--) {
        const first = w.ts[runs[a]];
        if (w.ts[runs[a - 2]] - first > 10e6) continue;
        // the exit: a fill on the other side after the run began
        if (idx.some((j) => w.side[j] === -side && w.kind[j] === EXEC && w.ts[j] > first)) {
          e.momentum_ignition = true;
          m.momentum_ignition = Math.max(m.momentum_ignition, runs.length);
          break;
        }
      }
    }
  }

  snapshot(): KeyedEntries<[number[], number[], number[], number[], number[], number[], string[], string[], string[], number]> {
    return keyedEntries([...this.#rings].map(([k, w]) => [k, [Array.from(w.ts), Array.from(w.kind), Array.from(w.side), Array.from(w.flags), Array.from(w.qty), Array.from(w.px, (x) => (Number.isFinite(x) ? x : -1)), w.order, w.cp, w.exec, w.n]]));
  }

  restore(state: KeyedEntries<[number[], number[], number[], number[], number[], number[], string[], string[], string[], number]>): void {
    this.#rings.clear();
    for (const [k, [ts, kind, side, flags, qty, px, order, cp, exec, n]] of entriesOf(state)) {
      this.#rings.set(k, { ts: Float64Array.from(ts), kind: Uint8Array.from(kind), side: Int8Array.from(side), flags: Uint8Array.from(flags), qty: Float64Array.from(qty), px: Float64Array.from(px, (x) => (x < 0 ? NaN : x)), order: [...order], cp: [...cp], exec: [...exec], n });
    }
  }
}
