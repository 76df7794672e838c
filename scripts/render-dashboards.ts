/**
 * Renders every Grafana dashboard panel from live data, for grafana/screenshots/: no
 * Grafana can be installed on the build machine (it is not in Debian and its site is
 * unreachable), so this runs the same queries the dashboards hold against a real
 * Prometheus (Debian's `prometheus` package) scraping live Sluice processes, and draws
 * each panel's series as SVG — the panels as they would show, from a live scrape.
 *
 * Live workload (about RENDER_SECONDS, default 150 s):
 *   - `sluice run surveillance` on Kafka (real broker), fed simulated order flow at ~800/s
 *     with a malformed message every ~500 (dead letters);
 *   - `sluice run personalization` over the synthetic behaviour stream, paced at ~150/s.
 *
 *   apt-get install prometheus && npm run build && node dist/scripts/render-dashboards.js
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { simulate } from '../apps/surveillance/sim/market.js';
import { createTopics, testBrokers, topicName } from '../tests/kafka/broker.js';
import { lineChart } from '../loadtest/svg.js';
import { boards, type Panel } from './grafana-dashboards.js';

const SECONDS = Number(process.env.RENDER_SECONDS ?? 150);
const PROM = 'http://127.0.0.1:19090';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const root = new URL('../../', import.meta.url).pathname;

function cli(args: string[]): ChildProcess {
  const c = spawn(process.execPath, [join(root, 'dist/bin/sluice.js'), 'run', ...args], { stdio: ['ignore', 'ignore', 'pipe'] });
  c.stderr!.on('data', (d: Buffer) => { const s = d.toString(); if (/error|failed/i.test(s) && !/dead letter/i.test(s)) process.stderr.write(`[${args[0]}] ${s}`); });
  return c;
}

interface PromSeries { metric: Record<string, string>; values: [number, string][] }

async function queryRange(expr: string, start: number, end: number): Promise<PromSeries[]> {
  const u = `${PROM}/api/v1/query_range?query=${encodeURIComponent(expr)}&start=${start}&end=${end}&step=2`;
  const r = await (await fetch(u)).json() as { status: string; data: { result: PromSeries[] }; error?: string };
  if (r.status !== 'success') throw new Error(`prometheus: ${expr}: ${r.error}`);
  return r.data.result;
}

const legendOf = (fmt: string | undefined, m: Record<string, string>, expr: number) =>
  fmt ? fmt.replace(/\{\{(\w+)\}\}/g, (_, k: string) => m[k] ?? '').trim() || `query ${expr + 1}` : Object.entries(m).filter(([k]) => k !== '__name__').map(([k, v]) => `${k}=${v}`).join(' ') || `query ${expr + 1}`;

const unitLabel = (u: string) => (u === 's' ? 'seconds' : u === 'percentunit' ? 'fraction' : u === 'ops' ? 'per second' : u === 'bytes' ? 'bytes' : u === 'short' ? 'count' : '');
const esc = (t: string) => t.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;');
const W = 640, H = 300;

/** a stat panel: the last value, large, with its unit */
function statSvg(p: Panel, value: number | undefined): string {
  const shown = value === undefined || !Number.isFinite(value) ? 'no data'
    : p.unit === 's' ? (value < 1 ? `${(value * 1000).toFixed(value < 0.01 ? 2 : 1)} ms` : `${value.toFixed(2)} s`)
    : p.unit === 'percentunit' ? `${(value * 100).toFixed(1)} %` : p.unit === 'bytes' ? `${(value / 2 ** 20).toFixed(0)} MiB`
    : `${value >= 1000 ? `${(value / 1000).toFixed(1)}k` : value.toFixed(value < 10 ? 2 : 0)}${p.unit === 'ops' ? ' /s' : ''}`;
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><rect width="${W}" height="${H}" fill="white"/><text x="${W / 2}" y="40" text-anchor="middle" font-size="15" font-weight="bold">${esc(p.title)}</text><text x="${W / 2}" y="${H / 2 + 30}" text-anchor="middle" font-size="64" fill="#1f60c4">${esc(shown)}</text><text x="${W / 2}" y="${H - 30}" text-anchor="middle" font-size="12" fill="#666">last value (stat panel)</text></svg>`;
}

/** a heatmap panel: per time step, the rate in each histogram bucket (cumulative buckets taken apart, as Grafana's heatmap format does) */
function heatmapSvg(p: Panel, series: PromSeries[], start: number): string {
  const buckets = series.map((s) => ({ le: s.metric.le === '+Inf' ? Infinity : Number(s.metric.le), values: new Map(s.values.map(([t, v]) => [t, Number(v)])) })).sort((a, b) => a.le - b.le);
  const times = [...new Set(series.flatMap((s) => s.values.map(([t]) => t)))].sort((a, b) => a - b);
  if (buckets.length === 0 || times.length === 0) return `<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}"><text x="20" y="30">${esc(p.title)}: no data</text></svg>`;
  const cells: number[][] = times.map((t) => buckets.map((b, j) => Math.max(0, (b.values.get(t) ?? 0) - (j > 0 ? buckets[j - 1].values.get(t) ?? 0 : 0))));
  // drop empty buckets at both ends so the populated range fills the panel
  const used = buckets.map((_, j) => cells.some((c) => c[j] > 0));
  const lo = Math.max(0, used.indexOf(true)), hi = Math.max(lo, used.lastIndexOf(true));
  const max = Math.max(1e-12, ...cells.flatMap((c) => c.slice(lo, hi + 1)));
  const L = 90, R = 20, T = 40, B = 45, cw = (W - L - R) / times.length, ch = (H - T - B) / (hi - lo + 1);
  const label = (le: number) => (!Number.isFinite(le) ? '+Inf' : p.unit === 's' ? (le < 1 ? `${+(le * 1000).toPrecision(3)} ms` : `${le} s`) : String(le));
  const out = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W}" height="${H}" font-family="sans-serif" font-size="11"><rect width="${W}" height="${H}" fill="white"/>`, `<text x="${W / 2}" y="22" text-anchor="middle" font-size="15" font-weight="bold">${esc(p.title)}</text>`];
  cells.forEach((c, i) => { for (let j = lo; j <= hi; j++) if (c[j] > 0) out.push(`<rect x="${(L + i * cw).toFixed(1)}" y="${(H - B - (j - lo + 1) * ch).toFixed(1)}" width="${(cw + 0.5).toFixed(1)}" height="${(ch - 1).toFixed(1)}" fill="rgb(255,${Math.round(235 - 180 * Math.sqrt(c[j] / max))},${Math.round(200 - 190 * Math.sqrt(c[j] / max))})"/>`); });
  for (let j = lo; j <= hi; j++) out.push(`<text x="${L - 6}" y="${(H - B - (j - lo + 0.5) * ch + 4).toFixed(1)}" text-anchor="end">≤ ${label(buckets[j].le)}</text>`);
  out.push(`<text x="${L + (W - L - R) / 2}" y="${H - 12}" text-anchor="middle">seconds into the run (0 … ${times.at(-1)! - start}); colour: events per second in the bucket</text></svg>`);
  return out.join('');
}

async function panelSvg(p: Panel, topology: string, start: number, end: number): Promise<string> {
  const query = (k: number) => queryRange(p.expr[k].replaceAll('$topology', topology), start, end);
  if (p.type === 'stat') {
    const last = (await query(0))[0]?.values.at(-1);
    return statSvg(p, last ? Number(last[1]) : undefined);
  }
  if (p.type === 'heatmap') return heatmapSvg(p, await query(0), start);
  const series: { name: string; points: [number, number][] }[] = [];
  for (let k = 0; k < p.expr.length; k++) {
    for (const s of await query(k)) {
      series.push({ name: legendOf(p.legend?.[k], s.metric, k).slice(0, 28), points: s.values.map(([t, v]) => [t - start, Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v)) });
    }
  }
  return lineChart({ title: p.title.length > 62 ? `${p.title.slice(0, 60)}…` : p.title, xLabel: 'seconds into the run', yLabel: unitLabel(p.unit), series: series.slice(0, 8), width: W, height: H });
}

async function main() {
  const brokers = await testBrokers();
  const [orders, alerts, dead] = [topicName('render-orders'), topicName('render-alerts'), topicName('render-dead')];
  await createTopics(brokers, [{ topic: orders, numPartitions: 3 }, { topic: alerts, numPartitions: 1 }, { topic: dead, numPartitions: 1 }]);
  const work = mkdtempSync(join(tmpdir(), 'sluice-render-'));
  const [pSurv, pPers] = [19464, 19465];
  writeFileSync(join(work, 'prometheus.yml'), [
    'global: { scrape_interval: 1s, evaluation_interval: 1s }', 'scrape_configs:',
    `  - job_name: sluice`, `    static_configs: [ { targets: ['127.0.0.1:${pSurv}', '127.0.0.1:${pPers}'] } ]`, '',
  ].join('\n'));
  const prom = spawn('prometheus', [`--config.file=${join(work, 'prometheus.yml')}`, `--storage.tsdb.path=${join(work, 'tsdb')}`, '--web.listen-address=127.0.0.1:19090'], { stdio: 'ignore' });
  const surv = cli(['surveillance', '--brokers', brokers.join(','), '--input-topic', orders, '--output-topic', alerts, '--dead-letter-topic', dead, '--group-id', topicName('render'), '--metrics-port', String(pSurv)]);
  const pers = cli(['personalization', '--speed', '15', '--events', '200000', '--output', 'none', '--dead-letters', 'none', '--metrics-port', String(pPers)]);
  const stopAll = () => { for (const c of [surv, pers, prom]) try { c.kill('SIGTERM'); } catch { /* gone */ } };
  try {
    // order flow at ~800 events/s, in event-time order, with a malformed message now and then
    const sim = simulate({ seed: 4242, events: Math.round(800 * SECONDS) + 1000 });
    const producer = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await producer.connect();
    await sleep(5000);
    const start = Math.floor(Date.now() / 1000);
    const t0 = performance.now();
    for (let i = 0, shown = 0; performance.now() - t0 < SECONDS * 1000;) {
      const due = Math.floor(((performance.now() - t0) / 1000) * 800);
      const msgs = [];
      for (; i < due && i < sim.events.length; i++) {
        const e = sim.events[i];
        msgs.push({ key: e.symbol, value: i % 500 === 499 ? (i % 1000 === 999 ? '{"ts": "yesterday"}' : 'not json') : JSON.stringify({ ...e, ts: Math.round(Date.now() * 1000) }) });
      }
      if (msgs.length) await producer.send({ topic: orders, messages: msgs });
      await sleep(50);
      const elapsed = Math.floor((performance.now() - t0) / 1000);
      if (elapsed >= shown + 30) { shown = elapsed; process.stdout.write(`  live workload: ${elapsed} / ${SECONDS} s\n`); }
    }
    await producer.disconnect();
    const end = Math.floor(Date.now() / 1000);
    const dir = join(root, 'grafana/screenshots');
    mkdirSync(dir, { recursive: true });
    for (const b of boards) {
      const topology = b.uid === 'sluice-personalization' ? 'personalization' : 'surveillance';
      const panels: string[] = [];
      for (const p of b.panels) panels.push(await panelSvg(p, topology, start, end));
      const cols = 2, rows = Math.ceil(panels.length / cols);
      const svg = [`<svg xmlns="http://www.w3.org/2000/svg" width="${W * cols}" height="${H * rows + 50}" font-family="sans-serif">`, `<rect width="100%" height="100%" fill="#f4f5f5"/>`,
        `<text x="16" y="32" font-size="20" font-weight="bold">${b.title} (topology=${topology}) — rendered from a live Prometheus scrape, ${new Date(start * 1000).toISOString().slice(0, 16)}Z, ${end - start} s</text>`,
        ...panels.map((p, i) => `<g transform="translate(${(i % cols) * W} ${50 + Math.floor(i / cols) * H})">${p.replace(/^<svg [^>]*>/, '').replace(/<\/svg>$/, '')}</g>`), '</svg>'].join('\n');
      writeFileSync(join(dir, `${b.uid}.svg`), svg);
      process.stdout.write(`\nwrote grafana/screenshots/${b.uid}.svg (${b.panels.length} panels)`);
    }
    process.stdout.write('\n');
  } finally { stopAll(); }
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
