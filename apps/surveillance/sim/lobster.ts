/**
 * Real background flow from LOBSTER message files (NASDAQ, anonymous) with plausible
 * participants assigned, so that simulated manipulation episodes can be injected into
 * it (simulate({ background })).
 *
 * LOBSTER has no participant ids. Each order id is given one account, consistently for
 * its whole life, by what the order does: orders deleted within a second of entry go
 * to HFT accounts, orders that rest and trade to market makers, and the rest to
 * market makers and institutions by a seeded hash; an execution's counterparty (the
 * unseen aggressor) is drawn from all accounts. Hidden executions (type 5, order id 0)
 * become dark midpoint fills.
 */
import { readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { lobsterToOrder } from '../../../operators/parse.js';
import { rng, type OrderEvent } from '../../demo/orderflow.js';

export function lobsterBackground(path: string, opts: { seed?: number; maxEvents?: number } = {}): OrderEvent[] {
  const m = /^([A-Z.]+)_(\d{4}-\d{2}-\d{2})_/.exec(basename(path));
  if (!m) throw new Error(`lobsterBackground: ${path} is not named SYMBOL_YYYY-MM-DD_…_message_N.csv`);
  const symbol = m[1], dateUs = Date.parse(`${m[2]}T00:00:00Z`) * 1000;
  const lines = readFileSync(path, 'utf8').split('\n').filter((l) => l.trim());
  const rows = lines.slice(0, opts.maxEvents ?? lines.length).map((l) => lobsterToOrder(l, { symbol, dateUs, venue: 'XLIT' }) as unknown as OrderEvent);
  // first pass: how each order ends and how soon
  const entered = new Map<string, number>(), quickDelete = new Set<string>(), traded = new Set<string>();
  for (const e of rows) {
    if (e.type === 'NEW') entered.set(e.orderId, e.ts);
    else if (e.type === 'CANCEL' && entered.has(e.orderId) && e.ts - entered.get(e.orderId)! < 1e6) quickDelete.add(e.orderId);
    else if (e.type === 'EXEC') traded.add(e.orderId);
  }
  const r = rng((opts.seed ?? 1) * 104729 + 7);
  const hash = (s: string) => { let h = 2166136261; for (let i = 0; i < s.length; i++) h = Math.imul(h ^ s.charCodeAt(i), 16777619); return (h >>> 0) / 4294967296; };
  const salt = String(opts.seed ?? 1);
  const owner = (id: string): string => {
    const u = hash(id + salt);
    if (quickDelete.has(id)) return `HFT${1 + Math.floor(u * 3)}`;
    if (traded.has(id)) return u < 0.7 ? `MM${1 + Math.floor(u / 0.7 * 3)}` : `INST${1 + Math.floor((u - 0.7) / 0.3 * 3)}`;
    return u < 0.6 ? `MM${1 + Math.floor(u / 0.6 * 3)}` : u < 0.85 ? `HFT${1 + Math.floor((u - 0.6) / 0.25 * 3)}` : `INST${1 + Math.floor((u - 0.85) / 0.15 * 3)}`;
  };
  const everyone = ['MM1', 'MM2', 'MM3', 'HFT1', 'HFT2', 'HFT3', 'INST1', 'INST2', 'INST3'];
  const out: OrderEvent[] = [];
  let hidden = 0;
  for (const e of rows) {
    if ((e.type as string) === 'HALT') continue;
    if (e.orderId === '0') { // hidden execution: a dark fill at the midpoint
      const k = Math.floor(r() * everyone.length);
      const p = everyone[k], c = everyone[(k + 1 + Math.floor(r() * (everyone.length - 1))) % everyone.length];
      out.push({ ...e, venue: 'XDARK', orderId: `H${++hidden}`, participant: p, orderType: 'MIDPOINT', displayQty: 0, counterparty: c });
      continue;
    }
    const p = owner(e.orderId);
    const ev: OrderEvent = { ...e, participant: p, orderId: `L${e.orderId}` };
    if (e.type === 'EXEC') { let c = everyone[Math.floor(r() * everyone.length)]; if (c === p) c = everyone[(everyone.indexOf(c) + 1) % everyone.length]; ev.counterparty = c; }
    out.push(ev);
  }
  return out;
}
