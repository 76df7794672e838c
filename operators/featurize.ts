/**
 * Order-flow features, one row per order event, for surveillance models.
 *
 * Per symbol it keeps the visible order book (resting orders by id, quantity per price
 * level); per participant × symbol it keeps the events of the last `horizonUs`. Each
 * event updates both, then its row gets:
 *
 *  participant × symbol (over the horizon):
 *   otr               order-to-trade ratio: order messages (NEW and REPLACE) / max(1, executions)
 *   cancelRatio       cancels / max(1, order messages)
 *   cancelLatencyUs   mean time from an order's entry to its cancel (NaN: none)
 *   interArrivalUs    time since the participant's previous event on the symbol
 *   interArrivalCv    coefficient of variation of inter-arrival times
 *   selfTrades        executions whose counterparty is the participant
 *   restingLevels     distinct price levels of the participant's resting orders
 *   restingSpanBps    (highest − lowest resting price) / mid, in basis points
 *   eventsInHorizon   the participant's events on the symbol
 *  symbol:
 *   bookImbalance     (bid − ask) / (bid + ask) quantity over the top `depth` levels
 *   ofi               order-flow imbalance (Cont, Kukanov & Stoikov 2014) summed over the horizon
 *   spreadBps         best ask − best bid, over mid
 *   midPrice
 *   vwapDevBps        (event price, or mid) − VWAP of executions over the horizon, over VWAP
 *
 * Key the stream by symbol (the contract's Kafka key) so each book lives in one
 * partition. Absent values are NaN.
 *
 *   orders.keyBy('by-symbol', (c, i) => c.symbol[i]).via('features', featurize({ horizonUs: 10_000_000 }))
 */
import { rejectUnknown } from '../src/config.js';
import { checkBounds, entriesOf, keyedEntries, KeyedStore, type StateBounds } from '../src/state.js';
import { BatchBuilder, type Schema } from '../src/batch.js';
import type { OrderSchema } from '../src/contracts.js';
import { ConfigError } from '../src/errors.js';
import type { NoSides, OperatorDef } from '../src/operator.js';
import { Ring } from './ring.js';

export const FeatureNames = [
  'otr', 'cancelRatio', 'cancelLatencyUs', 'interArrivalUs', 'interArrivalCv', 'selfTrades', 'restingLevels', 'restingSpanBps', 'eventsInHorizon',
  'bookImbalance', 'ofi', 'spreadBps', 'midPrice', 'vwapDevBps',
] as const;
export type FeatureName = (typeof FeatureNames)[number];
export type Featurized<S extends Schema> = S & { readonly [K in FeatureName]: 'f64' };

export interface FeaturizeConfig {
  /** how far back rolling features look, µs (default 10 s) */
  horizonUs?: number;
  /** book levels per side for imbalance (default 5) */
  depth?: number;
  /** bounds on the symbols (books and their participants) held per partition (default: unbounded) */
  state?: StateBounds;
}

type OrderInput = Pick<OrderSchema, 'ts' | 'symbol' | 'participant' | 'orderId' | 'side' | 'type' | 'price' | 'qty' | 'displayQty' | 'counterparty'>;

interface RestingOrder { p: ParticipantState; side: string; price: number; qty: number; ts: number; visible: boolean }
interface SymbolState {
  orders: Map<string, RestingOrder>;
  bids: Map<number, number>; asks: Map<number, number>;
  /** price levels sorted best first, and their quantities aligned with them */
  bidPx: number[]; askPx: number[]; bidQ: number[]; askQ: number[];
  /** rows [ts, e] */ ofi: Ring; ofiSum: number;
  /** rows [ts, px·qty, qty] */ vwap: Ring; pq: number; q: number;
  /** participant → state on this symbol (nested maps: no key string built per event) */
  parts: Map<string, ParticipantState>;
}
interface ParticipantState {
  /** rows [ts, kind (0 new, 1 cancel, 2 exec, 3 other), cancel latency or NaN, self-trade 0/1, inter-arrival or NaN] */
  ev: Ring;
  nNew: number; nCancel: number; nExec: number; nSelf: number;
  clSum: number; clN: number; iaSum: number; iaSq: number; iaN: number;
  lastTs: number;
  /** price level → number of the participant's resting orders there */
  levels: Map<number, number>;
}

type SymbolSnapshot = [string, {
  orders: [string, Omit<RestingOrder, 'p'> & { p: string }][]; bids: [number, number][]; asks: [number, number][];
  ofi: number[]; ofiSum: number; vwap: number[]; pq: number; q: number;
  parts: [string, Omit<ParticipantState, 'ev' | 'levels' | 'lastTs'> & { ev: (number | null)[]; levels: [number, number][]; lastTs: number | null }][];
}];

function newParticipant(): ParticipantState {
  return { ev: new Ring(5), nNew: 0, nCancel: 0, nExec: 0, nSelf: 0, clSum: 0, clN: 0, iaSum: 0, iaSq: 0, iaN: 0, lastTs: NaN, levels: new Map() };
}

const KIND: Record<string, number> = { NEW: 0, CANCEL: 1, EXEC: 2, REPLACE: 0 };

export function featurize<S extends Schema & OrderInput>(config: FeaturizeConfig = {}): OperatorDef<S, Featurized<S>, NoSides> & { keyed: true } {
  rejectUnknown('featurize', config, ['horizonUs', 'depth', 'state']);
  const bounds = checkBounds('featurize', config.state);
  const horizon = config.horizonUs ?? 10_000_000;
  if (!(Number.isFinite(horizon) && horizon > 0)) throw new ConfigError(`featurize: options.horizonUs must be > 0, got ${horizon}`);
  const depth = config.depth ?? 5;
  if (!Number.isInteger(depth) || depth <= 0) throw new ConfigError(`featurize: options.depth must be a positive integer, got ${depth}`);
  const outputOf = (input: Schema): Featurized<S> => {
    for (const f of ['ts', 'symbol', 'participant', 'orderId', 'side', 'type', 'price', 'qty', 'displayQty', 'counterparty']) {
      if (!(f in input)) throw new ConfigError(`featurize: input lacks order-event field '${f}'`);
    }
    const o: Record<string, string> = { ...input };
    for (const f of FeatureNames) o[f] = 'f64';
    return o as unknown as Featurized<S>;
  };

  return {
    kind: 'featurize', output: outputOf, sides: {}, keyed: true,
    create() {
      const symbols = new KeyedStore<SymbolState>(bounds);
      let outSchema: Featurized<S> | undefined;
      // top of book before and after each event, reused to keep the loop allocation-free
      const before: Top = { bid: NaN, bidQ: 0, ask: NaN, askQ: 0 };
      const after: Top = { bid: NaN, bidQ: 0, ask: NaN, askQ: 0 };

      const sym = (s: string, ts: number): SymbolState =>
        symbols.touch(s, ts) ?? symbols.add(s, { orders: new Map(), bids: new Map(), asks: new Map(), bidPx: [], askPx: [], bidQ: [], askQ: [], ofi: new Ring(2), ofiSum: 0, vwap: new Ring(3), pq: 0, q: 0, parts: new Map() }, ts);
      const part = (s: SymbolState, participant: string): ParticipantState => {
        let st = s.parts.get(participant);
        if (!st) { st = newParticipant(); s.parts.set(participant, st); }
        return st;
      };

      /** add dq (may be negative) at a price level, keeping sorted level arrays */
      const level = (s: SymbolState, side: string, price: number, dq: number) => {
        const book = side === 'B' ? s.bids : s.asks;
        const px = side === 'B' ? s.bidPx : s.askPx;
        const qs = side === 'B' ? s.bidQ : s.askQ;
        const had = book.get(price);
        const q = (had ?? 0) + dq;
        if (q > 0) {
          const at = findPos(px, price, side === 'B');
          if (had === undefined) { px.splice(at, 0, price); qs.splice(at, 0, q); } else qs[at] = q;
          book.set(price, q);
        } else if (had !== undefined) {
          book.delete(price);
          const at = findPos(px, price, side === 'B');
          px.splice(at, 1); qs.splice(at, 1);
        }
      };
      const restingLevel = (p: ParticipantState, price: number, d: number) => {
        const n = (p.levels.get(price) ?? 0) + d;
        if (n > 0) p.levels.set(price, n); else p.levels.delete(price);
      };
      return {
        process(batch, ctx) {
          outSchema ??= outputOf(batch.schema);
          const c = batch.columns as unknown as { [K in keyof OrderInput]: OrderInput[K] extends 'str' ? string[] : Float64Array };
          // input columns pass through without copying; only the new ones are allocated
          const out = new BatchBuilder(outSchema, batch.length, batch.columns);
          const oc = out.columns as Record<string, unknown>;
          const F = FeatureNames.map((f) => oc[f] as Float64Array);
          const [fOtr, fCancel, fCl, fIa, fIaCv, fSelf, fLevels, fSpan, fEvents, fImb, fOfi, fSpread, fMid, fVwap] = F;
          symbols.expire(ctx.watermark);
          for (let i = 0; i < batch.length; i++) {
            const ts = c.ts[i], symbol = c.symbol[i], participant = c.participant[i], id = c.orderId[i];
            const type = c.type[i], side = c.side[i], price = c.price[i], qty = c.qty[i];
            const s = sym(symbol, ts);
            const p = part(s, participant);
            best(s, before);
            let cancelLat = NaN, self = 0;
            // --- book update
            if (type === 'NEW' && Number.isFinite(price)) {
              const visible = !(c.displayQty[i] === 0);
              const o: RestingOrder = { p, side, price, qty, ts, visible };
              const prev = s.orders.get(id);
              if (prev) dropOrder(s, id, prev);
              s.orders.set(id, o);
              if (visible) level(s, side, price, qty);
              restingLevel(p, price, 1);
            } else if (type === 'CANCEL' || type === 'EXEC' || type === 'REPLACE') {
              const o = s.orders.get(id);
              if (type === 'EXEC') {
                const px = Number.isFinite(price) ? price : o?.price ?? NaN;
                if (Number.isFinite(px) && qty > 0) { s.vwap.push3(ts, px * qty, qty); s.pq += px * qty; s.q += qty; }
                if (c.counterparty[i] !== '' && c.counterparty[i] === participant) self = 1;
              }
              if (o) {
                if (type === 'REPLACE') {
                  if (o.visible) level(s, o.side, o.price, -o.qty);
                  restingLevel(o.p, o.price, -1);
                  if (Number.isFinite(price)) o.price = price;
                  o.qty = qty; o.ts = ts;
                  if (o.visible) level(s, o.side, o.price, o.qty);
                  restingLevel(o.p, o.price, 1);
                } else {
                  if (type === 'CANCEL') cancelLat = ts - o.ts;
                  const q = Math.min(qty, o.qty);
                  if (o.visible) level(s, o.side, o.price, -q);
                  o.qty -= q;
                  if (o.qty <= 0) { s.orders.delete(id); restingLevel(o.p, o.price, -1); }
                }
              }
            }
            best(s, after);
            // --- order-flow imbalance at the top of book (Cont et al.)
            const e = ofiContribution(before, after);
            if (e !== 0) { s.ofi.push2(ts, e); s.ofiSum += e; }
            // --- evict beyond the horizon
            const from = ts - horizon;
            while (s.ofi.length && s.ofi.front(0) < from) { s.ofiSum -= s.ofi.front(1); s.ofi.shift(); }
            while (s.vwap.length && s.vwap.front(0) < from) { s.pq -= s.vwap.front(1); s.q -= s.vwap.front(2); s.vwap.shift(); }
            while (p.ev.length && p.ev.front(0) < from) {
              const k = p.ev.front(1);
              if (k === 0) p.nNew--; else if (k === 1) p.nCancel--; else if (k === 2) p.nExec--;
              const cl = p.ev.front(2); if (cl === cl) { p.clSum -= cl; p.clN--; }
              p.nSelf -= p.ev.front(3);
              const ia = p.ev.front(4); if (ia === ia) { p.iaSum -= ia; p.iaSq -= ia * ia; p.iaN--; }
              p.ev.shift();
            }
            // --- participant × symbol rolling counts
            const kind = KIND[type] ?? 3;
            const ia = Number.isNaN(p.lastTs) ? NaN : Math.max(0, ts - p.lastTs);
            p.lastTs = Math.max(ts, Number.isNaN(p.lastTs) ? ts : p.lastTs);
            p.ev.push5(ts, kind, cancelLat, self, ia);
            if (kind === 0) p.nNew++; else if (kind === 1) p.nCancel++; else if (kind === 2) p.nExec++;
            if (cancelLat === cancelLat) { p.clSum += cancelLat; p.clN++; }
            p.nSelf += self;
            if (ia === ia) { p.iaSum += ia; p.iaSq += ia * ia; p.iaN++; }
            // --- features
            const mid = (after.bid + after.ask) / 2;
            fOtr[i] = p.nNew / Math.max(1, p.nExec);
            fCancel[i] = p.nCancel / Math.max(1, p.nNew);
            fCl[i] = p.clN ? p.clSum / p.clN : NaN;
            fIa[i] = ia;
            if (p.iaN > 1) {
              const m = p.iaSum / p.iaN;
              const v = Math.max(0, p.iaSq / p.iaN - m * m);
              fIaCv[i] = m > 0 ? Math.sqrt(v) / m : 0;
            } else fIaCv[i] = NaN;
            fSelf[i] = p.nSelf;
            fLevels[i] = p.levels.size;
            if (p.levels.size && mid > 0) {
              let lo = Infinity, hi = -Infinity;
              for (const px of p.levels.keys()) { if (px < lo) lo = px; if (px > hi) hi = px; }
              fSpan[i] = ((hi - lo) / mid) * 1e4;
            } else fSpan[i] = p.levels.size ? 0 : NaN;
            fEvents[i] = p.ev.length;
            let bq = 0, aq = 0;
            const bQ = s.bidQ, aQ = s.askQ;
            for (let j = 0; j < depth && j < bQ.length; j++) bq += bQ[j];
            for (let j = 0; j < depth && j < aQ.length; j++) aq += aQ[j];
            fImb[i] = bq + aq > 0 ? (bq - aq) / (bq + aq) : NaN;
            fOfi[i] = s.ofiSum;
            fSpread[i] = mid > 0 ? ((after.ask - after.bid) / mid) * 1e4 : NaN;
            fMid[i] = mid;
            const vwap = s.q > 0 ? s.pq / s.q : NaN;
            const px = Number.isFinite(price) && type !== 'HALT' ? price : mid;
            fVwap[i] = vwap > 0 ? ((px - vwap) / vwap) * 1e4 : NaN;
          }
          out.length = batch.length;
          ctx.emit(out.finish(batch.meta));
        },
        stateStats: () => symbols.stats(),
        snapshot: () => keyedEntries([...symbols].map(([k, s]): SymbolSnapshot => {
          const names = new Map<ParticipantState, string>();
          for (const [name, p] of s.parts) names.set(p, name);
          return [k, {
            orders: [...s.orders].map(([id, o]) => [id, { ...o, p: names.get(o.p)! }]),
            bids: [...s.bids], asks: [...s.asks], ofi: s.ofi.toJSON(), ofiSum: s.ofiSum, vwap: s.vwap.toJSON(), pq: s.pq, q: s.q,
            parts: [...s.parts].map(([name, p]) => [name, { ...p, ev: p.ev.toJSON(), levels: [...p.levels], lastTs: Number.isNaN(p.lastTs) ? null : p.lastTs }]),
          }] as SymbolSnapshot;
        })),
        restore(state) {
          symbols.clear();
          for (const [k, s] of entriesOf(state as SymbolSnapshot[])) {
            const parts = new Map<string, ParticipantState>();
            // JSON turned NaN (no cancel latency / inter-arrival) into null
            for (const [name, p] of s.parts) parts.set(name, { ...p, ev: Ring.from(5, p.ev.map((x) => (x === null ? NaN : x))), levels: new Map(p.levels), lastTs: p.lastTs ?? NaN });
            symbols.set(k, {
              orders: new Map(s.orders.map(([id, o]) => [id, { ...o, p: parts.get(o.p)! }])), bids: new Map(s.bids), asks: new Map(s.asks),
              ...sortedLevels(s.bids, s.asks),
              ofi: Ring.from(2, s.ofi), ofiSum: s.ofiSum, vwap: Ring.from(3, s.vwap), pq: s.pq, q: s.q, parts,
            });
          }
        },
      };

      function dropOrder(s: SymbolState, id: string, o: RestingOrder): void {
        if (o.visible) level(s, o.side, o.price, -o.qty);
        restingLevel(o.p, o.price, -1);
        s.orders.delete(id);
      }
    },
  };
}

interface Top { bid: number; bidQ: number; ask: number; askQ: number }
function best(s: SymbolState, out: Top): void {
  const bid = s.bidPx.length ? s.bidPx[0] : NaN;
  const ask = s.askPx.length ? s.askPx[0] : NaN;
  out.bid = bid; out.bidQ = bid === bid ? s.bidQ[0] : 0;
  out.ask = ask; out.askQ = ask === ask ? s.askQ[0] : 0;
}

/** e_n of Cont, Kukanov & Stoikov: change in queue sizes at the best quotes */
function ofiContribution(b: Top, a: Top): number {
  if (!(b.bid === b.bid && a.bid === a.bid && b.ask === b.ask && a.ask === a.ask)) return 0;
  let e = 0;
  if (a.bid >= b.bid) e += a.bidQ;
  if (a.bid <= b.bid) e -= b.bidQ;
  if (a.ask <= b.ask) e -= a.askQ;
  if (a.ask >= b.ask) e += b.askQ;
  return e;
}

function sortedLevels(bids: [number, number][], asks: [number, number][]) {
  const b = [...bids].sort((x, y) => y[0] - x[0]);
  const a = [...asks].sort((x, y) => x[0] - y[0]);
  return { bidPx: b.map((l) => l[0]), bidQ: b.map((l) => l[1]), askPx: a.map((l) => l[0]), askQ: a.map((l) => l[1]) };
}

/** index of price in a sorted array (descending for bids), or where it would go */
function findPos(px: number[], price: number, desc: boolean): number {
  let lo = 0, hi = px.length;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if (desc ? px[mid] > price : px[mid] < price) lo = mid + 1; else hi = mid;
  }
  return lo;
}
