/**
 * Designing the pattern-evidence gate (apps/surveillance/evidence.ts) on the *training*
 * family's validation seed, never on an evaluation set: runs a scorer once with the gate
 * off, replays the same events through KeyedEvidence, and scores the alerts ungated, gated on
 * the named pattern's evidence, and gated on any pattern's evidence (renamed to it).
 *
 *   node dist/bench/evidence-design.js   (EVAL_FAMILY=market|auction, EVAL_SEEDS=50, EVAL_SCORERS=transformer)
 */
import type { OrderEvent } from '../apps/demo/orderflow.js';
import { simulate } from '../apps/surveillance/sim/market.js';
import { simulateAuction } from '../apps/surveillance/sim/auction-sim.js';
import { EvidencePatterns, KeyedEvidence, type EvidencePattern } from '../apps/surveillance/evidence.js';
import { evidenceColumns, evidenceRule } from './evidence-rule.js';
import { runScorer, scoreAlerts, type Alert } from './eval-surveillance.js';

process.env.EVAL_EVIDENCE = '0'; // the gate is applied offline here
const family = process.env.EVAL_FAMILY ?? 'market';
const seeds = (process.env.EVAL_SEEDS ?? '50').split(',').map(Number);
const scorers = (process.env.EVAL_SCORERS ?? 'transformer').split(',');

const HOLD = Number(process.env.EVAL_HOLD_US ?? 10e6);

/**
 * Per alert: the first time, from the alert's event to HOLD after it, that the key's flow holds
 * the named pattern's evidence (named) and any pattern's (any, with that pattern), as the
 * alerts stage would confirm a held alert.
 */
function confirmations(events: OrderEvent[], alerts: Alert[]): { named?: number; any?: number; anyPattern?: EvidencePattern; at: Set<EvidencePattern> }[] {
  const b = evidenceColumns(events), ev = new KeyedEvidence();
  const pending = new Map<string, number[]>();
  alerts.forEach((a, i) => { const k = `${a.participant}|${a.symbol}`; (pending.get(k) ?? pending.set(k, []).get(k)!).push(i); });
  const out: { named?: number; any?: number; anyPattern?: EvidencePattern; at: Set<EvidencePattern> }[] = alerts.map(() => ({ at: new Set() }));
  const open = new Map<string, number[]>();
  for (let i = 0; i < events.length; i++) {
    const e = events[i], k = `${e.participant}|${e.symbol}`;
    ev.push(k, b, i);
    const q = pending.get(k);
    const o = open.get(k) ?? open.set(k, []).get(k)!;
    while (q?.length && alerts[q[0]].ts <= e.ts) o.push(q.shift()!);
    if (!o.length) continue;
    const got = ev.evidence(k);
    for (let x = o.length - 1; x >= 0; x--) {
      const ai = o[x], a = alerts[ai], r = out[ai];
      if (e.ts - a.ts > HOLD) { o.splice(x, 1); continue; }
      if (r.at.size === 0 && e.ts === a.ts) for (const p of EvidencePatterns) if (got[p]) r.at.add(p);
      if (r.named === undefined && got[a.pattern as EvidencePattern]) r.named = e.ts;
      if (r.any === undefined) { const p = EvidencePatterns.find((p) => got[p]); if (p) { r.any = e.ts; r.anyPattern = p; } }
      if (r.named !== undefined && r.any !== undefined) o.splice(x, 1);
    }
  }
  return out;
}

for (const scorer of scorers) {
  for (const seed of seeds) {
    const sim = family === 'market' ? simulate({ seed, events: 200_000, hardNegativesPerKind: 12 }) : simulateAuction({ seed });
    const events = [...sim.events].sort((a, b) => a.ts - b.ts);
    const { alerts } = await runScorer(scorer, sim.events);
    const ev = confirmations(events, alerts);
    const named = alerts.flatMap((a, i) => (ev[i].named !== undefined ? [{ ...a, ts: ev[i].named! }] : []));
    const any = alerts.flatMap((a, i) => (ev[i].any !== undefined ? [{ ...a, ts: ev[i].any!, pattern: ev[i].anyPattern! }] : []));
    const atOnce = alerts.filter((a, i) => ev[i].at.has(a.pattern as EvidencePattern));
    const pos = new Set(sim.episodes.flatMap((ep) => Array.from({ length: Math.floor(ep.end / 60e6) - Math.floor(ep.start / 60e6) + 1 }, (_, k) => `${ep.participant}|${ep.symbol}|${Math.floor(ep.start / 60e6) + k}`)));
    const line = (what: string, a: Alert[]) => {
      const q = scoreAlerts(sim.events, sim.episodes, a);
      return `${what.padEnd(10)} alerts ${String(a.length).padStart(5)}  FPR ${(q.fpr * 100).toFixed(2)}%  precision ${q.precision.toFixed(3)}  recall ${q.recall.toFixed(3)}  F1 ${q.f1.toFixed(3)}  episode recall ${(q.episodeRecall * 100).toFixed(1)}%  ` +
        Object.entries(q.perPattern).map(([p, r]) => `${p.slice(0, 5)} ${r.detected}/${r.episodes}`).join(' ');
    };
    console.log(`\n${family} seed ${seed}, ${scorer}`);
    console.log(line('ungated', alerts));
    console.log(line('at once', atOnce));
    console.log(line('named', named));
    console.log(line('any', any));
    console.log(line('rule only', evidenceRule(events)));
    // per named pattern: alerts on positive / negative units, and how many carried that pattern's evidence, or any
    for (const p of new Set(alerts.map((a) => a.pattern))) {
      const rows = alerts.map((a, i) => ({ a, e: ev[i] })).filter((r) => r.a.pattern === p);
      const isPos = (a: Alert) => pos.has(`${a.participant}|${a.symbol}|${Math.floor(a.ts / 60e6)}`);
      const tp = rows.filter((r) => isPos(r.a)), fp = rows.filter((r) => !isPos(r.a));
      const frac = (rs: typeof rows, f: (r: (typeof rows)[number]) => boolean) => `${rs.filter(f).length}/${rs.length}`;
      console.log(`  ${p.padEnd(18)} TP alerts with own evidence ${frac(tp, (r) => r.e.named !== undefined)}, any ${frac(tp, (r) => r.e.any !== undefined)}; FP alerts with own ${frac(fp, (r) => r.e.named !== undefined)}, any ${frac(fp, (r) => r.e.any !== undefined)}`);
    }
  }
}
