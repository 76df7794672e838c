/**
 * What the evidence gate costs the alerts stage per event (issue #18's latency claim: the gate
 * sits on the hot path of every scored event). The alerts stage alone, through the operator
 * harness, on the auction family's seed 1001 (129,650 events, 1-in-1,000 rows marked alerting
 * with a pattern name drawn at random), in batches of 64: gate off against gate on,
 * alternated, 7 rounds; the median µs per event of each and their ratio.
 *
 *   npm run build && node dist/bench/evidence-cost.js → bench/RESULTS-evidence-cost.md
 */
import { writeFileSync } from 'node:fs';
import { OperatorHarness } from '../src/harness.js';
import { rng } from '../apps/demo/orderflow.js';
import { alerts } from '../apps/surveillance/alerts.js';
import { EvidencePatterns } from '../apps/surveillance/evidence.js';
import { simulateAuction } from '../apps/surveillance/sim/auction-sim.js';

const S = {
  ts: 'f64', symbol: 'str', participant: 'str', venue: 'str', side: 'str', type: 'str', orderType: 'str', orderId: 'str', price: 'f64', qty: 'f64', displayQty: 'f64', counterparty: 'str', execId: 'str',
  score: 'f64', threshold: 'f64', alert: 'f64', label: 'str', model: 'str',
} as const;

const sim = simulateAuction({ seed: 1001 });
const r = rng(7);
const rows = sim.events.map((e) => {
  const alert = r() < 1e-3 ? 1 : 0;
  return {
    ts: e.ts, symbol: e.symbol, participant: e.participant, venue: e.venue, side: e.side, type: e.type, orderType: e.orderType ?? 'LIMIT', orderId: e.orderId,
    price: e.price ?? NaN, qty: e.qty, displayQty: e.displayQty ?? e.qty, counterparty: e.counterparty ?? '', execId: e.execId ?? '',
    score: alert ? 0.999 : 0.1, threshold: 0.99, alert, label: alert ? EvidencePatterns[Math.floor(r() * EvidencePatterns.length)] : 'normal', model: 'bench@1',
  };
});
const B = 64;

function once(gate: boolean): { usPerEvent: number; alerts: number } {
  const h = new OperatorHarness(alerts(gate ? { evidence: {} } : {}), { input: S } as never) as unknown as OperatorHarness<typeof S, never>;
  const t0 = process.hrtime.bigint();
  for (let i = 0; i < rows.length; i += B) {
    const part = rows.slice(i, i + B);
    h.push(part as never, { keys: part.map((x) => `${x.participant}|${x.symbol}`) });
  }
  const us = Number(process.hrtime.bigint() - t0) / 1e3;
  return { usPerEvent: us / rows.length, alerts: h.outputs.reduce((n, b) => n + b.length, 0) };
}

const med = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
once(false); once(true); // warm the JIT
const off: number[] = [], on: number[] = [];
let sent = { off: 0, on: 0 };
for (let k = 0; k < 7; k++) {
  const a = once(false), b = once(true);
  off.push(a.usPerEvent); on.push(b.usPerEvent);
  sent = { off: a.alerts, on: b.alerts };
}
const lines = [
  '# What the evidence gate costs the alerts stage (issue #18)', '',
  `Run ${new Date().toISOString()} by \`node dist/bench/evidence-cost.js\` on this machine (${process.arch}, Node ${process.version}). The alerts stage alone through the operator harness, auction family seed 1001 (${rows.length.toLocaleString('en-US')} events, 1 in 1,000 rows alerting under a random pattern name), batches of ${B}; 7 alternated rounds, median.`, '',
  '| alerts stage | µs per event (median of 7) | min … max | alerts sent |', '|---|---:|---|---:|',
  `| without the gate | ${med(off).toFixed(2)} | ${Math.min(...off).toFixed(2)} … ${Math.max(...off).toFixed(2)} | ${sent.off} |`,
  `| with the evidence gate | ${med(on).toFixed(2)} | ${Math.min(...on).toFixed(2)} … ${Math.max(...on).toFixed(2)} | ${sent.on} |`, '',
  `Ratio with / without: ${(med(on) / med(off)).toFixed(2)}×; the gate adds ${(med(on) - med(off)).toFixed(2)} µs per event (every event is pushed to its key's evidence ring; evidence is computed only for keys holding an alert).`, '',
];
writeFileSync(new URL('../../bench/RESULTS-evidence-cost.md', import.meta.url), lines.join('\n'));
process.stdout.write(lines.join('\n'));
