/**
 * Pattern features (issue #18): per event, a short vector of quantities that say what the
 * seven patterns *are* (apps/surveillance/evidence.ts's acts and their sizes) and how the
 * key's recent flow departs from its own usual and from its symbol's other participants'
 * usual. No absolute level of any market enters: sizes are against the key's own or the
 * symbol's typical size, rates against the key's own or the symbol's typical rate, times to
 * cancel against the usual. A detector over these is meant to carry from one market (or
 * generator family) to another where a sequence model over raw order fields learned its
 * training generator's look instead (bench/RESULTS-generalization-experiments.md, table 1).
 *
 * One class computes them for training dumps (bench/pattern-features-dump.ts) and for the
 * engine, so that what the model was trained on is what it is served.
 */
import type { Batch } from '../../src/batch.js';
import type { OrderSchema } from '../../src/contracts.js';
import { addStats, checkBounds, entriesOf, keyedEntries, KeyedStore, type KeyedEntries, type StateBounds, type StateStats } from '../../src/state.js';
import type { Encoder } from '../../operators/score.js';
import { KeyedEvidence, type EvidenceInput } from './evidence.js';

export const PatternFeatureNames = [
  'evSpoof', 'evWash', 'evStuff', 'evIgnition', 'evPing', 'evClose',
  'spoofPulledVsOwnSize', 'washTrades', 'msgsLastSecond', 'ignitionRun', 'unfilledProbes',
  'cancelShare', 'execShare', 'marketableShare', 'probeShare', 'newSideImbalance',
  'rateVsOwn', 'rateVsPeers', 'lifetimeVsOwn', 'lifetimeVsPeers', 'sizeVsOwn', 'sizeVsPeers', 'cancelShareVsPeers', 'fillSideImbalance',
] as const;
export const PatternFeatureCount = PatternFeatureNames.length;

const W = 64, WINDOW_US = 30e6;
/** own baselines remember about 500 of the key's events; the symbol's about 2,000 of its events */
const OWN_ALPHA = 0.002, PEER_ALPHA = 0.0005;

interface KeyFlow {
  ts: Float64Array; kind: Uint8Array; side: Int8Array; marketable: Uint8Array; probe: Uint8Array; qty: Float64Array; life: Float64Array; n: number;
  entered: Map<string, number>;
  /** own baselines: log rate (events/s), log lifetime of cancelled orders (µs), log NEW size; NaN until seen */
  rate: number; life0: number; size: number;
}
interface Peers { rate: number; life0: number; size: number; cancelShare: number }

const NEW = 1, CANCEL = 2, REPLACE = 3, EXEC = 4;
const ewma = (base: number, x: number, a: number) => (Number.isNaN(base) ? x : base + a * (x - base));

type FlowState = [number[], number[], number[], number[], number[], number[], number[], number, [string, number][], number, number, number];

export class KeyedPatternFeatures {
  readonly evidence: KeyedEvidence;
  readonly #keys: KeyedStore<KeyFlow>;
  /** per symbol: its participants' running baselines (bounded and expired like the keys) */
  readonly #peers: KeyedStore<Peers>;
  readonly #out = new Float32Array(PatternFeatureCount);
  constructor(bounds: StateBounds = {}) {
    this.evidence = new KeyedEvidence(WINDOW_US, bounds);
    this.#keys = new KeyedStore(bounds);
    this.#peers = new KeyedStore(bounds);
  }

  expire(watermark: number): void { this.evidence.expire(watermark); this.#keys.expire(watermark); this.#peers.expire(watermark); }
  stateStats(): StateStats { return addStats(addStats(this.evidence.stateStats(), this.#keys.stats()), this.#peers.stats()); }

  /** each key's ring and baselines, the evidence rings, and the symbols' peer baselines */
  snapshot(): { evidence: ReturnType<KeyedEvidence['snapshot']>; keys: KeyedEntries<FlowState>; peers: KeyedEntries<Peers> } {
    const nan = (x: number) => (Number.isNaN(x) ? null : x) as number;
    return {
      evidence: this.evidence.snapshot(),
      keys: keyedEntries([...this.#keys].map(([k, f]) => [k, [Array.from(f.ts), Array.from(f.kind), Array.from(f.side), Array.from(f.marketable), Array.from(f.probe), Array.from(f.qty), Array.from(f.life, nan), f.n, [...f.entered], nan(f.rate), nan(f.life0), nan(f.size)]])),
      peers: keyedEntries([...this.#peers].map(([k, p]) => [k, { rate: nan(p.rate), life0: nan(p.life0), size: nan(p.size), cancelShare: nan(p.cancelShare) }])),
    };
  }

  restore(state: ReturnType<KeyedPatternFeatures['snapshot']>): void {
    const num = (x: number | null) => (x === null ? NaN : x);
    this.evidence.restore(state.evidence);
    this.#keys.clear(); this.#peers.clear();
    for (const [k, [ts, kind, side, marketable, probe, qty, life, n, entered, rate, life0, size]] of entriesOf(state.keys)) {
      this.#keys.set(k, { ts: Float64Array.from(ts), kind: Uint8Array.from(kind), side: Int8Array.from(side), marketable: Uint8Array.from(marketable), probe: Uint8Array.from(probe), qty: Float64Array.from(qty), life: Float64Array.from(life, num), n, entered: new Map(entered), rate: num(rate), life0: num(life0), size: num(size) });
    }
    for (const [k, p] of entriesOf(state.peers)) this.#peers.set(k, { rate: num(p.rate), life0: num(p.life0), size: num(p.size), cancelShare: num(p.cancelShare) });
  }

  /** add event i of b to key's flow (key is participant|symbol) */
  push(key: string, b: Batch<EvidenceInput>, i: number): void {
    this.evidence.push(key, b, i);
    const c = b.columns, at = c.ts[i], t = c.type[i];
    const kind = t === 'NEW' ? NEW : t === 'CANCEL' ? CANCEL : t === 'REPLACE' ? REPLACE : t === 'EXEC' ? EXEC : 0;
    let f = this.#keys.touch(key, at);
    if (!f) {
      f = this.#keys.add(key, { ts: new Float64Array(W), kind: new Uint8Array(W), side: new Int8Array(W), marketable: new Uint8Array(W), probe: new Uint8Array(W), qty: new Float64Array(W), life: new Float64Array(W), n: 0, entered: new Map(), rate: NaN, life0: NaN, size: NaN }, at);
    }
    const ot = c.orderType[i], id = c.orderId[i];
    const s = f.n % W;
    f.ts[s] = at; f.kind[s] = kind; f.side[s] = c.side[i] === 'S' ? -1 : 1; f.qty[s] = c.qty[i];
    f.marketable[s] = ot === 'MARKET' || ot === 'IOC' ? 1 : 0;
    f.probe[s] = ot === 'IOC' || ot === 'MIDPOINT' || (kind === NEW && c.displayQty[i] === 0) ? 1 : 0;
    f.life[s] = NaN;
    if (kind === NEW) {
      if (f.entered.size > 4 * W) f.entered.clear(); // bounded: lifetimes of orders older than a few windows are not needed
      f.entered.set(id, at);
    } else if (kind === CANCEL || kind === REPLACE) {
      const e0 = f.entered.get(id);
      if (e0 !== undefined) f.life[s] = Math.log(1 + Math.max(0, at - e0));
      if (kind === CANCEL) f.entered.delete(id);
    }
    f.n++;
  }

  /** the features of key's flow as of its newest event (reused array: copy what you keep) */
  features(key: string, symbol: string): Float32Array {
    const o = this.#out;
    o.fill(0);
    const f = this.#keys.get(key);
    if (!f || f.n === 0) return o;
    const e = this.evidence.evidence(key), m = this.evidence.measure;
    o[0] = +e.spoofing; o[1] = +e.wash_trade; o[2] = +e.quote_stuffing; o[3] = +e.momentum_ignition; o[4] = +e.pinging; o[5] = +e.marking_the_close;
    // window statistics, newest first
    const have = Math.min(f.n, W), now = f.ts[(f.n - 1) % W];
    let count = 0, cancels = 0, execs = 0, news = 0, marketable = 0, probes = 0, buys = 0, fillNet = 0, fills = 0, lifeSum = 0, lifeN = 0, maxSize = 0, oldest = now;
    for (let k = 1; k <= have; k++) {
      const j = (f.n - k) % W;
      if (now - f.ts[j] > WINDOW_US) break;
      count++; oldest = f.ts[j];
      const kind = f.kind[j];
      if (kind === CANCEL || kind === REPLACE) { cancels++; if (!Number.isNaN(f.life[j])) { lifeSum += f.life[j]; lifeN++; } }
      else if (kind === EXEC) { execs++; fills++; fillNet += f.side[j]; }
      else if (kind === NEW) { news++; marketable += f.marketable[j]; probes += f.probe[j]; if (f.side[j] > 0) buys++; if (f.qty[j] > maxSize) maxSize = f.qty[j]; }
    }
    const logRate = Math.log((count + 1) / Math.max(1, (now - oldest) / 1e6));
    const logLife = lifeN ? lifeSum / lifeN : NaN;
    const logSize = maxSize > 0 ? Math.log(maxSize) : NaN;
    const cancelShare = cancels / count;
    // baselines as of before this event's window is folded in (the departure is from the usual)
    const p = this.#peers.touch(symbol, now) ?? this.#peers.add(symbol, { rate: NaN, life0: NaN, size: NaN, cancelShare: NaN }, now);
    const rel = (x: number, base: number) => (Number.isNaN(x) || Number.isNaN(base) ? 0 : x - base);
    o[6] = Math.log1p(m.spoofing / Math.max(1, Number.isNaN(f.size) ? maxSize : Math.exp(f.size)));
    o[7] = Math.log1p(Math.min(m.wash_trade, 20));
    o[8] = Math.log1p(m.quote_stuffing);
    o[9] = Math.log1p(Math.max(m.momentum_ignition, m.marking_the_close));
    o[10] = Math.log1p(m.pinging);
    o[11] = cancelShare; o[12] = execs / count; o[13] = news ? marketable / news : 0; o[14] = news ? probes / news : 0;
    o[15] = news ? Math.abs(2 * buys - news) / news : 0;
    o[16] = rel(logRate, f.rate); o[17] = rel(logRate, p.rate);
    o[18] = rel(logLife, f.life0); o[19] = rel(logLife, p.life0);
    o[20] = rel(logSize, f.size); o[21] = rel(logSize, p.size);
    o[22] = rel(cancelShare, p.cancelShare);
    o[23] = fills ? fillNet / fills : 0;
    for (let k = 0; k < o.length; k++) if (!Number.isFinite(o[k])) o[k] = 0;
    // fold this event into the baselines
    f.rate = ewma(f.rate, logRate, OWN_ALPHA); p.rate = ewma(p.rate, logRate, PEER_ALPHA);
    if (!Number.isNaN(logLife)) { f.life0 = ewma(f.life0, logLife, OWN_ALPHA); p.life0 = ewma(p.life0, logLife, PEER_ALPHA); }
    if (!Number.isNaN(logSize)) { f.size = ewma(f.size, logSize, OWN_ALPHA); p.size = ewma(p.size, logSize, PEER_ALPHA); }
    p.cancelShare = ewma(p.cancelShare, cancelShare, PEER_ALPHA);
    return o;
  }
}

type PatternInput = Pick<OrderSchema, 'ts' | 'symbol' | 'participant' | 'side' | 'execId' | 'type' | 'orderType' | 'orderId' | 'price' | 'qty' | 'displayQty' | 'counterparty'>;

/**
 * The detector's input when its manifest's features are PatternFeatureNames: one row of
 * pattern features per event (no window crosses the thread boundary: the key's state is the
 * features' own rings and baselines, so a step costs the same at any history length).
 */
export class PatternFeatureEncoder implements Encoder<PatternInput> {
  readonly widths = [PatternFeatureCount] as const;
  readonly #f: KeyedPatternFeatures;
  constructor(opts: { state?: StateBounds } = {}) { this.#f = new KeyedPatternFeatures(checkBounds('patternFeatures', opts.state)); }
  encode(batch: Batch<PatternInput>, i: number, dst: Float32Array[], at: number): void {
    const c = batch.columns, symbol = c.symbol[i], key = `${c.participant[i]}|${symbol}`;
    this.#f.push(key, batch as unknown as Batch<EvidenceInput>, i);
    dst[0].set(this.#f.features(key, symbol), at * PatternFeatureCount);
  }
  snapshot(): unknown { return this.#f.snapshot(); }
  restore(state: unknown): void { this.#f.restore(state as ReturnType<KeyedPatternFeatures['snapshot']>); }
  expire(watermark: number): void { this.#f.expire(watermark); }
  stateStats(): StateStats { return this.#f.stateStats(); }
}
