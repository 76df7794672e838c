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

async function panelSvg(p: Panel, topology: string, start: number, end: number): Promise<string> {
  const series: { name: string; points: [number, number][] }[] = [];
  for (let k = 0; k < p.expr.length; k++) {
    for (const s of await queryRange(p.expr[k].replaceAll('$topology', topology), start, end)) {
      series.push({ name: `${legendOf(p.legend, s.metric, k)}${p.expr.length > 1 ? ` (${String.fromCharCode(65 + k)})` : ''}`.slice(0, 28), points: s.values.map(([t, v]) => [t - start, Number(v)] as [number, number]).filter(([, v]) => Number.isFinite(v)) });
    }
  }
  const unit = p.unit === 's' ? 'seconds' : p.unit === 'percentunit' ? 'fraction' : p.unit === 'ops' ? 'per second' : p.unit === 'bytes' ? 'bytes' : '';
  return lineChart({ title: p.title.length > 62 ? `${p.title.slice(0, 60)}…` : p.title, xLabel: 'seconds into the run', yLabel: unit, series: series.slice(0, 8), width: 640, height: 300 });
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
      const W = 640, H = 300, cols = 2, rows = Math.ceil(panels.length / cols);
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
