/**
 * Encodes order events as sequences for transformer models: for each participant ×
 * symbol, the last `length` events (oldest first, zero-padded in front), 16 values per
 * event. The same code makes the training data (models/tools/dump-sequences.ts) and
 * the live inputs, so training and serving cannot drift apart.
 *
 * Per event:
 *   0–3  type one-hot: NEW, CANCEL, REPLACE, EXEC
 *   4    side: +1 buy, −1 sell
 *   5    aggressive order type (MARKET or IOC)
 *   6    midpoint order
 *   7    hidden or dark (displayQty 0, or a dark venue)
 *   8    log1p(qty) / 8
 *   9    price − the symbol's last trade price, in bps / 10, clipped to ±5 (0 if absent)
 *   10   log1p(µs since this key's previous event) / 16
 *   11   log1p(µs the order rested before this cancel / execution) / 16 (0 otherwise)
 *   12   self-trade: the counterparty is the participant
 *   13   executed against another participant (counterparty present)
 *   14   log1p(µs since the symbol's previous event) / 16
 *   15   log(qty / this key's running mean qty), clipped to ±4
 */
import type { Batch } from '../../src/batch.js';
import type { OrderSchema } from '../../src/contracts.js';
import { ConfigError } from '../../src/errors.js';
import { addStats, checkBounds, entriesOf, keyedEntries, KeyedStore, type KeyedEntries, type StateBounds, type StateStats } from '../../src/state.js';
import type { Encoder } from '../../operators/score.js';

export const SequenceFeatures = [
  'isNew', 'isCancel', 'isReplace', 'isExec', 'side', 'aggressive', 'midpoint', 'hidden', 'logQty', 'priceDevBps',
  'logGapKey', 'logOrderAge', 'selfTrade', 'hasCounterparty', 'logGapSymbol', 'qtyVsMean',
] as const;
export const EVENT_WIDTH = SequenceFeatures.length;

type SeqInput = Pick<OrderSchema, 'ts' | 'venue' | 'symbol' | 'orderId' | 'participant' | 'side' | 'type' | 'orderType' | 'price' | 'qty' | 'displayQty' | 'counterparty' | 'execId'>;

interface KeyState { ring: Float32Array; n: number; lastTs: number; meanQty: number }
interface SymbolState { lastPrice: number; lastTs: number; orders: Map<string, number> }

export interface OrderSequenceOptions {
  /** events per sequence (default 32) */
  length?: number;
  /** resting-order entry times kept per symbol before the oldest are forgotten (default 50,000) */
  maxOrdersPerSymbol?: number;
  /** bounds on the participant×symbol histories and the symbols' books, per partition (default: unbounded) */
  state?: StateBounds;
}

export class OrderSequenceEncoder implements Encoder<SeqInput> {
  readonly length: number;
  readonly widths: readonly number[];
  readonly #maxOrders: number;
  /**
   * the keys' rings and the symbols' books of one source partition (the scoring stage makes
   * one encoder per partition: the topic is keyed by symbol, so a partition's keys and
   * symbols stay together, and the detector's history moves with the partition through the
   * changelog and survives restarts and rebalances)
   */
  #keys: KeyedStore<KeyState>;
  #symbols: KeyedStore<SymbolState>;
  readonly #bounds: StateBounds;
  readonly #ev = new Float32Array(EVENT_WIDTH);
  #lastKey = '';
  #lastSeq = 0;

  constructor(opts: OrderSequenceOptions = {}) {
    this.length = opts.length ?? 32;
    this.#maxOrders = opts.maxOrdersPerSymbol ?? 50_000;
    this.#bounds = checkBounds('orderSequence', opts.state);
    if (!Number.isInteger(this.length) || this.length < 1) throw new ConfigError(`orderSequence: length must be a positive integer, got ${String(opts.length)}`);
    this.widths = [this.length * EVENT_WIDTH];
    this.#keys = new KeyedStore(this.#bounds); this.#symbols = new KeyedStore(this.#bounds);
  }

  /** keys with state (for tests and metrics) */
  get keys(): number { return this.#keys.size; }

  encode(batch: Batch<SeqInput>, i: number, dst: Float32Array[], at: number): void {
    const c = batch.columns;
    const participant = c.participant[i], symbol = c.symbol[i];
    const ts = c.ts[i], type = c.type[i], qty = c.qty[i], price = c.price[i];
    const sym = this.#symbols.touch(symbol, ts) ?? this.#symbols.add(symbol, { lastPrice: NaN, lastTs: NaN, orders: new Map() }, ts);
    const key = participant + '\u0000' + symbol;
    const k = this.#keys.touch(key, ts) ?? this.#keys.add(key, { ring: new Float32Array(this.length * EVENT_WIDTH), n: 0, lastTs: NaN, meanQty: NaN }, ts);

    const e = this.#ev;
    e.fill(0);
    e[0] = type === 'NEW' ? 1 : 0; e[1] = type === 'CANCEL' ? 1 : 0; e[2] = type === 'REPLACE' ? 1 : 0; e[3] = type === 'EXEC' ? 1 : 0;
    e[4] = c.side[i] === 'B' ? 1 : -1;
    const ot = c.orderType[i];
    e[5] = ot === 'MARKET' || ot === 'IOC' ? 1 : 0;
    e[6] = ot === 'MIDPOINT' ? 1 : 0;
    e[7] = c.displayQty[i] === 0 || c.venue[i].includes('DARK') ? 1 : 0;
    e[8] = Math.log1p(Math.max(0, qty)) / 8;
    if (price > 0 && sym.lastPrice > 0) e[9] = clip(((price - sym.lastPrice) / sym.lastPrice) * 1000, 5);
    e[10] = Number.isFinite(k.lastTs) ? Math.log1p(Math.max(0, ts - k.lastTs)) / 16 : 1;
    const id = c.orderId[i];
    if (type === 'NEW') {
      sym.orders.set(id, ts);
      if (sym.orders.size > this.#maxOrders) sym.orders.delete(sym.orders.keys().next().value!);
    } else if (type === 'CANCEL' || type === 'EXEC') {
      const t0 = sym.orders.get(id);
      if (t0 !== undefined) e[11] = Math.log1p(Math.max(0, ts - t0)) / 16;
      if (type === 'CANCEL') sym.orders.delete(id);
    }
    const cp = c.counterparty[i];
    e[12] = cp !== '' && cp === participant ? 1 : 0;
    e[13] = cp !== '' ? 1 : 0;
    e[14] = Number.isFinite(sym.lastTs) ? Math.log1p(Math.max(0, ts - sym.lastTs)) / 16 : 1;
    if (qty > 0) {
      e[15] = Number.isFinite(k.meanQty) ? clip(Math.log(qty / k.meanQty), 4) : 0;
      k.meanQty = Number.isFinite(k.meanQty) ? k.meanQty + 0.1 * (qty - k.meanQty) : qty;
    }
    if (type === 'EXEC' && price > 0) sym.lastPrice = price;
    sym.lastTs = ts; k.lastTs = ts;

    k.n = pushAndWrite(k.ring, k.n, e, this.length, dst[0], at);
    // for an incremental model: the key and its event count (k.n restarts when the key expires)
    this.#lastKey = key; this.#lastSeq = k.n;
  }

  lastKey(): string { return this.#lastKey; }
  lastSeq(): number { return this.#lastSeq; }

  /** the partition's state: each key's ring, each symbol's last trade, each resting order: one changelog record each */
  snapshot(): unknown {
    const orders: [string, number][] = [];
    for (const [sym, s] of this.#symbols) for (const [id, t] of s.orders) orders.push([`${sym}\u0000${id}`, t]);
    return {
      keys: keyedEntries([...this.#keys].map(([key, s]) => [key, [Array.from(s.ring), s.n, nullable(s.lastTs), nullable(s.meanQty)]])),
      symbols: keyedEntries([...this.#symbols].map(([sym, s]) => [sym, [nullable(s.lastPrice), nullable(s.lastTs)]])),
      orders: keyedEntries(orders),
    };
  }

  restore(state: unknown): void {
    const st = state as { keys: KeyedEntries<[number[], number, number | null, number | null]>; symbols: KeyedEntries<[number | null, number | null]>; orders: KeyedEntries<number> };
    this.#keys = new KeyedStore(this.#bounds); this.#symbols = new KeyedStore(this.#bounds);
    for (const [key, [ring, n, lastTs, meanQty]] of entriesOf(st.keys)) this.#keys.set(key, { ring: Float32Array.from(ring), n, lastTs: lastTs ?? NaN, meanQty: meanQty ?? NaN });
    for (const [sym, [lastPrice, lastTs]] of entriesOf(st.symbols)) this.#symbols.set(sym, { lastPrice: lastPrice ?? NaN, lastTs: lastTs ?? NaN, orders: new Map() });
    for (const [k, t] of entriesOf(st.orders)) {
      const cut = k.indexOf('\u0000');
      const sym = k.slice(0, cut);
      let s = this.#symbols.get(sym);
      if (!s) { s = { lastPrice: NaN, lastTs: NaN, orders: new Map() }; this.#symbols.set(sym, s); }
      s.orders.set(k.slice(cut + 1), t);
    }
  }

  /** drop histories idle beyond the TTL, as of the watermark (the scoring stage calls this per batch) */
  expire(watermark: number): void { this.#keys.expire(watermark); this.#symbols.expire(watermark); }

  /** keys held (participant×symbol histories and symbol books) and dropped by the bounds */
  stateStats(): StateStats { return addStats(this.#keys.stats(), this.#symbols.stats()); }
}

/**
 * Appends event `e` to a key's ring of `length` events (`n` seen so far), then writes the
 * window into `out` at row `at`, oldest first, zero-padded in front. Returns the new count.
 * Shared by the sequence encoders: the layout the models were trained on.
 */
export function pushAndWrite(ring: Float32Array, n: number, e: Float32Array, length: number, out: Float32Array, at: number): number {
  const W = e.length, L = length;
  ring.set(e, (n % L) * W);
  n++;
  const base = at * L * W;
  const have = Math.min(n, L);
  out.fill(0, base, base + (L - have) * W);
  for (let j = 0; j < have; j++) {
    const slot = (n - have + j) % L;
    out.set(ring.subarray(slot * W, slot * W + W), base + (L - have + j) * W);
  }
  return n;
}

function clip(x: number, m: number): number { return x > m ? m : x < -m ? -m : x; }
function nullable(x: number): number | null { return Number.isFinite(x) ? x : null; }
