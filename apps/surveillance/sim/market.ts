/**
 * Market simulator with labelled manipulation episodes, for training and evaluating
 * surveillance models.
 *
 * Background flow is the demo generator's (market makers, HFTs, institutions slicing in
 * the lit book and the dark pool, retail). On top, a set of member accounts (MBR01…)
 * trade in two ways: benign activity that resembles manipulation on the surface (large
 * orders cancelled after a long rest, quoting bursts, one-directional institutional
 * buying, dark-pool probing that ends in a real trade) and labelled episodes of the
 * seven patterns, each drawn with varied size, duration, aggressiveness and camouflage
 * (benign orders interleaved with the manipulative ones):
 *
 *   spoofing           large orders near the touch on one side, a small execution on the
 *                      other side, the large orders cancelled within moments
 *   layering           several orders stacked at successive levels, an execution on the
 *                      other side, then all cancelled
 *   wash_trade         the member's buy and sell orders executing against each other
 *   quote_stuffing     hundreds of orders entered and cancelled within a second
 *   momentum_ignition  a run of aggressive orders in one direction, then a reversal
 *   pinging            small IOC / midpoint orders probing the dark pool, mostly unfilled
 *   marking_the_close  aggressive buying (or selling) in the last minutes of the session
 *
 * Everything is seeded: the same options give the same events and episodes. Events
 * follow the order-event contract; episodes the episode contract, with start and end
 * the episode's first and last event times.
 */
import { generateOrderFlow, rng, type OrderEvent } from '../../demo/orderflow.js';

export const Patterns = ['spoofing', 'layering', 'wash_trade', 'quote_stuffing', 'momentum_ignition', 'pinging', 'marking_the_close'] as const;
export type Pattern = (typeof Patterns)[number];

export interface Episode { participant: string; symbol: string; venue: string; pattern: Pattern; start: number; end: number }

export interface SimulationOptions {
  seed: number;
  /** background events (default 200,000) */
  events?: number;
  /** mean background events per second (default 300: a 200,000-event run covers about 11 minutes) */
  ratePerSec?: number;
  symbols?: string[];
  /** labelled episodes per pattern (default 6) */
  episodesPerPattern?: number;
  /** benign look-alike sequences per kind (default 12) */
  benignPerKind?: number;
  /**
   * hard negatives per kind (default 0, so the held-out sets of earlier reports reproduce):
   * the benign activity issue #18 lists, scripted by member accounts — retail-style bursts of
   * small marketable orders (sometimes flipped), arbitrage IOC sweeps after a price jump and
   * their unwind, quoting that cancels nearly everything, parents sliced into children that
   * are re-pegged, full-size dark IOC probes routed on to the lit book, large orders pulled as
   * the price comes at them, and bursts of ordinary activity in a busy regime
   */
  hardNegativesPerKind?: number;
  /** member accounts that carry both benign activity and episodes (default 12) */
  members?: number;
  /** real background flow to inject into (see apps/surveillance/sim/lobster.ts) instead of generated flow */
  background?: OrderEvent[];
}

export interface Simulation { events: OrderEvent[]; episodes: Episode[]; startUs: number; endUs: number }

export function simulate(opts: SimulationOptions): Simulation {
  let r = rng(opts.seed * 7919 + 13);
  const background = opts.background ? opts.background.map((e) => ({ ...e })) : [...generateOrderFlow({ seed: opts.seed, events: opts.events ?? 200_000, ratePerSec: opts.ratePerSec ?? 300, symbols: opts.symbols })];
  const symbols = [...new Set(background.map((e) => e.symbol))].sort();
  const startUs = background[0].ts;
  const endUs = background[background.length - 1].ts;
  const prices = priceTracker(background, symbols);
  const members = Array.from({ length: opts.members ?? 12 }, (_, i) => `MBR${String(i + 1).padStart(2, '0')}`);
  const out: OrderEvent[] = [];
  const episodes: Episode[] = [];
  let oid = 1, eid = 1;
  const pick = <T>(a: readonly T[]): T => a[Math.floor(r() * a.length)];
  const between = (a: number, b: number) => a + r() * (b - a);
  const int = (a: number, b: number) => Math.floor(between(a, b + 1));
  const tick = 0.01;
  const px = (x: number) => Math.round(x / tick) * tick;
  const fix = (x: number) => Math.round(x * 100) / 100;

  /** event builders for one member on one symbol */
  const actor = (p: string, symbol: string, sink: OrderEvent[]) => ({
    order(ts: number, side: 'B' | 'S', price: number | undefined, qty: number, o: Partial<OrderEvent> = {}): string {
      const id = `M${opts.seed}-${oid++}`;
      sink.push({ ts: Math.round(ts), venue: 'XLIT', symbol, orderId: id, participant: p, side, type: 'NEW', orderType: 'LIMIT', ...(price !== undefined ? { price: fix(price) } : {}), qty, displayQty: qty, ...o });
      return id;
    },
    cancel(ts: number, id: string, side: 'B' | 'S', qty: number, venue = 'XLIT') {
      sink.push({ ts: Math.round(ts), venue, symbol, orderId: id, participant: p, side, type: 'CANCEL', qty });
    },
    exec(ts: number, id: string, side: 'B' | 'S', price: number, qty: number, counterparty: string, venue = 'XLIT') {
      sink.push({ ts: Math.round(ts), venue, symbol, orderId: id, participant: p, side, type: 'EXEC', price: fix(price), qty, counterparty, execId: `ME${opts.seed}-${eid++}` });
    },
  });
  const other = (p: string) => pick(['MM1', 'MM2', 'MM3', 'HFT1', 'HFT2', 'INST1', 'INST2', 'INST3'].filter((x) => x !== p));
  const opp = (s: 'B' | 'S'): 'B' | 'S' => (s === 'B' ? 'S' : 'B');

  /** camouflage: ordinary small orders by the same member around the episode */
  const camouflage = (a: ReturnType<typeof actor>, t0: number, t1: number, mid: number, n: number) => {
    for (let i = 0; i < n; i++) {
      const t = between(t0, t1), side = r() < 0.5 ? 'B' : 'S';
      const id = a.order(t, side, px(side === 'B' ? mid - between(0.01, 0.05) : mid + between(0.01, 0.05)), 100 * int(1, 3));
      if (r() < 0.5) a.exec(t + between(2e5, 3e6), id, side, mid, 100, other(''));
    }
  };

  const patterns: Record<Pattern, (p: string, s: string, t: number) => [number, number]> = {
    spoofing: (p, s, t) => {
      const ev: OrderEvent[] = [], a = actor(p, s, ev), mid = prices(s, t);
      const side = r() < 0.5 ? 'B' : 'S', dir = side === 'B' ? -1 : 1;
      const n = int(1, 3), size = 100 * int(20, 80);
      const ids = Array.from({ length: n }, (_, i) => a.order(t + i * between(50, 2000), side, px(mid + dir * (0.01 + 0.01 * i)), size));
      const tExec = t + between(2e5, 2e6);
      const gid = a.order(tExec - between(1e3, 5e4), opp(side), px(mid - dir * 0.01), 100 * int(1, 5));
      a.exec(tExec, gid, opp(side), mid - dir * 0.01, 100, other(p));
      ids.forEach((id) => a.cancel(tExec + between(1e3, 3e5), id, side, size));
      if (r() < 0.6) camouflage(a, t - 2e6, tExec + 2e6, mid, int(1, 4));
      out.push(...ev);
      return span(ev.filter((e) => e.participant === p && isEpisodeEvent(e, ids, gid)));
    },
    layering: (p, s, t) => {
      const ev: OrderEvent[] = [], a = actor(p, s, ev), mid = prices(s, t);
      const side = r() < 0.5 ? 'B' : 'S', dir = side === 'B' ? -1 : 1;
      const n = int(3, 8), size = 100 * int(5, 30);
      const ids = Array.from({ length: n }, (_, i) => a.order(t + i * between(1e3, 1e5), side, px(mid + dir * (0.02 + 0.01 * i)), size));
      const tExec = t + n * 1e5 + between(1e5, 2e6);
      const gid = a.order(tExec - 2e4, opp(side), px(mid - dir * 0.01), 100 * int(2, 10));
      a.exec(tExec, gid, opp(side), mid - dir * 0.01, 100 * int(1, 2), other(p));
      ids.forEach((id) => a.cancel(tExec + between(1e3, 5e5), id, side, size));
      if (r() < 0.6) camouflage(a, t - 2e6, tExec + 2e6, mid, int(1, 4));
      out.push(...ev);
      return span(ev.filter((e) => isEpisodeEvent(e, ids, gid)));
    },
    wash_trade: (p, s, t) => {
      const ev: OrderEvent[] = [], a = actor(p, s, ev), mid = prices(s, t);
      const n = int(2, 8);
      let tt = t;
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const q = 100 * int(1, 20), price = px(mid + between(-0.02, 0.02));
        const b = a.order(tt, 'B', price, q), sl = a.order(tt + between(10, 5e4), 'S', price, q);
        a.exec(tt + between(5e4, 1e5), b, 'B', price, q, p);
        a.exec(tt + between(5e4, 1e5), sl, 'S', price, q, p);
        ids.push(b, sl);
        tt += between(5e5, 2e7);
      }
      if (r() < 0.6) camouflage(a, t - 2e6, tt, mid, int(1, 4));
      out.push(...ev);
      return span(ev.filter((e) => ids.includes(e.orderId)));
    },
    quote_stuffing: (p, s, t) => {
      const ev: OrderEvent[] = [], a = actor(p, s, ev), mid = prices(s, t);
      const n = int(80, 300), dur = between(2e5, 1e6);
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const tt = t + (i / n) * dur, side = r() < 0.5 ? 'B' : 'S';
        const id = a.order(tt, side, px(side === 'B' ? mid - between(0.01, 0.1) : mid + between(0.01, 0.1)), 100);
        a.cancel(tt + between(50, 3000), id, side, 100);
        ids.push(id);
      }
      if (r() < 0.5) camouflage(a, t - 3e6, t + dur + 3e6, mid, int(1, 3));
      out.push(...ev);
      return span(ev.filter((e) => ids.includes(e.orderId)));
    },
    momentum_ignition: (p, s, t) => {
      const ev: OrderEvent[] = [], a = actor(p, s, ev);
      let mid = prices(s, t);
      const side = r() < 0.5 ? 'B' : 'S', dir = side === 'B' ? 1 : -1;
      const n = int(5, 15);
      let tt = t;
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const q = 100 * int(2, 10);
        const id = a.order(tt, side, undefined, q, { orderType: r() < 0.5 ? 'MARKET' : 'IOC' });
        mid += dir * 0.01 * int(1, 3);
        a.exec(tt + between(10, 500), id, side, mid, q, other(p));
        ids.push(id);
        tt += between(2e4, 5e5);
      }
      tt += between(5e5, 5e6);
      const q = 100 * int(10, 40);
      const rid = a.order(tt, opp(side), px(mid), q);
      a.exec(tt + between(1e3, 1e5), rid, opp(side), mid, q, other(p));
      ids.push(rid);
      if (r() < 0.5) camouflage(a, t - 3e6, tt + 2e6, mid, int(1, 3));
      out.push(...ev);
      return span(ev.filter((e) => ids.includes(e.orderId)));
    },
    pinging: (p, s, t) => {
      const ev: OrderEvent[] = [], a = actor(p, s, ev), mid = prices(s, t);
      const n = int(15, 60);
      const side = r() < 0.5 ? 'B' : 'S';
      let tt = t;
      const ids: string[] = [];
      for (let i = 0; i < n; i++) {
        const id = a.order(tt, side, undefined, 100, { venue: 'XDARK', orderType: r() < 0.5 ? 'IOC' : 'MIDPOINT', displayQty: 0 });
        if (r() < 0.15) a.exec(tt + between(50, 500), id, side, mid, 100, other(p), 'XDARK');
        else a.cancel(tt + between(50, 1000), id, side, 100, 'XDARK');
        ids.push(id);
        tt += between(5e3, 3e5);
      }
      if (r() < 0.5) camouflage(a, t - 3e6, tt + 2e6, mid, int(1, 3));
      out.push(...ev);
      return span(ev.filter((e) => ids.includes(e.orderId)));
    },
    marking_the_close: (p, s) => {
      const ev: OrderEvent[] = [], a = actor(p, s, ev);
      const t = endUs - between(5e6, Math.min(60e6, (endUs - startUs) * 0.05));
      let mid = prices(s, t);
      const side = r() < 0.7 ? 'B' : 'S', dir = side === 'B' ? 1 : -1;
      const n = int(4, 12);
      let tt = t;
      const ids: string[] = [];
      for (let i = 0; i < n && tt < endUs; i++) {
        const q = 100 * int(5, 30);
        const id = a.order(tt, side, px(mid + dir * 0.02), q, { orderType: r() < 0.5 ? 'LIMIT' : 'IOC' });
        mid += dir * 0.01 * int(1, 2);
        a.exec(tt + between(10, 1000), id, side, mid, q, other(p));
        ids.push(id);
        tt += between(1e5, 2e6);
      }
      out.push(...ev);
      return span(ev.filter((e) => ids.includes(e.orderId)));
    },
  };

  // benign look-alikes, unlabelled: what a good detector must leave alone
  const benign: ((p: string, s: string, t: number) => void)[] = [
    (p, s, t) => { // a large resting order cancelled much later, no trade on the other side
      const a = actor(p, s, out), mid = prices(s, t), side = r() < 0.5 ? 'B' : 'S';
      const q = 100 * int(20, 80);
      const id = a.order(t, side, px(side === 'B' ? mid - between(0.02, 0.1) : mid + between(0.02, 0.1)), q);
      a.cancel(t + between(2e7, 1.2e8), id, side, q);
    },
    (p, s, t) => { // quoting both sides and updating steadily (a member acting as market maker)
      const a = actor(p, s, out), mid = prices(s, t);
      const n = int(10, 40);
      for (let i = 0; i < n; i++) {
        const tt = t + i * between(5e4, 5e5), side = i % 2 ? 'B' : 'S';
        const id = a.order(tt, side, px(side === 'B' ? mid - 0.01 : mid + 0.01), 100 * int(1, 5));
        if (r() < 0.6) a.cancel(tt + between(1e5, 2e6), id, side, 100); else a.exec(tt + between(1e4, 1e6), id, side, mid, 100, other(p));
      }
    },
    (p, s, t) => { // an institution-like member working a parent order in one direction
      const a = actor(p, s, out);
      let mid = prices(s, t);
      const side = r() < 0.5 ? 'B' : 'S', dir = side === 'B' ? 1 : -1;
      const n = int(5, 15);
      let tt = t;
      for (let i = 0; i < n; i++) {
        const q = 100 * int(2, 10);
        const id = a.order(tt, side, px(mid + dir * 0.01), q);
        a.exec(tt + between(1e3, 1e6), id, side, mid, q, other(p));
        mid += dir * 0.01 * (r() < 0.3 ? 1 : 0);
        tt += between(1e6, 1e7);
      }
    },
    (p, s, t) => { // a few dark midpoint orders that end in a real fill
      const a = actor(p, s, out), mid = prices(s, t), side = r() < 0.5 ? 'B' : 'S';
      const n = int(2, 5);
      for (let i = 0; i < n; i++) {
        const tt = t + i * between(1e6, 5e6);
        const id = a.order(tt, side, undefined, 100 * int(5, 20), { venue: 'XDARK', orderType: 'MIDPOINT', displayQty: 0 });
        a.exec(tt + between(1e4, 1e6), id, side, mid, 500, other(p), 'XDARK');
      }
    },
  ];

  // issue #18's hard negatives (opt-in): benign trading that looks like a pattern on its surface
  const hard: ((p: string, s: string, t: number) => void)[] = [
    (p, s, t) => { // retail-style burst: small marketable orders one way that move nothing; sometimes flipped later
      const a = actor(p, s, out), mid = prices(s, t), side = r() < 0.5 ? 'B' : 'S';
      let tt = t;
      for (let i = int(4, 14); i > 0; i--) {
        const q = int(1, 30) * 10;
        const id = a.order(tt, side, undefined, q, { orderType: r() < 0.6 ? 'MARKET' : 'IOC' });
        a.exec(tt + between(20, 800), id, side, mid + (side === 'B' ? tick : -tick) * int(0, 1), q, other(p));
        tt += between(5e4, 8e5);
      }
      if (r() < 0.35) {
        const q = int(1, 30) * 10, back = opp(side), id = a.order(tt + between(3e6, 4e7), back, undefined, q, { orderType: 'MARKET' });
        a.exec(tt + between(3e6, 4e7) + 500, id, back, mid, q, other(p));
      }
    },
    (p, s, t) => { // arbitrage: IOC sweep right after the price jumps, unwound passively a minute later
      const a = actor(p, s, out), side = r() < 0.5 ? 'B' : 'S', dir = side === 'B' ? 1 : -1;
      const jumped = prices(s, t) * (1 + dir * between(0.002, 0.008));
      let tt = t, held = 0;
      for (let i = int(2, 6); i > 0; i--) {
        const q = 100 * int(1, 8);
        const id = a.order(tt, side, px(jumped + dir * tick * int(0, 2)), q, { orderType: 'IOC' });
        a.exec(tt + between(10, 300), id, side, px(jumped), q, other(p));
        held += q; tt += between(20, 3e3);
      }
      const tu = tt + between(2e7, 1.2e8), id = a.order(tu, opp(side), px(jumped), held);
      a.exec(tu + between(1e5, 2e7), id, opp(side), px(jumped), held, other(p));
    },
    (p, s, t) => { // market making that cancels nearly every quote (> 95%)
      const a = actor(p, s, out), mid = prices(s, t);
      let tt = t;
      for (let i = int(40, 150); i > 0; i--) {
        const side = r() < 0.5 ? 'B' : 'S', q = 100 * int(1, 5);
        const id = a.order(tt, side, px(side === 'B' ? mid - tick * int(1, 2) : mid + tick * int(1, 2)), q);
        if (r() < 0.03) a.exec(tt + between(1e4, 5e5), id, side, mid, q, other(p)); else a.cancel(tt + between(2e4, 6e5), id, side, q);
        tt += between(1e5, 8e5);
      }
    },
    (p, s, t) => { // a parent sliced into children at the touch; stale children re-pegged
      const a = actor(p, s, out), side = r() < 0.5 ? 'B' : 'S';
      let tt = t;
      for (let i = int(8, 20); i > 0; i--) {
        const mid = prices(s, tt), q = 100 * int(1, 9);
        const id = a.order(tt, side, px(side === 'B' ? mid - tick : mid + tick), q);
        if (r() < 0.5) {
          const tc = tt + between(5e6, 3e7);
          a.cancel(tc, id, side, q);
          const id2 = a.order(tc + between(1e3, 5e4), side, px(prices(s, tc)), q);
          a.exec(tc + between(1e5, 5e6), id2, side, prices(s, tc), q, other(p));
        } else a.exec(tt + between(1e5, 2e7), id, side, mid, q, other(p));
        tt += between(3e6, 2.5e7);
      }
    },
    (p, s, t) => { // a router's full-size dark IOC probes, the rest sent to the lit book
      const a = actor(p, s, out), side = r() < 0.5 ? 'B' : 'S';
      let tt = t;
      for (let i = int(2, 6); i > 0; i--) {
        const mid = prices(s, tt), q = 100 * int(5, 20);
        const id = a.order(tt, side, undefined, q, { venue: 'XDARK', orderType: 'IOC', displayQty: 0 });
        const got = r() < 0.4 ? 100 * int(1, q / 100) : 0;
        if (got) a.exec(tt + between(50, 500), id, side, mid, got, other(p), 'XDARK');
        if (got < q) a.cancel(tt + between(100, 1e3), id, side, q - got, 'XDARK');
        if (got < q) { const lit = a.order(tt + between(1e3, 5e3), side, px(side === 'B' ? mid + tick : mid - tick), q - got, { orderType: 'IOC' }); a.exec(tt + between(5e3, 1e4), lit, side, mid, q - got, other(p)); }
        tt += between(5e6, 6e7);
      }
    },
    (p, s, t) => { // a large order a few ticks away, pulled within a minute as the price comes at it
      const a = actor(p, s, out), mid = prices(s, t), side = r() < 0.5 ? 'B' : 'S';
      const q = 100 * int(30, 150);
      const id = a.order(t, side, px(side === 'B' ? mid - tick * int(3, 10) : mid + tick * int(3, 10)), q);
      a.cancel(t + between(1e6, 6e7), id, side, q);
    },
    (p, s, t) => { // a busy regime: a burst of ordinary orders, cancels and fills
      const a = actor(p, s, out), mid = prices(s, t);
      let tt = t;
      for (let i = int(50, 200); i > 0; i--) {
        const side = r() < 0.5 ? 'B' : 'S', q = 100 * int(1, 4), u = r();
        const id = a.order(tt, side, u < 0.2 ? undefined : px(side === 'B' ? mid - tick * int(0, 3) : mid + tick * int(0, 3)), q, u < 0.2 ? { orderType: 'MARKET' } : {});
        if (u < 0.2 || r() < 0.4) a.exec(tt + between(50, 5e5), id, side, mid, q, other(p)); else a.cancel(tt + between(5e4, 5e6), id, side, q);
        tt += between(5e4, 6e5);
      }
    },
  ];

  const span0 = startUs + (endUs - startUs) * 0.02, span1 = endUs - (endUs - startUs) * 0.08;
  for (let k = 0; k < (opts.benignPerKind ?? 12); k++) for (const b of benign) b(pick(members), pick(symbols), between(span0, span1));
  // drawn from a generator of their own, so the default (none) leaves every earlier set as it was
  if (opts.hardNegativesPerKind) {
    const r0 = r;
    r = rng(opts.seed * 15485863 + 29);
    for (let k = 0; k < opts.hardNegativesPerKind; k++) for (const h of hard) h(pick(members), pick(symbols), between(span0, span1));
    r = r0;
  }
  for (const pattern of Patterns) {
    for (let k = 0; k < (opts.episodesPerPattern ?? 6); k++) {
      const p = pick(members), s = pick(symbols);
      const [start, end] = patterns[pattern](p, s, between(span0, span1));
      episodes.push({ participant: p, symbol: s, venue: pattern === 'pinging' ? 'XDARK' : 'XLIT', pattern, start, end });
    }
  }
  const events = background.concat(out);
  // stable sort by time; then renumber the venue sequence
  events.sort((x, y) => x.ts - y.ts);
  events.forEach((e, i) => { e.seq = i + 1; });
  episodes.sort((x, y) => x.start - y.start);
  return { events, episodes, startUs, endUs };
}

function isEpisodeEvent(e: OrderEvent, ids: string[], gid: string): boolean { return ids.includes(e.orderId) || e.orderId === gid; }
function span(ev: OrderEvent[]): [number, number] {
  let a = Infinity, b = -Infinity;
  for (const e of ev) { if (e.ts < a) a = e.ts; if (e.ts > b) b = e.ts; }
  return [a, b];
}

/** last trade price of a symbol at or before a time (binary search over background executions) */
function priceTracker(events: OrderEvent[], symbols: string[]): (symbol: string, ts: number) => number {
  const series = new Map<string, { ts: number[]; px: number[] }>(symbols.map((s) => [s, { ts: [], px: [] }]));
  for (const e of events) {
    if (e.price === undefined) continue;
    const s = series.get(e.symbol)!;
    s.ts.push(e.ts); s.px.push(e.price);
  }
  return (symbol, ts) => {
    const s = series.get(symbol)!;
    let lo = 0, hi = s.ts.length - 1;
    if (hi < 0) return 100;
    while (lo < hi) { const mid = (lo + hi + 1) >> 1; if (s.ts[mid] <= ts) lo = mid; else hi = mid - 1; }
    return s.px[lo];
  };
}
