/**
 * Seeded order-flow generator for the demo job, tests and benchmarks: several symbols,
 * a lit venue and a dark pool, and participants of different kinds — market makers
 * quoting both sides and re-quoting, HFTs placing and cancelling at the touch,
 * institutions working parent orders in slices (some in the dark pool at the midpoint),
 * retail sending occasional marketable orders. Arrivals are Poisson with a U-shaped
 * intraday intensity. Events follow the order-event contract.
 *
 * (The surveillance simulator with labelled manipulation episodes builds on this.)
 */
export interface OrderEvent {
  ts: number; venue: string; symbol: string; orderId: string; participant: string;
  side: 'B' | 'S'; type: 'NEW' | 'CANCEL' | 'REPLACE' | 'EXEC'; orderType?: 'LIMIT' | 'MARKET' | 'MIDPOINT' | 'IOC';
  price?: number; qty: number; displayQty?: number; counterparty?: string; execId?: string; seq?: number;
}

export interface OrderFlowOptions {
  seed?: number;
  /** number of events to generate */
  events: number;
  symbols?: string[];
  /** start of the session, µs since epoch (default 2026-11-23 14:30 UTC) */
  startUs?: number;
  /** mean events per second over the session (default 2,000) */
  ratePerSec?: number;
}

/** Small fast seeded PRNG (mulberry32). */
export function rng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

interface Resting { id: string; p: string; side: 'B' | 'S'; price: number; qty: number; venue: string }

export function* generateOrderFlow(opts: OrderFlowOptions): Generator<OrderEvent> {
  const r = rng(opts.seed ?? 1);
  const symbols = opts.symbols ?? ['AAPL', 'MSFT', 'NVDA', 'AMZN', 'GOOG', 'META', 'TSLA', 'JPM'];
  const rate = opts.ratePerSec ?? 2000;
  let ts = opts.startUs ?? Date.UTC(2026, 10, 23, 14, 30) * 1000;
  const sessionUs = Math.max(1, (opts.events / rate) * 1e6);
  const start = ts;
  const mids = symbols.map((_, i) => 50 + 40 * i + Math.floor(r() * 20));
  const book = symbols.map(() => [] as Resting[]);
  const mms = ['MM1', 'MM2', 'MM3'], hfts = ['HFT1', 'HFT2'], insts = ['INST1', 'INST2', 'INST3'];
  const retail = Array.from({ length: 40 }, (_, i) => `RET${i + 1}`);
  let oid = 1, eid = 1, seq = 1;
  const pick = <T>(a: T[]): T => a[Math.floor(r() * a.length)];
  const tick = 0.01;
  const round = (x: number) => Math.round(x / tick) * tick;
  const fix = (x: number) => Math.round(x * 100) / 100;
  const queue: OrderEvent[] = [];

  const newOrder = (s: number, p: string, side: 'B' | 'S', price: number, qty: number, venue = 'XLIT'): OrderEvent => {
    const id = `O${oid++}`;
    book[s].push({ id, p, side, price: fix(price), qty, venue });
    return { ts, venue, symbol: symbols[s], orderId: id, participant: p, side, type: 'NEW', orderType: 'LIMIT', price: fix(price), qty, displayQty: qty };
  };
  /** a marketable order: executes against the best resting orders of the other side */
  const take = (s: number, p: string, side: 'B' | 'S', qty: number) => {
    const other = book[s].filter((o) => o.side !== side && o.venue === 'XLIT').sort((a, b) => (side === 'B' ? a.price - b.price : b.price - a.price));
    let left = qty;
    for (const o of other) {
      if (left <= 0) break;
      const q = Math.min(left, o.qty);
      o.qty -= q; left -= q;
      queue.push({ ts, venue: 'XLIT', symbol: symbols[s], orderId: o.id, participant: o.p, side: o.side, type: 'EXEC', price: o.price, qty: q, counterparty: p, execId: `E${eid++}` });
      if (o.qty === 0) book[s].splice(book[s].indexOf(o), 1);
      mids[s] = o.price;
    }
  };

  for (let n = 0; n < opts.events;) {
    if (queue.length) { const e = queue.shift()!; e.seq = seq++; n++; yield e; continue; }
    // U-shaped intraday intensity: busier at the open and the close
    const x = Math.min(1, (ts - start) / sessionUs);
    const intensity = rate * (0.6 + 1.6 * (2 * x - 1) ** 2);
    ts += Math.max(1, Math.round((-Math.log(1 - r()) / intensity) * 1e6));
    const s = Math.floor(r() * symbols.length);
    mids[s] = Math.max(1, mids[s] + (r() - 0.5) * 0.02);
    const mid = mids[s];
    const u = r();
    const mine = (p: string) => book[s].filter((o) => o.p === p);
    if (u < 0.45) { // market maker: quote or re-quote
      const p = pick(mms);
      const own = mine(p);
      if (own.length > 6) {
        const o = pick(own);
        if (r() < 0.5) {
          book[s].splice(book[s].indexOf(o), 1);
          queue.push({ ts, venue: o.venue, symbol: symbols[s], orderId: o.id, participant: p, side: o.side, type: 'CANCEL', qty: o.qty });
        } else {
          o.price = fix(round(o.side === 'B' ? mid - 0.01 - r() * 0.05 : mid + 0.01 + r() * 0.05));
          o.qty = 100 * (1 + Math.floor(r() * 5));
          queue.push({ ts, venue: o.venue, symbol: symbols[s], orderId: o.id, participant: p, side: o.side, type: 'REPLACE', price: o.price, qty: o.qty });
        }
      } else {
        const side = r() < 0.5 ? 'B' : 'S';
        queue.push(newOrder(s, p, side, round(side === 'B' ? mid - 0.01 - r() * 0.05 : mid + 0.01 + r() * 0.05), 100 * (1 + Math.floor(r() * 5))));
      }
    } else if (u < 0.85) { // HFT: place at the touch, cancel fast
      const p = pick(hfts);
      const own = mine(p);
      if (own.length && r() < 0.55) {
        const o = own[own.length - 1];
        book[s].splice(book[s].indexOf(o), 1);
        queue.push({ ts: ts + Math.round(r() * 500), venue: o.venue, symbol: symbols[s], orderId: o.id, participant: p, side: o.side, type: 'CANCEL', qty: o.qty });
      } else {
        const side = r() < 0.5 ? 'B' : 'S';
        queue.push(newOrder(s, p, side, round(side === 'B' ? mid - 0.01 : mid + 0.01), 100));
      }
    } else if (u < 0.93) { // institution: a slice of a parent order, 1 in 4 in the dark pool
      const p = pick(insts);
      const side = r() < 0.5 ? 'B' : 'S';
      if (r() < 0.25) {
        const id = `O${oid++}`;
        queue.push({ ts, venue: 'XDARK', symbol: symbols[s], orderId: id, participant: p, side, type: 'NEW', orderType: 'MIDPOINT', qty: 500, displayQty: 0 });
        const contra = pick(insts.filter((q) => q !== p));
        queue.push({ ts: ts + 200, venue: 'XDARK', symbol: symbols[s], orderId: id, participant: p, side, type: 'EXEC', price: fix(mid), qty: 500, counterparty: contra, execId: `E${eid++}` });
      } else take(s, p, side, 200 + 100 * Math.floor(r() * 4));
    } else { // retail: small marketable order
      take(s, pick(retail), r() < 0.5 ? 'B' : 'S', 1 + Math.floor(r() * 100));
    }
  }
}

/** An order event as an engine row (OrderSchema): absent numbers NaN, absent strings ''. */
export function orderRow(e: OrderEvent) {
  return {
    ts: e.ts, seq: e.seq ?? NaN, venue: e.venue, symbol: e.symbol, orderId: e.orderId, participant: e.participant, side: e.side, type: e.type,
    orderType: e.orderType ?? 'LIMIT', price: e.price ?? NaN, qty: e.qty, displayQty: e.displayQty ?? NaN, counterparty: e.counterparty ?? '', execId: e.execId ?? '',
  };
}

export function orderFlowLines(opts: OrderFlowOptions): string[] {
  const out: string[] = [];
  for (const e of generateOrderFlow(opts)) out.push(JSON.stringify(e));
  return out;
}
