/**
 * The second order-flow generator family ("auction"), for judging surveillance on flow
 * that its detector's training data did not come from (issue #18). It shares nothing with
 * market.ts but the wire contracts and the pattern names:
 *
 * - **mechanics**: an agent-based market on a price-time-priority matching engine
 *   (auction-book.ts). Executions happen only when orders cross; each symbol's fundamental
 *   value is a random walk with jumps, and market makers quote around it, leaning on the
 *   displayed book's imbalance (so spoof orders really move quotes).
 * - **participants**: opaque account ids (no name says what an account is); archetypes are
 *   returned beside the flow for reporting only: market makers that cancel almost every
 *   order they enter, retail accounts that send bursts of marketable orders (and sometimes
 *   flip), arbitrageurs that fire IOC sweeps when a price jumps, institutions slicing parents
 *   (some worked into the close), pensions resting large orders far from the touch and
 *   pulling them when the price comes at them, smart order routers probing the dark pool
 *   with full-size IOCs, dark liquidity resting at the midpoint; activity regimes per
 *   symbol (calm to four times busier) switch at random.
 * - **manipulation**: the seven patterns, each with variants of its own (spoofs that join
 *   the touch and wait for a passive fill; layers pulled by cancel or by REPLACE away;
 *   wash trades by one account or by two colluding accounts, lit or dark; quote stuffing by
 *   enter/cancel, by REPLACE flicker or by a mass cancel; ignition with or without a
 *   pre-positioned exit; pinging with odd-lot midpoint IOCs that trade ahead on a hit;
 *   marking the close by a run or one last sweep), carried by accounts that also trade
 *   benignly the rest of the time.
 *
 * Seeded: the same options give the same events, episodes and archetypes. Episode start and
 * end are the first and last event of the orders the episode placed (their fills included).
 */
import type { OrderEvent } from '../../demo/orderflow.js';
import type { Episode, Pattern, Simulation } from './market.js';
import { SymbolBook, type Fill, type Side } from './auction-book.js';

export interface AuctionOptions {
  seed: number;
  /** session length, seconds (default 660: about 11 minutes, close at the end) */
  durationSec?: number;
  /** symbols and their opening prices (default six symbols, 14 to 310) */
  symbols?: { name: string; price: number }[];
  /** labelled episodes per pattern (default 6) */
  episodesPerPattern?: number;
  /** first event time, µs since epoch (default 2026-03-09 14:30 UTC) */
  startUs?: number;
  /** venue names; the dark venue's name need not say so (its orders carry displayQty 0) */
  venues?: { lit: string; dark: string };
}

export interface AuctionSimulation extends Simulation {
  /** account → archetype (market-maker, retail, arbitrageur, institution, pension, router, manipulator), for reports only */
  archetypes: Record<string, string>;
}

const DefaultSymbols = [
  { name: 'ORCA', price: 42.17 }, { name: 'VELT', price: 118.4 }, { name: 'BRIM', price: 14.06 },
  { name: 'TULN', price: 309.55 }, { name: 'ZEPH', price: 67.9 }, { name: 'KORD', price: 23.31 },
];

/** xoshiro128** (a different generator from the first family's, seeded by splitmix32) */
function xoshiro(seed: number): () => number {
  let z = seed >>> 0;
  const sm = () => { z = (z + 0x9e3779b9) >>> 0; let t = z; t = Math.imul(t ^ (t >>> 16), 0x21f0aaad); t = Math.imul(t ^ (t >>> 15), 0x735a2d97); return (t ^ (t >>> 15)) >>> 0; };
  const s = [sm(), sm(), sm(), sm()];
  return () => {
    const r = Math.imul(rotl(Math.imul(s[1], 5), 7), 9) >>> 0;
    const t = s[1] << 9;
    s[2] ^= s[0]; s[3] ^= s[1]; s[1] ^= s[2]; s[0] ^= s[3]; s[2] ^= t; s[3] = rotl(s[3], 11);
    return r / 4294967296;
  };
}
function rotl(x: number, k: number): number { return ((x << k) | (x >>> (32 - k))) >>> 0; }

/** a time-ordered queue of agent wake-ups (binary heap; ties in scheduling order) */
class Agenda {
  readonly #h: { t: number; n: number; f: (t: number) => void }[] = [];
  #n = 0;
  at(t: number, f: (t: number) => void): void {
    const h = this.#h, e = { t, n: this.#n++, f };
    h.push(e);
    for (let i = h.length - 1; i > 0;) { const p = (i - 1) >> 1; if (!less(h[i], h[p])) break; [h[i], h[p]] = [h[p], h[i]]; i = p; }
  }
  pop(): { t: number; f: (t: number) => void } | undefined {
    const h = this.#h;
    if (!h.length) return undefined;
    const top = h[0], last = h.pop()!;
    if (h.length) {
      h[0] = last;
      for (let i = 0; ;) {
        const l = 2 * i + 1, r = l + 1;
        let m = i;
        if (l < h.length && less(h[l], h[m])) m = l;
        if (r < h.length && less(h[r], h[m])) m = r;
        if (m === i) break;
        [h[i], h[m]] = [h[m], h[i]]; i = m;
      }
    }
    return top;
  }
}
function less(a: { t: number; n: number }, b: { t: number; n: number }): boolean { return a.t < b.t || (a.t === b.t && a.n < b.n); }

export function simulateAuction(opts: AuctionOptions): AuctionSimulation {
  const rnd = xoshiro(opts.seed * 2654435761 + 977);
  const U = (a: number, b: number) => a + rnd() * (b - a);
  const I = (a: number, b: number) => Math.floor(U(a, b + 1));
  const chance = (p: number) => rnd() < p;
  const expo = (mean: number) => -Math.log(1 - rnd()) * mean;
  const gauss = () => Math.sqrt(-2 * Math.log(1 - rnd())) * Math.cos(2 * Math.PI * rnd());
  const pick = <T>(xs: readonly T[]): T => xs[Math.floor(rnd() * xs.length)];
  const opp = (s: Side): Side => (s === 'B' ? 'S' : 'B');

  const start = opts.startUs ?? Date.UTC(2026, 2, 9, 14, 30) * 1000;
  const end = start + (opts.durationSec ?? 660) * 1e6;
  const venues = opts.venues ?? { lit: 'EDGX', dark: 'MIDX' };
  const out: OrderEvent[] = [];
  const agenda = new Agenda();
  const archetypes: Record<string, string> = {};
  const used = new Set<string>();
  const account = (kind: string) => {
    let id: string;
    do id = `P${String(I(10000, 99999))}`; while (used.has(id));
    used.add(id); archetypes[id] = kind;
    return id;
  };
  let nOrder = 0, nExec = 0;
  const oid = () => `Q${opts.seed}x${(++nOrder).toString(36)}`;
  const inventory = new Map<string, number>(); // account|symbol → shares held
  const onFill = (f: Fill) => {
    const sgn = f.aggressorSide === 'B' ? 1 : -1;
    inventory.set(`${f.aggressor}|${f.symbol}`, (inventory.get(`${f.aggressor}|${f.symbol}`) ?? 0) + sgn * f.qty);
    inventory.set(`${f.passive}|${f.symbol}`, (inventory.get(`${f.passive}|${f.symbol}`) ?? 0) - sgn * f.qty);
  };

  interface Sym { name: string; book: SymbolBook; fv: number; activity: number; lot: number; jumpListeners: ((t: number, dir: number) => void)[] }
  const syms: Sym[] = (opts.symbols ?? DefaultSymbols).map((s) => {
    const ticks = Math.round(s.price * 100);
    return { name: s.name, book: new SymbolBook(s.name, ticks, out, venues, () => `X${opts.seed}x${(++nExec).toString(36)}`, onFill), fv: ticks, activity: 1, lot: s.price < 30 ? 500 : s.price < 100 ? 200 : 100, jumpListeners: [] };
  });
  /** an agent's clock: a callback again after `dt` µs while the session lasts */
  const after = (t: number, dt: number, f: (t: number) => void) => { const u = Math.round(t + Math.max(1, dt)); if (u < end) agenda.at(u, f); };
  const touch = (s: Sym, side: Side) => (side === 'B' ? s.book.bestBid() : s.book.bestAsk()) ?? Math.round(s.fv + (side === 'B' ? -1 : 1));
  /** the price that takes `levels` levels of the other side */
  const through = (s: Sym, side: Side, levels: number) => touch(s, opp(side)) + (side === 'B' ? levels : -levels);
  const lots = (s: Sym, a: number, b: number) => s.lot * I(a, b);

  // --- the market: fundamental values with jumps, activity regimes ---
  for (const s of syms) {
    const vol = 0.00012 * s.fv; // per second, in ticks: about 1.2 bp
    const step = (t: number) => {
      s.fv += gauss() * Math.max(0.35, vol) * Math.sqrt(s.activity);
      if (chance(0.004)) {
        const dir = chance(0.5) ? 1 : -1;
        s.fv *= 1 + dir * U(0.002, 0.008);
        for (const l of s.jumpListeners) l(t, dir);
      }
      after(t, 1e6, step);
    };
    after(start, U(0, 1e6), step);
    const regime = (t: number) => { s.activity = pick([0.4, 1, 1, 1.5, 2.5, 4]); after(t, expo(90e6), regime); };
    after(start, expo(60e6), regime);
  }

  // --- market makers: quote both sides around value, lean on book imbalance, requote constantly ---
  const imbalance = (s: Sym) => {
    let b = 0, a = 0;
    for (let k = 0; k < 3; k++) { b += s.book.bids[k]?.queue.reduce((x, o) => x + o.display, 0) ?? 0; a += s.book.asks[k]?.queue.reduce((x, o) => x + o.display, 0) ?? 0; }
    return b + a > 0 ? (b - a) / (b + a) : 0;
  };
  for (let m = 0; m < 4; m++) {
    const mm = account('market-maker');
    const style = m % 2 === 0 ? 'replace' : 'cancel-new';
    for (const s of syms.filter((_, k) => (k + m) % 4 !== 0)) {
      const half = 1 + (m % 2), size = () => lots(s, 1, 4);
      const live: Record<Side, { id: string; ticks: number } | null> = { B: null, S: null };
      const quote = (t: number) => {
        const inv = inventory.get(`${mm}|${s.name}`) ?? 0;
        const centre = s.fv + 1.5 * imbalance(s) - inv / (8 * s.lot);
        const want: Record<Side, number> = { B: Math.floor(centre - half), S: Math.ceil(centre + half) };
        if (want.S <= want.B) want.S = want.B + 1;
        let tt = t;
        // moving up, the ask goes first (and down, the bid), so a new quote never meets the maker's own stale one
        const order: Side[] = live.B && want.B > live.B.ticks ? ['S', 'B'] : ['B', 'S'];
        for (const side of order) {
          const q = live[side];
          if (q && !s.book.isResting(q.id)) live[side] = null;
          const cur = live[side];
          if (cur && cur.ticks === want[side]) continue;
          if (cur && style === 'replace') { s.book.replace(tt++, cur.id, want[side], size()); cur.ticks = want[side]; continue; }
          if (cur) s.book.cancel(tt++, cur.id);
          const id = oid();
          s.book.limit(tt++, mm, id, side, want[side], size());
          live[side] = { id, ticks: want[side] };
        }
        after(t, expo(200e3 / s.activity), quote);
      };
      after(start, U(0, 3e5), quote);
    }
  }

  // --- retail: single orders, and bursts of marketable orders (sometimes flipped later) ---
  const retail = Array.from({ length: 30 }, () => account('retail'));
  const marketable = (s: Sym, t: number, who: string, side: Side, qty: number, ids?: string[]) => {
    const id = oid(); ids?.push(id);
    if (chance(0.5)) s.book.market(t, who, id, side, qty); else s.book.limit(t, who, id, side, through(s, side, I(0, 2)), qty, { ioc: chance(0.5) });
  };
  for (const s of syms) {
    const arrive = (t: number) => {
      const who = pick(retail), side: Side = chance(0.5) ? 'B' : 'S';
      const odd = () => Math.max(1, Math.round(s.lot * U(0.05, 1.5)));
      if (chance(0.8)) {
        if (chance(0.6)) marketable(s, t, who, side, odd());
        else {
          const id = oid();
          s.book.limit(t, who, id, side, touch(s, side) - (side === 'B' ? I(0, 3) : -I(0, 3)), odd());
          if (chance(0.4)) after(t, U(3e6, 90e6), (u) => { s.book.cancel(u, id); });
        }
      } else {
        const n = I(4, 14);
        let u = t;
        for (let k = 0; k < n; k++) { const uu = u; after(uu, 0, (v) => marketable(s, v, who, side, odd())); u += U(5e4, 8e5); }
        if (chance(0.35)) after(u, U(3e6, 40e6), (v) => { for (let k = I(1, 3); k > 0; k--) marketable(s, v + k * 1000, who, opp(side), odd()); });
      }
      after(t, expo(1.2e6 / s.activity), arrive);
    };
    after(start, expo(2e6), arrive);
  }

  // --- arbitrageurs: IOC sweeps right after a jump, unwound later; small stat-arb IOCs ---
  for (let k = 0; k < 3; k++) {
    const arb = account('arbitrageur');
    for (const s of syms) {
      s.jumpListeners.push((t, dir) => {
        if (!chance(0.8)) return;
        const side: Side = dir > 0 ? 'B' : 'S';
        let q = 0, u = t + U(200, 15e3);
        for (let j = I(2, 6); j > 0; j--) { const qq = lots(s, 1, 6); q += qq; s.book.limit(u, arb, oid(), side, through(s, side, I(0, 3)), qq, { ioc: true }); u += U(20, 3e3); }
        after(u, U(20e6, 120e6), (v) => { const id = oid(); s.book.limit(v, arb, id, opp(side), touch(s, opp(side)), Math.min(q, lots(s, 2, 8))); after(v, 30e6, (w) => { s.book.cancel(w, id); }); });
      });
      const stat = (t: number) => { const side: Side = chance(0.5) ? 'B' : 'S'; s.book.limit(t, arb, oid(), side, touch(s, opp(side)), lots(s, 1, 3), { ioc: true }); after(t, expo(25e6), stat); };
      after(start, expo(25e6), stat);
    }
  }

  // --- institutions: parents in child slices (re-pegged when they go stale), some worked into the close; dark liquidity ---
  const institutions = Array.from({ length: 5 }, () => account('institution'));
  const workParent = (t0: number, inst: string, s: Sym, side: Side, total: number, toClose: boolean) => {
    let left = total;
    const child = (t: number) => {
      if (left <= 0) return;
      const q = Math.min(left, lots(s, 1, 4));
      left -= q;
      const late = toClose && end - t < 60e6;
      if (late || chance(0.3)) s.book.limit(t, inst, oid(), side, through(s, side, late ? I(0, 2) : 0), q, { ioc: true });
      else {
        const id = oid();
        s.book.limit(t, inst, id, side, touch(s, side), q);
        after(t, U(8e6, 30e6), (u) => { const r = s.book.resting(id); if (r) { s.book.cancel(u, id); left += r.qty; } });
      }
      after(t, (toClose ? U(2e6, 10e6) * Math.max(0.2, (end - t) / 240e6) : U(4e6, 25e6)) / s.activity, child);
    };
    after(t0, 0, child);
  };
  for (const inst of institutions) {
    const parent = (t: number) => { workParent(t, inst, pick(syms), chance(0.5) ? 'B' : 'S', lots(syms[0], 10, 60), false); after(t, expo(90e6), parent); };
    after(start, expo(30e6), parent);
    const darkRest = (t: number) => {
      const s = pick(syms), id = oid();
      s.book.midpoint(t, inst, id, chance(0.5) ? 'B' : 'S', lots(s, 2, 15), false);
      after(t, U(30e6, 240e6), (u) => { s.book.cancel(u, id); });
      after(t, expo(60e6), darkRest);
    };
    after(start, expo(5e6), darkRest);
  }
  for (let k = 0; k < 2; k++) after(end - U(120e6, 240e6), 0, (t) => workParent(t, institutions[k], syms[k], k ? 'S' : 'B', lots(syms[k], 20, 50), true));

  // --- pensions: large orders far from the touch, pulled when the price comes at them or after minutes ---
  for (let k = 0; k < 2; k++) {
    const pen = account('pension');
    const post = (t: number) => {
      const s = pick(syms), side: Side = chance(0.5) ? 'B' : 'S', id = oid();
      const ticks = Math.round(s.fv + (side === 'B' ? -1 : 1) * U(8, 30));
      s.book.limit(t, pen, id, side, ticks, lots(s, 25, 120), { display: chance(0.5) ? lots(s, 2, 5) : undefined });
      const until = t + U(60e6, 300e6);
      const watch = (u: number) => {
        if (!s.book.isResting(id)) return;
        if (u >= until || Math.abs(s.fv - ticks) < 3) { s.book.cancel(u, id); return; }
        after(u, 2e6, watch);
      };
      after(t, 2e6, watch);
      after(t, expo(50e6), post);
    };
    after(start, expo(20e6), post);
  }

  // --- smart order routers: full-size midpoint IOC into the dark pool first, the rest to the lit book ---
  for (let k = 0; k < 2; k++) {
    const sor = account('router');
    for (const s of syms) {
      const route = (t: number) => {
        const side: Side = chance(0.5) ? 'B' : 'S', q = lots(s, 1, 10);
        const got = s.book.midpoint(t, sor, oid(), side, q, true);
        if (got < q) s.book.limit(t + U(100, 2e3), sor, oid(), side, through(s, side, 0), q - got, { ioc: chance(0.5) });
        after(t, expo(30e6 / s.activity), route);
      };
      after(start, expo(10e6), route);
    }
  }

  // --- manipulators: ordinary trading most of the time, episodes now and then ---
  const crooks = Array.from({ length: 10 }, () => account('manipulator'));
  for (const c of crooks) {
    const live = (t: number) => {
      const s = pick(syms), side: Side = chance(0.5) ? 'B' : 'S';
      if (chance(0.5)) marketable(s, t, c, side, lots(s, 1, 3));
      else { const id = oid(); s.book.limit(t, c, id, side, touch(s, side), lots(s, 1, 5)); after(t, U(2e6, 60e6), (u) => { s.book.cancel(u, id); }); }
      after(t, expo(20e6), live);
    };
    after(start, expo(10e6), live);
  }

  interface Open { participant: string; symbol: string; pattern: Pattern; venue: string; ids: Set<string> }
  const opened: Open[] = [];
  const episode = (p: string, s: Sym, pattern: Pattern, venue = venues.lit) => { const e: Open = { participant: p, symbol: s.name, pattern, venue, ids: new Set() }; opened.push(e); return e; };
  const mine = (e: Open) => { const id = oid(); e.ids.add(id); return id; };

  const patterns: Record<Pattern, (p: string, s: Sym, t: number) => void> = {
    spoofing(p, s, t) {
      const e = episode(p, s, 'spoofing');
      const side: Side = chance(0.5) ? 'B' : 'S';
      const spoofs: string[] = [];
      let u = t;
      for (let k = I(1, 4); k > 0; k--) {
        const id = mine(e); spoofs.push(id);
        const uu = u;
        after(uu, 0, (v) => { s.book.limit(v, p, id, side, touch(s, side) - (side === 'B' ? I(0, 2) : -I(0, 2)), lots(s, 8, 40)); });
        u += U(2e3, 1.5e5);
      }
      after(u, U(8e4, 1.2e6), (v) => {
        const g = mine(e), other = opp(side);
        const best = touch(s, other), inside = best + (other === 'B' ? 1 : -1);
        const improve = Math.abs(inside - touch(s, side)) >= 1 && (other === 'B' ? inside < touch(s, 'S') : inside > touch(s, 'B'));
        s.book.limit(v, p, g, other, improve ? inside : best, lots(s, 1, 4));
        after(v, U(3e5, 3e6), (w) => {
          let x = w;
          for (const id of spoofs) { s.book.cancel(x, id); x += U(500, 1.2e5); }
          s.book.cancel(x, g);
        });
      });
    },
    layering(p, s, t) {
      const e = episode(p, s, 'layering');
      const side: Side = chance(0.5) ? 'B' : 'S', n = I(4, 9), dir = side === 'B' ? -1 : 1, first = I(1, 2);
      const layers: string[] = [];
      let u = t;
      for (let k = 0; k < n; k++) {
        const id = mine(e); layers.push(id);
        const kk = k;
        after(u, 0, (v) => { s.book.limit(v, p, id, side, touch(s, side) + dir * (first + kk), lots(s, 2, 6)); });
        u += U(5e3, 3e5);
      }
      after(u, U(1e5, 2e6), (v) => {
        s.book.limit(v, p, mine(e), opp(side), touch(s, side), lots(s, 1, 4), { ioc: true });
        const away = chance(0.3);
        let x = v + U(5e4, 1.5e6);
        for (const id of layers) {
          const xx = x;
          after(xx, 0, (w) => { if (away) { const r = s.book.resting(id); if (r) s.book.replace(w, id, r.ticks + dir * I(10, 25), r.qty); after(w, U(2e6, 20e6), (y) => { s.book.cancel(y, id); }); } else s.book.cancel(w, id); });
          x += U(200, 3e4);
        }
      });
    },
    wash_trade(p, s, t) {
      const partner = chance(0.25) ? pick(crooks.filter((c) => c !== p)) : p;
      const e = episode(p, s, 'wash_trade'), e2 = partner !== p ? episode(partner, s, 'wash_trade') : e;
      const dark = chance(0.2);
      if (dark) { e.venue = venues.dark; e2.venue = venues.dark; }
      let u = t;
      for (let k = I(2, 7); k > 0; k--) {
        after(u, 0, (v) => {
          const side: Side = chance(0.5) ? 'B' : 'S', q = lots(s, 1, 5);
          if (dark) {
            s.book.midpoint(v, p, mine(e), side, q, false);
            after(v, U(1e3, 4e5), (w) => { s.book.midpoint(w, partner, mine(e2), opp(side), q, true); });
          } else {
            const b = touch(s, 'B'), a = touch(s, 'S');
            const px = a - b >= 2 ? b + Math.floor((a - b) / 2) : side === 'B' ? b : a;
            s.book.limit(v, p, mine(e), side, px, q);
            after(v, U(1e3, 4e5), (w) => { s.book.limit(w, partner, mine(e2), opp(side), px, q, { ioc: true }); });
          }
        });
        u += U(1e6, 12e6);
      }
    },
    quote_stuffing(p, s, t) {
      const e = episode(p, s, 'quote_stuffing');
      const msgs = I(150, 600), dur = U(3e5, 3e6), side: Side = chance(0.5) ? 'B' : 'S', dir = side === 'B' ? -1 : 1;
      const variant = rnd();
      if (variant < 0.5) {
        for (let k = 0; k < msgs / 2; k++) {
          after(t + (k / (msgs / 2)) * dur, 0, (v) => { const id = mine(e); s.book.limit(v, p, id, side, touch(s, side) + dir * I(5, 25), lots(s, 1, 2)); after(v, U(200, 2e4), (w) => { s.book.cancel(w, id); }); });
        }
      } else if (variant < 0.8) {
        const id = mine(e);
        after(t, 0, (v) => {
          const base = touch(s, side) + dir * I(3, 8);
          s.book.limit(v, p, id, side, base, lots(s, 1, 2));
          for (let k = 1; k < msgs; k++) after(v + (k / msgs) * dur, 0, (w) => { s.book.replace(w, id, base + dir * (k % 3), lots(s, 1, 2)); });
          after(v + dur, 1e3, (w) => { s.book.cancel(w, id); });
        });
      } else {
        const ids: string[] = [];
        for (let k = 0; k < msgs / 2; k++) after(t + (k / msgs) * dur, 0, (v) => { const id = mine(e); ids.push(id); s.book.limit(v, p, id, side, touch(s, side) + dir * I(2, 30), lots(s, 1, 2)); });
        after(t + dur, U(1e3, 5e4), (v) => { let w = v; for (const id of ids) s.book.cancel(w += U(5, 200), id); });
      }
    },
    momentum_ignition(p, s, t) {
      const e = episode(p, s, 'momentum_ignition');
      const side: Side = chance(0.5) ? 'B' : 'S', n = I(3, 10);
      const exit = chance(0.5) ? mine(e) : null;
      if (exit) after(t, 0, (v) => { s.book.limit(v, p, exit, opp(side), touch(s, opp(side)) + (side === 'B' ? I(3, 8) : -I(3, 8)), lots(s, 3, 10)); });
      let u = t + (exit ? U(1e5, 2e6) : 0), bought = 0;
      for (let k = 0; k < n; k++) {
        after(u, 0, (v) => {
          const q = lots(s, 1, 4); bought += q;
          if (chance(0.5)) s.book.market(v, p, mine(e), side, q); else s.book.limit(v, p, mine(e), side, through(s, side, I(2, 4)), q, { ioc: true });
        });
        u += U(2e4, 6e5);
      }
      after(u, U(2e6, 20e6), (v) => {
        if (exit) s.book.cancel(v, exit);
        else s.book.limit(v, p, mine(e), opp(side), through(s, opp(side), 1), Math.max(s.lot, bought), { ioc: true });
      });
    },
    pinging(p, s, t) {
      const e = episode(p, s, 'pinging', venues.dark);
      const side: Side = chance(0.5) ? 'B' : 'S';
      let u = t, stop = false, sent = 0;
      for (let k = I(10, 50); k > 0; k--) {
        after(u, 0, (v) => {
          if (stop) return;
          sent++;
          if (s.book.midpoint(v, p, mine(e), side, I(1, 100), true) > 0) {
            s.book.limit(v + U(1e3, 3e4), p, mine(e), side, through(s, side, 1), lots(s, 2, 6), { ioc: true });
            stop = sent >= 6 && chance(0.5);
          }
        });
        u += U(2e4, 5e5);
      }
    },
    marking_the_close(p, s) {
      const e = episode(p, s, 'marking_the_close');
      const side: Side = chance(0.7) ? 'B' : 'S';
      const last = end - U(5e4, 3e6);
      if (chance(0.3)) {
        for (let k = I(1, 3); k > 0; k--) after(last - U(5e6, 40e6), 0, (v) => { s.book.limit(v, p, mine(e), side, through(s, side, 1), lots(s, 1, 2), { ioc: true }); });
        agenda.at(Math.round(last), (v) => { s.book.market(v, p, mine(e), side, lots(s, 10, 30)); });
      } else {
        const n = I(3, 10), t0 = end - U(15e6, 90e6);
        for (let k = 0; k < n; k++) {
          const at = t0 + (last - t0) * Math.sqrt((k + 1) / n); // bunched toward the close
          agenda.at(Math.round(at), (v) => { s.book.limit(v, p, mine(e), side, through(s, side, I(1, 3)), lots(s, 2, 4 + 2 * k), { ioc: true }); });
        }
      }
    },
  };
  const perPattern = opts.episodesPerPattern ?? 6;
  for (const pattern of Object.keys(patterns) as Pattern[]) {
    for (let k = 0; k < perPattern; k++) {
      const p = pick(crooks), s = pick(syms);
      const t = start + (end - start) * U(0.03, 0.88);
      if (pattern === 'marking_the_close') patterns[pattern](p, s, end);
      else after(t, 0, (v) => patterns[pattern](p, s, v));
    }
  }

  for (let e = agenda.pop(); e; e = agenda.pop()) e.f(e.t);

  const events = out.filter((e) => e.ts <= end).sort((a, b) => a.ts - b.ts);
  events.forEach((e, i) => { e.seq = i + 1; });
  const episodes: Episode[] = [];
  for (const o of opened) {
    let lo = Infinity, hi = -Infinity;
    for (const ev of events) if (ev.participant === o.participant && ev.symbol === o.symbol && o.ids.has(ev.orderId)) { if (ev.ts < lo) lo = ev.ts; if (ev.ts > hi) hi = ev.ts; }
    if (lo <= hi) episodes.push({ participant: o.participant, symbol: o.symbol, venue: o.venue, pattern: o.pattern, start: lo, end: hi });
  }
  episodes.sort((a, b) => a.start - b.start);
  return { events, episodes, startUs: start, endUs: end, archetypes };
}
