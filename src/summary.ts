/** A readable end-of-run summary: totals, per-stage throughput, latency percentiles. */
import type { RunSummary } from './runtime.js';

const fmt = (n: number) => (n >= 1e6 ? `${(n / 1e6).toFixed(2)}M` : n >= 1e4 ? `${(n / 1e3).toFixed(1)}k` : `${Math.round(n)}`);
const us = (n: number) => (n >= 1000 ? `${(n / 1000).toFixed(2)} ms` : `${Math.round(n)} µs`);

export function formatSummary(s: RunSummary, extra: Record<string, string | number> = {}): string {
  const src = s.stages.filter((st) => st.kind.endsWith('source'));
  const events = src.reduce((n, st) => n + st.recordsOut, 0);
  const lines: string[] = [];
  lines.push(`\n── sluice: topology '${s.topology}' finished in ${(s.wallMs / 1000).toFixed(2)} s`);
  lines.push(`   events in        ${fmt(events)}  (${fmt(events / (s.wallMs / 1000))} events/s wall clock)`);
  for (const [k, v] of Object.entries(extra)) lines.push(`   ${k.padEnd(16)} ${typeof v === 'number' ? fmt(v) : v}`);
  for (const d of s.dropped ?? []) lines.push(`   dropped          ${fmt(d.records)} at '${d.stage}' (${d.reason})`);
  for (const st of s.state ?? []) lines.push(`   keyed state      ${fmt(st.keys)} keys at '${st.stage}' (${fmt(st.expired)} expired by TTL, ${fmt(st.evicted)} evicted by the key bound)`);
  lines.push(`   max queued       ${fmt(s.maxQueuedRecords)} records on one edge;  checkpoints ${s.checkpoints}`);
  lines.push('');
  lines.push('   stage                     kind           in        out       busy ms   records/s busy   backpressured ms');
  for (const st of s.stages) {
    const thr = st.busyMs > 0 ? fmt((st.recordsIn || st.recordsOut) / (st.busyMs / 1000)) : '-';
    lines.push(`   ${st.name.padEnd(25)} ${st.kind.padEnd(14)} ${fmt(st.recordsIn).padStart(8)} ${fmt(st.recordsOut).padStart(9)} ${st.busyMs.toFixed(0).padStart(12)} ${thr.padStart(16)} ${st.backpressuredMs.toFixed(0).padStart(18)}`);
  }
  lines.push('');
  lines.push('   ingest → sink latency   count      p50        p90        p99        p99.9      max');
  for (const [sink, l] of Object.entries(s.latency)) {
    if (!l.count) continue;
    lines.push(`   ${sink.padEnd(22)} ${fmt(l.count).padStart(7)} ${us(l.p50).padStart(10)} ${us(l.p90).padStart(10)} ${us(l.p99).padStart(10)} ${us(l.p999).padStart(10)} ${us(l.max).padStart(10)}`);
  }
  return lines.join('\n');
}
