/**
 * The floor: the demo job's work written by hand as one loop over lines, with no
 * engine — no batches, no columns, no queues, no scheduler. Same parsing and contract
 * validation, same robust normalization, same order-flow features, same sliding-window
 * aggregates; `bench/run.ts` checks that it emits the same windows as the topology.
 */
import { contractValidator } from '../src/contracts.js';

const INIT = 9, RATE = 0.02;
const med = (a: number[]) => { const m = a.length >> 1; return a.length % 2 ? a[m] : (a[m - 1] + a[m]) / 2; };

interface Order { p: string; side: string; price: number; qty: number; ts: number; visible: boolean }
interface Sym { orders: Map<string, Order>; bids: Map<number, number>; asks: Map<number, number>; bidPx: number[]; askPx: number[]; ofi: number[][]; ofiSum: number; vw: number[][]; pq: number; q: number }
interface Part { ev: number[][]; nNew: number; nCancel: number; nExec: number; nSelf: number; clSum: number; clN: number; iaSum: number; iaSq: number; iaN: number; lastTs: number; levels: Map<number, number> }

/** slots of a pane: count, newOrders, cancels, execs, qtySum, qtyNormMax, otr(n,s), cancelRatioMax, cl(n,s), imb(n,s), ofiLast(ts,v), spread(n,s), vwapMax, selfMax */
const W = 19;
function newPane(): Float64Array { const a = new Float64Array(W); a[5] = -Infinity; a[8] = -Infinity; a[13] = -Infinity; a[14] = NaN; a[17] = -Infinity; a[18] = -Infinity; return a; }

export interface FloorResult { events: number; windows: number; checksum: number; dead: number }

export function runFloor(lines: string[], sizeUs = 10_000_000, slideUs = 1_000_000, oooUs = 5_000, horizon = 10_000_000): FloorResult {
  const validate = contractValidator('order-event');
  const norm = new Map<string, number[]>();
  const syms = new Map<string, Sym>();
  const parts = new Map<string, Part>();
  const panes = new Map<string, Map<number, Float64Array>>();
  const fire = new Map<number, Set<string>>();
  const ends: number[] = [];
  let wm = -Infinity, maxTs = -Infinity, windows = 0, checksum = 0, dead = 0, events = 0;

  const level = (s: Sym, side: string, price: number, dq: number) => {
    const book = side === 'B' ? s.bids : s.asks, px = side === 'B' ? s.bidPx : s.askPx;
    const q = (book.get(price) ?? 0) + dq;
    const pos = () => { let lo = 0, hi = px.length; while (lo < hi) { const m = (lo + hi) >> 1; if (side === 'B' ? px[m] > price : px[m] < price) lo = m + 1; else hi = m; } return lo; };
    if (q > 0) { if (!book.has(price)) px.splice(pos(), 0, price); book.set(price, q); }
    else if (book.has(price)) { book.delete(price); px.splice(pos(), 1); }
  };
  const rest = (p: Part, price: number, d: number) => { const n = (p.levels.get(price) ?? 0) + d; if (n > 0) p.levels.set(price, n); else p.levels.delete(price); };
  const fireUpTo = () => {
    while (ends.length && ends[0] - 1 <= wm) {
      const end = ends.shift()!;
      for (const key of fire.get(end)!) {
        const kp = panes.get(key)!;
        const acc = newPane();
        for (let p = end - sizeUs; p < end; p += slideUs) {
          const x = kp.get(p); if (!x) continue;
          acc[0] += x[0]; acc[1] += x[1]; acc[2] += x[2]; acc[3] += x[3]; acc[4] += x[4]; acc[5] = Math.max(acc[5], x[5]);
          acc[6] += x[6]; acc[7] += x[7]; acc[8] = Math.max(acc[8], x[8]); acc[9] += x[9]; acc[10] += x[10]; acc[11] += x[11]; acc[12] += x[12];
          if (x[13] >= acc[13]) { acc[13] = x[13]; acc[14] = x[14]; }
          acc[15] += x[15]; acc[16] += x[16]; acc[17] = Math.max(acc[17], x[17]); acc[18] = Math.max(acc[18], x[18]);
        }
        kp.delete(end - sizeUs);
        if (acc[0] > 0) { windows++; checksum = (checksum + acc[0] * 31 + acc[4] + acc[1] * 7 + acc[2] * 13) % 1e12; }
      }
      fire.delete(end);
    }
  };

  for (let li = 0; li < lines.length; li++) {
    const line = lines[li];
    let o: Record<string, unknown>;
    try { o = JSON.parse(line); } catch { dead++; continue; }
    if (!validate(o)) { dead++; continue; }
    events++;
    const ts = o.ts as number, symbol = o.symbol as string, participant = o.participant as string, id = o.orderId as string;
    const type = o.type as string, side = o.side as string, qty = o.qty as number;
    const price = typeof o.price === 'number' ? o.price : NaN;
    // robust normalization of qty per symbol
    let st = norm.get(symbol);
    if (!st) { st = [0, 0, 0, 0]; norm.set(symbol, st); }
    const n = st[0]++;
    const spread = st[2] > 0 ? 1.4826 * st[2] : 1.2533 * st[3];
    const qtyNorm0 = spread > 0 ? (qty - st[1]) / spread : 0;
    if (n < INIT) {
      st.push(qty);
      const buf = st.slice(4).sort((a, b) => a - b);
      st[1] = med(buf);
      const devs = buf.map((v) => Math.abs(v - st![1]));
      st[3] = devs.reduce((a, b) => a + b, 0) / devs.length;
      st[2] = med(devs.sort((a, b) => a - b));
      if (n + 1 === INIT) st.length = 4;
    } else {
      const step = RATE * (st[2] > 0 ? st[2] : Math.max(st[3], 1e-9 * Math.abs(st[1]), 1e-12));
      const dev = Math.abs(qty - st[1]);
      st[1] += step * Math.sign(qty - st[1]); st[2] += step * Math.sign(dev - st[2]); if (st[2] < 0) st[2] = 0;
      st[3] += (dev - st[3]) * RATE;
    }
    const qtyNorm = n < 10 ? 0 : qtyNorm0;
    // features
    let s = syms.get(symbol);
    if (!s) { s = { orders: new Map(), bids: new Map(), asks: new Map(), bidPx: [], askPx: [], ofi: [], ofiSum: 0, vw: [], pq: 0, q: 0 }; syms.set(symbol, s); }
    const pk = `${participant}\u0000${symbol}`;
    let p = parts.get(pk);
    if (!p) { p = { ev: [], nNew: 0, nCancel: 0, nExec: 0, nSelf: 0, clSum: 0, clN: 0, iaSum: 0, iaSq: 0, iaN: 0, lastTs: NaN, levels: new Map() }; parts.set(pk, p); }
    const b0 = s.bidPx[0] ?? NaN, a0 = s.askPx[0] ?? NaN, bq0 = b0 === b0 ? s.bids.get(b0)! : 0, aq0 = a0 === a0 ? s.asks.get(a0)! : 0;
    let cl = NaN, self = 0;
    if (type === 'NEW' && price === price) {
      const visible = o.displayQty !== 0;
      const prev = s.orders.get(id);
      if (prev) { if (prev.visible) level(s, prev.side, prev.price, -prev.qty); rest(parts.get(prev.p) ?? p, prev.price, -1); s.orders.delete(id); }
      s.orders.set(id, { p: pk, side, price, qty, ts, visible });
      if (visible) level(s, side, price, qty);
      rest(p, price, 1);
    } else if (type === 'CANCEL' || type === 'EXEC' || type === 'REPLACE') {
      const ord = s.orders.get(id);
      if (type === 'EXEC') {
        const px = price === price ? price : ord?.price ?? NaN;
        if (px === px && qty > 0) { s.vw.push([ts, px * qty, qty]); s.pq += px * qty; s.q += qty; }
        if (o.counterparty && o.counterparty === participant) self = 1;
      }
      if (ord) {
        if (type === 'REPLACE') {
          if (ord.visible) level(s, ord.side, ord.price, -ord.qty);
          rest(parts.get(ord.p) ?? p, ord.price, -1);
          if (price === price) ord.price = price;
          ord.qty = qty; ord.ts = ts;
          if (ord.visible) level(s, ord.side, ord.price, ord.qty);
          rest(parts.get(ord.p) ?? p, ord.price, 1);
        } else {
          if (type === 'CANCEL') cl = ts - ord.ts;
          const q = Math.min(qty, ord.qty);
          if (ord.visible) level(s, ord.side, ord.price, -q);
          ord.qty -= q;
          if (ord.qty <= 0) { s.orders.delete(id); rest(parts.get(ord.p) ?? p, ord.price, -1); }
        }
      }
    }
    const b1 = s.bidPx[0] ?? NaN, a1 = s.askPx[0] ?? NaN, bq1 = b1 === b1 ? s.bids.get(b1)! : 0, aq1 = a1 === a1 ? s.asks.get(a1)! : 0;
    if (b0 === b0 && b1 === b1 && a0 === a0 && a1 === a1) {
      let e = 0;
      if (b1 >= b0) e += bq1; if (b1 <= b0) e -= bq0; if (a1 <= a0) e -= aq1; if (a1 >= a0) e += aq0;
      if (e !== 0) { s.ofi.push([ts, e]); s.ofiSum += e; }
    }
    const from = ts - horizon;
    while (s.ofi.length && s.ofi[0][0] < from) s.ofiSum -= s.ofi.shift()![1];
    while (s.vw.length && s.vw[0][0] < from) { const v = s.vw.shift()!; s.pq -= v[1]; s.q -= v[2]; }
    while (p.ev.length && p.ev[0][0] < from) {
      const v = p.ev.shift()!;
      if (v[1] === 0) p.nNew--; else if (v[1] === 1) p.nCancel--; else if (v[1] === 2) p.nExec--;
      if (v[2] === v[2]) { p.clSum -= v[2]; p.clN--; }
      p.nSelf -= v[3];
      if (v[4] === v[4]) { p.iaSum -= v[4]; p.iaSq -= v[4] * v[4]; p.iaN--; }
    }
    const kind = type === 'NEW' || type === 'REPLACE' ? 0 : type === 'CANCEL' ? 1 : type === 'EXEC' ? 2 : 3;
    const ia = Number.isNaN(p.lastTs) ? NaN : Math.max(0, ts - p.lastTs);
    p.lastTs = Number.isNaN(p.lastTs) ? ts : Math.max(ts, p.lastTs);
    p.ev.push([ts, kind, cl, self, ia]);
    if (kind === 0) p.nNew++; else if (kind === 1) p.nCancel++; else if (kind === 2) p.nExec++;
    if (cl === cl) { p.clSum += cl; p.clN++; }
    p.nSelf += self;
    if (ia === ia) { p.iaSum += ia; p.iaSq += ia * ia; p.iaN++; }
    const mid = (b1 + a1) / 2;
    const otr = p.nNew / Math.max(1, p.nExec), cancelRatio = p.nCancel / Math.max(1, p.nNew), clMean = p.clN ? p.clSum / p.clN : NaN;
    let bq = 0, aq = 0;
    for (let j = 0; j < 5 && j < s.bidPx.length; j++) bq += s.bids.get(s.bidPx[j])!;
    for (let j = 0; j < 5 && j < s.askPx.length; j++) aq += s.asks.get(s.askPx[j])!;
    const imb = bq + aq > 0 ? (bq - aq) / (bq + aq) : NaN;
    const spreadBps = mid > 0 ? ((a1 - b1) / mid) * 1e4 : NaN;
    const vwap = s.q > 0 ? s.pq / s.q : NaN;
    const px = price === price ? price : mid;
    const vdev = vwap > 0 ? ((px - vwap) / vwap) * 1e4 : NaN;
    // sliding window per participant × symbol
    const key = `${participant}|${symbol}`;
    const pane = Math.floor(ts / slideUs) * slideUs;
    if (pane + sizeUs - 1 <= wm) { dead++; continue; } // late
    let kp = panes.get(key);
    if (!kp) { kp = new Map(); panes.set(key, kp); }
    let a = kp.get(pane);
    if (!a) {
      a = newPane(); kp.set(pane, a);
      for (let end = pane + slideUs; end <= pane + sizeUs; end += slideUs) {
        let set = fire.get(end);
        if (!set) { set = new Set(); fire.set(end, set); let k = ends.length; ends.push(end); while (k > 0 && ends[k - 1] > end) { ends[k] = ends[k - 1]; k--; } ends[k] = end; }
        set.add(key);
      }
    }
    a[0]++; if (type === 'NEW') a[1]++; else if (type === 'CANCEL') a[2]++; else if (type === 'EXEC') a[3]++;
    a[4] += qty; if (qtyNorm > a[5]) a[5] = qtyNorm;
    a[6]++; a[7] += otr; if (cancelRatio > a[8]) a[8] = cancelRatio;
    if (clMean === clMean) { a[9]++; a[10] += clMean; }
    if (imb === imb) { a[11]++; a[12] += imb; }
    if (ts >= a[13]) { a[13] = ts; a[14] = s.ofiSum; }
    if (spreadBps === spreadBps) { a[15]++; a[16] += spreadBps; }
    if (vdev === vdev && vdev > a[17]) a[17] = vdev;
    if (p.nSelf > a[18]) a[18] = p.nSelf;
    // watermark every 1024 records, as the topology's batches do
    if (ts > maxTs) maxTs = ts;
    if ((li & 1023) === 1023) { wm = Math.max(wm, maxTs - oooUs - 1); fireUpTo(); }
  }
  wm = Infinity; fireUpTo();
  return { events, windows, checksum, dead };
}
