/**
 * Order events as sequences of *relative* features (issue #18): for each participant ×
 * symbol, the last `length` events, each described against the book it met and against the
 * participant's own usual behaviour, not in absolute levels. A detector trained on one market
 * then sees a market maker's constant requoting as that maker's normal, and a retail burst as
 * marketable orders that move nothing, wherever the flow comes from.
 *
 * The book is rebuilt from the feed itself (every order's NEW, REPLACE, CANCEL and EXEC carry
 * price and size): displayed depth per price level, best bid and ask. A book that the feed
 * leaves inconsistent (crossed, or one side empty) falls back to the last trade price.
 *
 * Per event (22 values):
 *   0–3  type one-hot: NEW, CANCEL, REPLACE, EXEC
 *   4    side: +1 buy, −1 sell
 *   5    marketable: MARKET or IOC, or a limit price at or through the other side's best
 *   6    dark: displayQty 0 or a midpoint order
 *   7    distance behind the own side's best, bps / 10, clipped to ±5 (negative: through it)
 *   8    share of its price level: the order's size / (size + displayed depth there)
 *   9    top-of-book imbalance toward the order's side, −1..1
 *   10   log(size / this key's running mean size), clipped to ±4
 *   11   log gap since this key's previous event against its usual log gap, / 3, clipped to ±2
 *   12   log1p(µs since this key's previous event) / 16
 *   13   log1p(µs the order rested before this cancel / execution) / 16 (0 otherwise)
 *   14   that rest against this key's usual rest before a cancel, / 3, clipped to ±2
 *   15   self-trade: the counterparty is the participant
 *   16   executed against someone (counterparty present)
 *   17   around a cancel, a fill of this key on the other side within 2 s; on a fill, this key
 *        has orders resting on the other side
 *   18   price move since this key's last marketable order (within 60 s), bps / 10, in that
 *        order's direction, clipped to ±5
 *   19   log1p(this key's resting orders on the event's side) / 3
 *   20   this key's share of the displayed depth on the event's side
 *   21   log gap since the symbol's previous event against the symbol's usual, / 3, clipped to ±2
 */
import type { Batch } from '../../src/batch.js';
import type { OrderSchema } from '../../src/contracts.js';
import { ConfigError } from '../../src/errors.js';
import { addStats, checkBounds, entriesOf, keyedEntries, KeyedStore, type KeyedEntries, type StateBounds, type StateStats } from '../../src/state.js';
import type { Encoder } from '../../operators/score.js';
import { pushAndWrite } from './order-sequence.js';

export const RelativeFeatures = [
  'isNew', 'isCancel', 'isReplace', 'isExec', 'side', 'marketable', 'dark', 'touchDistanceBps', 'levelShare', 'imbalanceToward',
  'qtyVsOwnMean', 'gapVsOwnUsual', 'logGapKey', 'logOrderAge', 'cancelAgeVsOwnUsual', 'selfTrade', 'hasCounterparty',
  'oppositeFillNearCancel', 'moveAfterOwnAggression', 'ownRestingOrders', 'ownDepthShare', 'symbolGapVsUsual',
] as const;
export const RELATIVE_WIDTH = RelativeFeatures.length;

type SeqInput = Pick<OrderSchema, 'ts' | 'venue' | 'symbol' | 'orderId' | 'participant' | 'side' | 'type' | 'orderType' | 'price' | 'qty' | 'displayQty' | 'counterparty' | 'execId'>;

/** a resting order as the feed showed it: side (0 buy, 1 sell), price key, size left, entry time, owner key, whether it is displayed */
interface Ord { side: 0 | 1; px: number; qty: number; ts: number; key: string; shown: boolean }
interface Book { orders: Map<string, Ord>; levels: [Map<number, number>, Map<number, number>]; total: [number, number]; best: [number, number]; lastPrice: number; lastTs: number; logGap: number }
interface KeyState {
  ring: Float32Array; n: number; lastTs: number; meanQty: number; logGap: number; logCancelAge: number;
  lastFill: [number, number]; aggrRef: number; aggrSign: number; aggrTs: number; ownQty: [number, number]; ownN: [number, number];
}

const PX = 1e4; // price keys: currency × 10,000 (LOBSTER's own resolution), integers
const EW = 0.05; // weight of the newest observation in a key's running baselines

export interface RelativeSequenceOptions {
  length?: number;
  /** resting orders kept per symbol before the oldest are forgotten (default 50,000) */
  maxOrdersPerSymbol?: number;
  state?: StateBounds;
}

export class RelativeOrderEncoder implements Encoder<SeqInput> {
  readonly length: number;
  readonly widths: readonly number[];
  readonly #maxOrders: number;
  readonly #bounds: StateBounds;
  #keys: KeyedStore<KeyState>;
  #books: KeyedStore<Book>;
  readonly #ev = new Float32Array(RELATIVE_WIDTH);
  #lastKey = '';
  #lastSeq = 0;

  constructor(opts: RelativeSequenceOptions = {}) {
    this.length = opts.length ?? 32;
    this.#maxOrders = opts.maxOrdersPerSymbol ?? 50_000;
    this.#bounds = checkBounds('relativeSequence', opts.state);
    if (!Number.isInteger(this.length) || this.length < 1) throw new ConfigError(`relativeSequence: length must be a positive integer, got ${String(opts.length)}`);
    this.widths = [this.length * RELATIVE_WIDTH];
    this.#keys = new KeyedStore(this.#bounds); this.#books = new KeyedStore(this.#bounds);
  }

  get keys(): number { return this.#keys.size; }

  /** best bid and ask as the rebuilt book has them (NaN: none), for tests */
  touch(symbol: string): [number, number] { const b = this.#books.get(symbol); return b ? [best(b, 0) / PX, best(b, 1) / PX] : [NaN, NaN]; }

  encode(batch: Batch<SeqInput>, i: number, dst: Float32Array[], at: number): void {
    const c = batch.columns;
    const participant = c.participant[i], symbol = c.symbol[i];
    const ts = c.ts[i], type = c.type[i], qty = c.qty[i], price = c.price[i], ot = c.orderType[i], id = c.orderId[i];
    const b = this.#books.touch(symbol, ts) ?? this.#books.add(symbol, newBook(), ts);
    const key = participant + '\u0000' + symbol;
    const k = this.#keys.touch(key, ts) ?? this.#keys.add(key, newKey(this.length), ts);
    const side: 0 | 1 = c.side[i] === 'B' ? 0 : 1, sgn = side === 0 ? 1 : -1;
    const bb = best(b, 0), ba = best(b, 1);
    const sane = bb > 0 && ba > 0 && bb < ba;
    const ref = sane ? (bb + ba) / 2 : b.lastPrice > 0 ? b.lastPrice : price > 0 ? price * PX : NaN;
    const px = price > 0 ? Math.round(price * PX) : NaN;
    const ord = b.orders.get(id);
    const own = ord && ord.key === key ? ord : undefined;

    const e = this.#ev;
    e.fill(0);
    e[0] = type === 'NEW' ? 1 : 0; e[1] = type === 'CANCEL' ? 1 : 0; e[2] = type === 'REPLACE' ? 1 : 0; e[3] = type === 'EXEC' ? 1 : 0;
    e[4] = sgn;
    const entering = type === 'NEW' || type === 'REPLACE';
    const marketable = entering && (ot === 'MARKET' || ot === 'IOC' || (px > 0 && (side === 0 ? ba > 0 && px >= ba : bb > 0 && px <= bb)));
    e[5] = marketable ? 1 : 0;
    e[6] = c.displayQty[i] === 0 || ot === 'MIDPOINT' ? 1 : 0;
    const orderPx = type === 'CANCEL' && own ? own.px : px;
    const ownBest = side === 0 ? bb : ba;
    if (orderPx > 0 && ownBest > 0 && ref > 0) e[7] = clip(((side === 0 ? ownBest - orderPx : orderPx - ownBest) / ref) * 1000, 5);
    if (orderPx > 0) {
      const depth = b.levels[side].get(orderPx) ?? 0;
      const size = type === 'CANCEL' && own ? own.qty : qty;
      if (entering && !marketable && size > 0) e[8] = size / (size + depth);
      else if (type === 'CANCEL' && depth > 0) e[8] = Math.min(1, size / depth);
    }
    const qb = bb > 0 ? b.levels[0].get(bb) ?? 0 : 0, qa = ba > 0 ? b.levels[1].get(ba) ?? 0 : 0;
    if (qb + qa > 0) e[9] = (sgn * (qb - qa)) / (qb + qa);
    if (qty > 0) {
      e[10] = Number.isFinite(k.meanQty) ? clip(Math.log(qty / k.meanQty), 4) : 0;
      k.meanQty = Number.isFinite(k.meanQty) ? k.meanQty + EW * (qty - k.meanQty) : qty;
    }
    if (Number.isFinite(k.lastTs)) {
      const lg = Math.log1p(Math.max(0, ts - k.lastTs));
      e[11] = Number.isFinite(k.logGap) ? clip((lg - k.logGap) / 3, 2) : 0;
      e[12] = lg / 16;
      k.logGap = Number.isFinite(k.logGap) ? k.logGap + EW * (lg - k.logGap) : lg;
    } else e[12] = 1;
    if ((type === 'CANCEL' || type === 'EXEC') && ord) {
      const la = Math.log1p(Math.max(0, ts - ord.ts));
      e[13] = la / 16;
      if (type === 'CANCEL') {
        e[14] = Number.isFinite(k.logCancelAge) ? clip((la - k.logCancelAge) / 3, 2) : 0;
        k.logCancelAge = Number.isFinite(k.logCancelAge) ? k.logCancelAge + EW * (la - k.logCancelAge) : la;
      }
    }
    const cp = c.counterparty[i];
    e[15] = cp !== '' && cp === participant ? 1 : 0;
    e[16] = cp !== '' ? 1 : 0;
    const other = (1 - side) as 0 | 1;
    if (type === 'CANCEL') e[17] = ts - k.lastFill[other] <= 2e6 ? 1 : 0;
    else if (type === 'EXEC') e[17] = k.ownQty[other] > 0 ? 1 : 0;
    if (ref > 0 && k.aggrRef > 0 && ts - k.aggrTs <= 60e6) e[18] = clip(((ref - k.aggrRef) / k.aggrRef) * 1000 * k.aggrSign, 5);
    if (marketable && ref > 0) { k.aggrRef = ref; k.aggrSign = sgn; k.aggrTs = ts; }

    // the book and the key's resting orders move with the event (after it was described against them)
    if (type === 'EXEC') { if (price > 0) b.lastPrice = px; k.lastFill[side] = ts; }
    if (type === 'NEW') {
      if (ot !== 'MARKET' && ot !== 'IOC' && px > 0 && !marketable) this.#rest(b, k, id, { side, px, qty, ts, key, shown: e[6] === 0 });
      else if (ot !== 'MARKET') b.orders.set(id, { side, px, qty: 0, ts, key, shown: false }); // for its fills' age only
    } else if (type === 'REPLACE' && own) {
      this.#take(b, k, id, own, own.qty);
      if (px > 0 && !marketable) this.#rest(b, k, id, { ...own, px, qty, ts: own.ts });
    } else if ((type === 'CANCEL' || type === 'EXEC') && ord) {
      this.#take(b, ord.key === key ? k : undefined, id, ord, Math.min(ord.qty, qty));
      if (type === 'CANCEL' || ord.qty <= 0) b.orders.delete(id);
    }
    e[19] = Math.log1p(k.ownN[side]) / 3;
    e[20] = b.total[side] > 0 ? Math.min(1, k.ownQty[side] / b.total[side]) : 0;
    if (Number.isFinite(b.lastTs)) {
      const lg = Math.log1p(Math.max(0, ts - b.lastTs));
      e[21] = Number.isFinite(b.logGap) ? clip((lg - b.logGap) / 3, 2) : 0;
      b.logGap = Number.isFinite(b.logGap) ? b.logGap + 0.01 * (lg - b.logGap) : lg;
    }
    b.lastTs = ts; k.lastTs = ts;

    k.n = pushAndWrite(k.ring, k.n, e, this.length, dst[0], at);
    this.#lastKey = key; this.#lastSeq = k.n;
  }

  #rest(b: Book, k: KeyState | undefined, id: string, o: Ord): void {
    b.orders.set(id, o);
    if (o.shown) {
      b.levels[o.side].set(o.px, (b.levels[o.side].get(o.px) ?? 0) + o.qty);
      b.total[o.side] += o.qty;
      const cur = b.best[o.side];
      if (cur > 0 && (o.side === 0 ? o.px > cur : o.px < cur)) b.best[o.side] = o.px;
    }
    if (k) { k.ownQty[o.side] += o.qty; k.ownN[o.side]++; }
    if (b.orders.size > this.#maxOrders) {
      const [oldId, old] = b.orders.entries().next().value!;
      this.#take(b, undefined, oldId, old, old.qty);
      b.orders.delete(oldId);
    }
  }

  /** `q` of order `o` leaves the book (cancelled, executed or replaced) */
  #take(b: Book, k: KeyState | undefined, _id: string, o: Ord, q: number): void {
    if (q <= 0) return;
    if (o.shown) {
      const left = (b.levels[o.side].get(o.px) ?? 0) - q;
      if (left > 0) b.levels[o.side].set(o.px, left);
      else { b.levels[o.side].delete(o.px); if (b.best[o.side] === o.px) b.best[o.side] = 0; }
      b.total[o.side] = Math.max(0, b.total[o.side] - q);
    }
    if (k) { k.ownQty[o.side] = Math.max(0, k.ownQty[o.side] - q); if (o.qty - q <= 0) k.ownN[o.side] = Math.max(0, k.ownN[o.side] - 1); }
    o.qty -= q;
  }

  lastKey(): string { return this.#lastKey; }
  lastSeq(): number { return this.#lastSeq; }

  snapshot(): unknown {
    const orders: [string, [number, number, number, number, string, number]][] = [];
    for (const [sym, b] of this.#books) for (const [id, o] of b.orders) orders.push([`${sym}\u0000${id}`, [o.side, o.px, o.qty, o.ts, o.key, o.shown ? 1 : 0]]);
    return {
      keys: keyedEntries([...this.#keys].map(([key, s]) => [key, [Array.from(s.ring), s.n, nul(s.lastTs), nul(s.meanQty), nul(s.logGap), nul(s.logCancelAge), s.lastFill.map(nul), nul(s.aggrRef), s.aggrSign, nul(s.aggrTs), s.ownQty, s.ownN]])),
      books: keyedEntries([...this.#books].map(([sym, b]) => [sym, [nul(b.lastPrice), nul(b.lastTs), nul(b.logGap)]])),
      orders: keyedEntries(orders),
    };
  }

  restore(state: unknown): void {
    type K = [number[], number, N, N, N, N, [N, N], N, number, N, [number, number], [number, number]];
    type N = number | null;
    const st = state as { keys: KeyedEntries<K>; books: KeyedEntries<[N, N, N]>; orders: KeyedEntries<[0 | 1, number, number, number, string, number]> };
    const un = (x: N) => x ?? NaN;
    this.#keys = new KeyedStore(this.#bounds); this.#books = new KeyedStore(this.#bounds);
    for (const [key, [ring, n, lastTs, meanQty, logGap, logCancelAge, lastFill, aggrRef, aggrSign, aggrTs, ownQty, ownN]] of entriesOf(st.keys)) {
      this.#keys.set(key, { ring: Float32Array.from(ring), n, lastTs: un(lastTs), meanQty: un(meanQty), logGap: un(logGap), logCancelAge: un(logCancelAge), lastFill: [un(lastFill[0]), un(lastFill[1])], aggrRef: un(aggrRef), aggrSign, aggrTs: un(aggrTs), ownQty: [ownQty[0], ownQty[1]], ownN: [ownN[0], ownN[1]] });
    }
    for (const [sym, [lastPrice, lastTs, logGap]] of entriesOf(st.books)) this.#books.set(sym, { ...newBook(), lastPrice: un(lastPrice), lastTs: un(lastTs), logGap: un(logGap) });
    for (const [k, [side, px, qty, ts, key, shown]] of entriesOf(st.orders)) {
      const cut = k.indexOf('\u0000');
      const sym = k.slice(0, cut);
      let b = this.#books.get(sym);
      if (!b) { b = newBook(); this.#books.set(sym, b); }
      const o: Ord = { side, px, qty, ts, key, shown: shown === 1 };
      b.orders.set(k.slice(cut + 1), o);
      if (o.shown && o.qty > 0) { b.levels[side].set(px, (b.levels[side].get(px) ?? 0) + qty); b.total[side] += qty; }
    }
  }

  expire(watermark: number): void { this.#keys.expire(watermark); this.#books.expire(watermark); }
  stateStats(): StateStats { return addStats(this.#keys.stats(), this.#books.stats()); }
}

function newBook(): Book { return { orders: new Map(), levels: [new Map(), new Map()], total: [0, 0], best: [0, 0], lastPrice: NaN, lastTs: NaN, logGap: NaN }; }
function newKey(length: number): KeyState {
  return { ring: new Float32Array(length * RELATIVE_WIDTH), n: 0, lastTs: NaN, meanQty: NaN, logGap: NaN, logCancelAge: NaN, lastFill: [-Infinity, -Infinity], aggrRef: NaN, aggrSign: 0, aggrTs: NaN, ownQty: [0, 0], ownN: [0, 0] };
}
/** best price key of a side (0 bids, 1 asks), rescanning the levels when the best one emptied; 0 when the side is empty */
function best(b: Book, side: 0 | 1): number {
  if (b.best[side] > 0 && b.levels[side].has(b.best[side])) return b.best[side];
  let x = 0;
  for (const p of b.levels[side].keys()) if (x === 0 || (side === 0 ? p > x : p < x)) x = p;
  b.best[side] = x;
  return x;
}
function clip(x: number, m: number): number { return x > m ? m : x < -m ? -m : x; }
function nul(x: number): number | null { return Number.isFinite(x) ? x : null; }
