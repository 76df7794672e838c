/**
 * Load test (issue #7): contenders as separate processes against a real Kafka broker,
 * fed by an open-loop generator at fixed rates stepped up to saturation.
 *
 *  - Open loop: message i is due at t0 + i / rate and is stamped with that intended time;
 *    the generator never waits for outputs, and latency is measured from the intended
 *    time, so a stalled contender cannot slow the load or hide its stall (no coordinated
 *    omission).
 *  - Each contender writes one output per input carrying the input's seq; a consumer of
 *    the output topic pairs them and records arrival − intended in an HdrHistogram.
 *  - A step is saturated when outputs stop arriving before every input has one, when the
 *    achieved rate falls under 90% of the offered, or when end-to-end p99 passes 1 s;
 *    stepping stops there.
 *  - Contenders: the Kafka floor (Sluice pass-through, and the raw client doing the same
 *    by hand), the surveillance topology, and a naive hand-written surveillance service
 *    (see loadtest/contender.ts), on each installed transport; and the JVM incumbent: a
 *    Kafka Streams 4.x application scoring the same model per event with ONNX Runtime for
 *    Java (loadtest/streams/, built by scripts/build-streams-contender.sh; checked first to
 *    score what Sluice scores, loadtest/streams-parity.ts).
 *  - Windowed contenders: the demo job (normalize, featurize, sliding windows 10 s / 1 s per
 *    participant × symbol) in Sluice and in Kafka Streams (WindowedContender.java, checked
 *    window for window against Sluice first). A window's result can exist only once event
 *    time passes its end, so its latency is arrival − window end (event time is the
 *    intended send time): the 5 ms allowed out-of-orderness, the wait for the next event on
 *    each partition, and the pipeline. The generator knows every window it caused and how
 *    many events each holds; a step checks that every window due (ending ≥ 1 s before the
 *    last event) arrived with the right count.
 *
 *   npm run loadtest                  full run → loadtest/results/<time>/ and loadtest/RESULTS.md
 *   npm run loadtest -- --short       a few seconds per contender (what CI runs)
 *   options: --seconds N  --only sluice-surveillance,naive-surveillance  --out DIR
 *            --transports kafkajs,platformatic (default: every installed one)  --name N (RESULTS-N.md)
 */
import { execFileSync, spawn, type ChildProcess } from 'node:child_process';
import { mkdirSync, readFileSync, writeFileSync, copyFileSync, existsSync } from 'node:fs';
import { cpus, loadavg, totalmem, tmpdir } from 'node:os';
import { join } from 'node:path';
import { createRequire } from 'node:module';
import { parseArgs } from 'node:util';
import { build as hdr } from 'hdr-histogram-js';
import { Kafka, logLevel, Partitioners, type Producer } from 'kafkajs';
import { TRANSPORTS, type TransportName } from '../src/kafka/config.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { createTopics, testBrokers, topicName } from '../tests/kafka/broker.js';
import type { ContenderKind, ContenderSummary } from './contender.js';
import { ModelRegistry } from '../src/inference/registry.js';
import { lineChart } from './svg.js';

export interface StepResult {
  contender: ContenderKind; transport: TransportName; rate: number; seconds: number;
  sent: number; received: number; achieved: number;
  /** end to end, intended send time → output consumed, ms */
  e2e: { p50: number; p99: number; p999: number; max: number };
  /** measured inside the contender, ms (null: the raw client measures nothing) */
  inEngine: { p50: number; p99: number } | null;
  /** contender's peak resident memory, MiB */
  peakRssMiB: number;
  /** most the generator fell behind its schedule, ms */
  generatorLagMs: number;
  /** inputs without output when the generator stopped, and how fast that backlog drained (outputs/s) */
  backlogAtEnd?: number;
  drainPerSec?: number;
  /** windowed contenders: windows due that arrived with an event count other than the generator's */
  wrongWindows?: number;
  saturated: boolean;
}

interface Plan { contender: ContenderKind; transport: TransportName; rates: number[] }

const LABEL: Record<ContenderKind, string> = {
  'sluice-passthrough': 'Sluice pass-through (floor)', 'raw-passthrough': 'raw client pass-through',
  'sluice-surveillance': 'Sluice surveillance', 'naive-surveillance': 'naive surveillance service',
  'streams-surveillance': 'Kafka Streams 4.4 surveillance (Java, ONNX Runtime)',
  'sluice-windowed': 'Sluice windowed featurization (demo job)',
  'streams-windowed': 'Kafka Streams 4.4 windowed featurization (Java), grace 5 ms', 'streams-windowed-grace': 'Kafka Streams 4.4 windowed featurization (Java), grace 100 ms',
};
/**
 * The Kafka Streams windowed contender's grace: 5 ms is Sluice's allowed out-of-orderness
 * (the same semantics), but after its repartition Kafka Streams then drops events that a
 * slower upstream partition delivers late; 100 ms made every window complete wherever it
 * kept up (2026-12-07, this machine), at that much more lag per result.
 */
const STREAMS_GRACE_MS: Partial<Record<ContenderKind, number>> = { 'streams-windowed': 5, 'streams-windowed-grace': 100 };
const isStreams = (c: ContenderKind) => c.startsWith('streams-');
const isWindowed = (c: ContenderKind) => c.includes('-windowed');
const label = (c: ContenderKind, t: TransportName) => isStreams(c) ? `${LABEL[c]}, Java client` : `${LABEL[c]}, ${c === 'naive-surveillance' ? 'kafkajs' : t}`;
const nowUs = () => (performance.timeOrigin + performance.now()) * 1000;
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const WARM_BASE = 1_000_000_000;
/** windowed contenders: warm-up events come from this participant, so their windows are told apart */
const WARM_PARTICIPANT = '~warm';
const WINDOW_US = 10_000_000, SLIDE_US = 1_000_000;
// the contender running now: killed if this process dies, so it never outlives its broker
let liveChild: ChildProcess | null = null;
process.once('exit', () => { try { liveChild?.kill('SIGKILL'); } catch { /* gone */ } }); // warm-up events carry seq ≥ this; they are not measured

function plans(short: boolean, only: string[] | null, transports: TransportName[], rates: number[] | null): Plan[] {
  const out: Plan[] = [];
  for (const transport of transports) {
    out.push({ contender: 'sluice-passthrough', transport, rates: short ? [1000] : [1000, 2000, 5000, 10000, 20000] });
    out.push({ contender: 'raw-passthrough', transport, rates: short ? [1000] : [1000, 2000, 5000, 10000, 20000] });
    // 100-800/s: the naive service's and Kafka Streams' ladder, so issue #17's end-to-end p99 comparison has each of their rates
    out.push({ contender: 'sluice-surveillance', transport, rates: short ? [500] : [100, 200, 400, 800, 1000, 2000, 4000, 7000, 10000] });
    out.push({ contender: 'sluice-windowed', transport, rates: short ? [1000] : [1000, 2000, 4000, 8000, 16000, 32000] });
  }
  out.push({ contender: 'naive-surveillance', transport: 'kafkajs', rates: short ? [200] : [100, 200, 400, 800, 1600] });
  // the Java client is its own transport: one plan, listed under kafkajs so --short keeps it
  out.push({ contender: 'streams-surveillance', transport: 'kafkajs', rates: short ? [200] : [100, 200, 400, 800, 1600, 3200, 6400, 10000] });
  for (const contender of ['streams-windowed', 'streams-windowed-grace'] as const) out.push({ contender, transport: 'kafkajs', rates: short ? [1000] : [1000, 2000, 4000, 8000, 16000, 32000] });
  return out.filter((p) => !only || only.includes(p.contender)).filter((p) => !short || p.transport === 'kafkajs').map((p) => (rates ? { ...p, rates } : p));
}

function peakRssMiB(pid: number | undefined): number {
  try { const m = /VmHWM:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, 'utf8')); return m ? Number(m[1]) / 1024 : NaN; } catch { return NaN; }
}

/** one contender at one rate, on fresh topics */
async function step(brokers: string[], plan: Plan, rate: number, seconds: number, templates: Record<string, unknown>[], dir: string): Promise<StepResult> {
  const tag = `${plan.contender}-${plan.transport}-${rate}`;
  const [input, output] = [topicName(`lt-${tag}-in`), topicName(`lt-${tag}-out`)];
  await createTopics(brokers, [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 3 }, { topic: `${output}-alerts`, numPartitions: 1 }, { topic: `${output}-dead`, numPartitions: 1 }]);
  const total = Math.round(rate * seconds);
  const intended = new Float64Array(total).fill(NaN);
  const seen = new Uint8Array(total);
  const h = hdr({ lowestDiscernibleValue: 1, highestTrackableValue: 600_000_000, numberOfSignificantValueDigits: 3 });
  let received = 0, warmSeen = 0, firstArrival = 0, lastArrival = 0;
  const windowed = isWindowed(plan.contender);
  // windowed: "key@windowEnd" → events the generator put in it, and → the count the row carried
  const windowEvents = new Map<string, number>(), windowRows = new Map<string, number>(), windowLag = new Map<string, number>();
  const windowArrivals: string[] = []; // "key@end count lagUs", for LOADTEST_DUMP_WINDOWS
  let latestEnd = 0;
  const kafka = new Kafka({ brokers, clientId: 'sluice-loadtest', logLevel: logLevel.NOTHING });
  const reader = kafka.consumer({ groupId: topicName('lt-reader'), maxWaitTimeInMs: 5 });
  await reader.connect();
  await reader.subscribe({ topic: output, fromBeginning: true });
  await reader.run({
    eachBatch: async ({ batch }) => {
      const t = nowUs();
      for (const m of batch.messages) {
        if (windowed) {
          const w = JSON.parse(m.value?.toString() ?? '{}') as { key: string; windowEnd: number; count: number };
          if (w.key.startsWith(`${WARM_PARTICIPANT}|`)) { warmSeen++; continue; }
          const id = `${w.key}@${w.windowEnd}`;
          if (windowRows.has(id)) continue; // at-least-once duplicates count once
          windowRows.set(id, w.count);
          windowLag.set(id, t - w.windowEnd); // into the histogram at the end, for the windows due only
          windowArrivals.push(`${id} ${w.count} ${Math.round(t - w.windowEnd)}`);
          received++;
          if (!firstArrival) firstArrival = t;
          lastArrival = t;
          latestEnd = Math.max(latestEnd, w.windowEnd);
          continue;
        }
        const seq = Number(/"seq":(\d+)/.exec(m.value?.toString() ?? '')?.[1]);
        if (seq >= WARM_BASE) { warmSeen++; continue; }
        if (!(seq >= 0 && seq < total) || seen[seq]) continue; // at-least-once duplicates count once
        seen[seq] = 1;
        received++;
        if (!firstArrival) firstArrival = t;
        lastArrival = t;
        h.recordValue(Math.max(1, Math.round(t - intended[seq])));
      }
    },
  });
  const summaryFile = join(dir, `${tag}.summary.json`);
  const child: ChildProcess = liveChild = plan.contender === 'streams-surveillance'
    ? spawn('java', ['-cp', streamsClasspath(), 'sluice.loadtest.StreamsContender', plan.contender, brokers.join(','), input, output, topicName('lt-group'), summaryFile, new ModelRegistry().load('surveillance-detector').path], { stdio: ['ignore', 'pipe', 'inherit'] })
    : STREAMS_GRACE_MS[plan.contender] !== undefined
    ? spawn('java', ['-cp', streamsClasspath(), 'sluice.loadtest.WindowedContender', 'streams-windowed', brokers.join(','), input, output, topicName('lt-group'), summaryFile], { stdio: ['ignore', 'pipe', 'inherit'], env: { ...process.env, SLUICE_STREAMS_GRACE_MS: String(STREAMS_GRACE_MS[plan.contender]) } })
    : spawn(process.execPath, [new URL('./contender.js', import.meta.url).pathname, plan.contender, plan.transport, brokers.join(','), input, output, topicName('lt-group'), summaryFile], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
    child.once('exit', (code) => reject(new Error(`contender ${tag} exited with ${code} before it was ready`)));
  });
  const producer: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await producer.connect();
  const message = (i: number, seq: number, ts: number) => {
    const o = templates[i % templates.length];
    const t = Math.round(ts);
    if (windowed && seq >= WARM_BASE) return { key: String(o.symbol), value: JSON.stringify({ ...o, participant: WARM_PARTICIPANT, orderId: `W${seq}`, seq, ts: t }) };
    if (windowed) {
      // the sliding windows this event falls in, as both contenders assign them
      const pane = Math.floor(t / SLIDE_US) * SLIDE_US, key = `${String(o.participant)}|${String(o.symbol)}`;
      for (let end = pane + SLIDE_US; end <= pane + WINDOW_US; end += SLIDE_US) windowEvents.set(`${key}@${end}`, (windowEvents.get(`${key}@${end}`) ?? 0) + 1);
    }
    return { key: String(o.symbol), value: JSON.stringify({ ...o, seq, ts: t }) };
  };
  // warm-up: until outputs flow end to end (consumer groups joined, model loaded)
  for (let k = 0, end = Date.now() + 90_000; warmSeen === 0; k++) {
    if (Date.now() > end) throw new Error(`contender ${tag}: no output within 90 s of warm-up`);
    await producer.send({ topic: input, messages: [message(k, WARM_BASE + k, nowUs())] });
    await sleep(200);
  }
  if (windowed) {
    // windowed: 5 s more of warm-up at the offered rate, so both runtimes' JITs have compiled
    // the per-event path before it is measured (the JVM's 3 s of catching up otherwise)
    for (let k = 0, w0 = nowUs(), sentW = 0; nowUs() - w0 < 5e6; await sleep(10)) {
      const due = Math.floor(((nowUs() - w0) / 1e6) * rate);
      // at most 1,000 messages a request, as below (the broker's 1 MB request limit)
      while (sentW < due) {
        const msgs = [];
        for (const end = Math.min(due, sentW + 1000); sentW < end; sentW++, k++) msgs.push(message(k, WARM_BASE + 1_000_000 + k, nowUs()));
        await producer.send({ topic: input, messages: msgs, acks: 1 });
      }
    }
  }
  await sleep(1000);
  // the open-loop schedule
  const t0 = nowUs();
  let sent = 0, genLag = 0;
  const inFlight = new Set<Promise<unknown>>();
  // a live progress line on a terminal; logs (CI) get the step's result line only
  const progress = setInterval(() => {
    if (process.stdout.isTTY) process.stdout.write(`\r  ${label(plan.contender, plan.transport)} @ ${rate.toLocaleString('en-US')}/s: sent ${sent.toLocaleString('en-US')}, received ${received.toLocaleString('en-US')}, p99 ${(h.getValueAtPercentile(99) / 1000).toFixed(1)} ms   `);
  }, 500);
  while (sent < total) {
    const now = nowUs();
    const due = Math.min(total, Math.floor(((now - t0) / 1e6) * rate) + 1);
    if (due > sent) {
      genLag = Math.max(genLag, (now - (t0 + (sent / rate) * 1e6)) / 1000);
      // at most 1,000 messages (~250 KB) a request, under the broker's 1 MB limit when the generator catches up
      while (sent < due) {
        const msgs = [];
        for (const end = Math.min(due, sent + 1000); sent < end; sent++) { intended[sent] = t0 + (sent / rate) * 1e6; msgs.push(message(sent, sent, intended[sent])); }
        const p = producer.send({ topic: input, messages: msgs, acks: 1 }).finally(() => inFlight.delete(p));
        inFlight.add(p);
      }
    }
    await sleep(1);
  }
  await Promise.all(inFlight);
  const sendEnd = nowUs(), receivedAtEnd = received;
  // windowed: the windows due are those ending 1 s or more before the last event (event time
  // has passed their end on every partition); later ones close only with later events
  const lastTs = Math.round(t0 + ((total - 1) / rate) * 1e6);
  const due = windowed ? [...windowEvents.keys()].filter((id) => Number(id.slice(id.lastIndexOf('@') + 1)) <= lastTs - 1e6) : [];
  const dueReceived = () => due.reduce((n, id) => n + (windowRows.has(id) ? 1 : 0), 0);
  const done = () => (windowed ? dueReceived() >= due.length : received >= total);
  // drain: until every input has its output (every window due has arrived), or nothing arrives for 10 s
  for (let last = received, quiet = Date.now(); !done() && Date.now() - quiet < 10_000; await sleep(100)) {
    if (received !== last) { last = received; quiet = Date.now(); }
  }
  clearInterval(progress);
  // windowed: the lag of the windows due, read before the contender stops (a contender that
  // flushed open windows on stop would otherwise add rows that no event closed)
  for (const id of due) { const lag = windowLag.get(id); if (lag !== undefined) h.recordValue(Math.max(1, Math.round(lag))); }
  const rss = peakRssMiB(child.pid);
  child.kill('SIGTERM');
  const code = await new Promise<number | null>((r) => (child.exitCode !== null ? r(child.exitCode) : child.once('exit', r)));
  if (code !== 0) throw new Error(`contender ${tag} exited with ${code} on SIGTERM`);
  const summary = JSON.parse(readFileSync(summaryFile, 'utf8')) as ContenderSummary;
  await producer.disconnect();
  await reader.disconnect();
  // outputs per second between the first and the last arrival: the offered rate while the
  // contender keeps up, its capacity once a queue builds (the last outputs come late)
  // windowed: how fast event time moved through the contender (latest window end out per
  // second of wall time since the first event), times the offered rate
  const achieved = windowed
    ? rate * (latestEnd - t0) / Math.max(1, lastArrival - t0)
    : received / Math.max(1e-9, (lastArrival - firstArrival) / 1e6 + 1 / rate);
  const e2e = { p50: h.getValueAtPercentile(50) / 1000, p99: h.getValueAtPercentile(99) / 1000, p999: h.getValueAtPercentile(99.9) / 1000, max: h.maxValue / 1000 };
  const gotDue = windowed ? dueReceived() : received;
  if (windowed && process.env.LOADTEST_DUMP_WINDOWS) writeFileSync(join(dir, `${tag}.windows.txt`), [`t0 ${Math.round(t0)} lastTs ${lastTs}`, ...windowArrivals, ...due.map((id) => `due ${id} ${windowEvents.get(id)}`)].join('\n') + '\n');
  const wrongWindows = windowed ? due.filter((id) => windowRows.has(id) && windowRows.get(id) !== windowEvents.get(id)).length : undefined;
  const r: StepResult = {
    contender: plan.contender, transport: plan.transport, rate, seconds, sent: windowed ? due.length : total, received: gotDue, achieved: Math.min(achieved, rate * 1.05), e2e,
    inEngine: summary.inEngine ? { p50: summary.inEngine.p50 / 1000, p99: summary.inEngine.p99 / 1000 } : null,
    peakRssMiB: rss, generatorLagMs: genLag,
    ...(windowed
      ? { wrongWindows }
      : { backlogAtEnd: total - receivedAtEnd, drainPerSec: lastArrival > sendEnd && received > receivedAtEnd ? (received - receivedAtEnd) / ((lastArrival - sendEnd) / 1e6) : 0 }),
    saturated: (windowed ? gotDue < due.length : received < total) || achieved < 0.9 * rate || e2e.p99 > 1000,
  };
  process.stdout.write(`${process.stdout.isTTY ? '\r' : ''}  ${label(plan.contender, plan.transport)} @ ${rate.toLocaleString('en-US')}/s: ${r.received.toLocaleString('en-US')}/${r.sent.toLocaleString('en-US')} ${windowed ? `windows out${wrongWindows ? ` (${wrongWindows} with a wrong count)` : ''}` : 'out'}, achieved ${Math.round(r.achieved).toLocaleString('en-US')}/s, e2e p50 ${e2e.p50.toFixed(1)} / p99 ${e2e.p99.toFixed(1)} ms${r.inEngine ? `, in-engine p99 ${r.inEngine.p99.toFixed(2)} ms` : ''}${r.saturated ? ' — saturated' : ''}        \n`);
  return r;
}

let builtClasspath: string | undefined;
/** the Kafka Streams contender's classpath: built once per run (Maven Central jars) and checked to score what Sluice scores */
function streamsClasspath(): string {
  if (builtClasspath) return builtClasspath;
  const script = new URL('../../scripts/build-streams-contender.sh', import.meta.url).pathname;
  const file = execFileSync('bash', [script], { stdio: ['ignore', 'pipe', 'inherit'] }).toString().trim().split('\n').pop()!;
  builtClasspath = readFileSync(file, 'utf8').trim();
  return builtClasspath;
}
async function checkStreamsParity(scoring: boolean, windows: boolean): Promise<void> {
  streamsClasspath();
  const { streamsParity, windowsParity, parityFlows } = await import('./streams-parity.js');
  const classpathFile = new URL('../../loadtest/streams/target/classpath', import.meta.url).pathname;
  if (scoring) {
    const r = await streamsParity(classpathFile);
    process.stdout.write(`  Kafka Streams contender: ${r.events} events scored as Sluice scores them (largest difference ${r.worst.toExponential(1)})\n`);
    if (!(r.worst <= 1e-4)) throw new Error(`the Kafka Streams contender's scores differ from Sluice's by ${r.worst}: the comparison would be meaningless`);
  }
  if (windows) {
    for (const f of parityFlows(8000)) {
      const w = await windowsParity(classpathFile, f.lines);
      process.stdout.write(`  Kafka Streams windowed contender: ${w.windows} windows as Sluice's on the ${f.name} (largest relative difference ${w.worst.toExponential(1)})\n`);
      if (w.onlySluice || w.onlyStreams || !(w.worst <= 1e-9)) throw new Error(`the Kafka Streams windowed contender differs from Sluice's demo job (${w.onlySluice} windows only in Sluice, ${w.onlyStreams} only in Kafka Streams, largest difference ${w.worst}: ${w.worstAt}): the comparison would be meaningless`);
    }
  }
}

const n0 = (v: number) => Math.round(v).toLocaleString('en-US');
const ms = (v: number | undefined) => (v === undefined || !Number.isFinite(v) ? '–' : v < 10 ? v.toFixed(2) : v.toFixed(1));

/** the issue's targets, evaluated on this run's steps */
export function verdicts(rows: StepResult[]): string[] {
  const out: string[] = [];
  const sustained = (c: ContenderKind, t?: TransportName) => rows.filter((r) => r.contender === c && (!t || r.transport === t) && !r.saturated);
  for (const t of [...new Set(rows.filter((r) => r.contender === 'sluice-surveillance').map((r) => r.transport))]) {
    const s = sustained('sluice-surveillance', t);
    const best = s.reduce<StepResult | null>((b, r) => (!b || r.rate > b.rate ? r : b), null);
    const sat = rows.find((r) => r.contender === 'sluice-surveillance' && r.transport === t && r.saturated);
    const within2 = s.filter((r) => r.inEngine && r.inEngine.p99 <= 2).reduce((m, r) => Math.max(m, r.rate), 0);
    const floorGap = s.map((r) => { const f = rows.find((x) => x.contender === 'sluice-passthrough' && x.transport === t && x.rate === r.rate); if (!f) return null; const d = r.e2e.p99 - f.e2e.p99; return `${n0(r.rate)}/s: ${d >= 0 ? '+' : '−'}${ms(Math.abs(d))} ms`; }).filter(Boolean);
    out.push(`- Surveillance on ${t}: highest rate sustained ${best ? `${n0(best.rate)}/s (in-engine p99 ${ms(best.inEngine?.p99)} ms, end-to-end p99 ${ms(best.e2e.p99)} ms)` : 'none'} — target ≥ 10,000/s ${best && best.rate >= 10000 ? 'met' : '**not met**'}${sat ? ` (offered ${n0(sat.rate)}/s it saturated, carrying ${n0(sat.achieved)}/s)` : ''}; highest rate with in-engine p99 ≤ 2 ms: ${within2 ? `${n0(within2)}/s` : 'none'}; end-to-end p99 above the pass-through floor at the same rate: ${floorGap.join(', ') || 'no common rate'} (target ≤ +3 ms).`);
  }
  const naive = sustained('naive-surveillance');
  if (!naive.length && rows.some((r) => r.contender === 'naive-surveillance')) out.push('- The naive service sustained none of its rates, so there is no best p99 to compare at.');
  if (naive.length) {
    const bestP99 = Math.min(...naive.map((r) => r.e2e.p99));
    const naiveAt = naive.filter((r) => r.e2e.p99 <= bestP99).reduce((m, r) => Math.max(m, r.achieved), 0);
    const naiveMax = naive.reduce((m, r) => Math.max(m, r.achieved), 0);
    for (const t of [...new Set(rows.filter((r) => r.contender === 'sluice-surveillance').map((r) => r.transport))]) {
      const atBound = sustained('sluice-surveillance', t).filter((r) => r.e2e.p99 <= bestP99).reduce((m, r) => Math.max(m, r.achieved), 0);
      const sluiceMax = sustained('sluice-surveillance', t).reduce((m, r) => Math.max(m, r.achieved), 0);
      out.push(`- Sluice surveillance on ${t} vs the naive service: at the naive service's best end-to-end p99 (${ms(bestP99)} ms, where it carries ${n0(naiveAt)}/s) Sluice sustains ${n0(atBound)}/s = **${(atBound / naiveAt).toFixed(1)}×** (target ≥ 5×); highest sustained rates regardless of latency: ${n0(sluiceMax)}/s vs ${n0(naiveMax)}/s = ${(sluiceMax / naiveMax).toFixed(1)}× (issue #17's target ≥ 10×: ${sluiceMax >= 10 * naiveMax ? 'met' : '**not met**'}).`);
      // issue #17: Sluice's end-to-end p99 at or below the naive service's at every rate the naive service sustains
      const pairs = naive.map((n) => [n, rows.find((r) => r.contender === 'sluice-surveillance' && r.transport === t && r.rate === n.rate)] as const);
      const measured = pairs.filter((p): p is readonly [StepResult, StepResult] => !!p[1]);
      const atOrBelow = measured.filter(([n, m]) => !m.saturated && m.e2e.p99 <= n.e2e.p99).length;
      out.push(`  - end-to-end p99 at the naive service's sustained rates, Sluice vs naive: ${measured.map(([n, m]) => `${n0(n.rate)}/s ${ms(m.e2e.p99)} vs ${ms(n.e2e.p99)} ms${m.saturated ? ' (Sluice saturated)' : ''}`).join('; ') || 'no rate run by both'} — at or below at every one (issue #17): ${measured.length === pairs.length && atOrBelow === pairs.length ? 'met' : `**not met** (${atOrBelow} of ${pairs.length}${measured.length < pairs.length ? `; ${pairs.length - measured.length} not run by Sluice` : ''})`}.`);
    }
  }
  const streams = rows.filter((r) => r.contender === 'streams-surveillance');
  if (streams.length) {
    const streamsMax = sustained('streams-surveillance').reduce((m, r) => Math.max(m, r.achieved), 0);
    for (const t of [...new Set(rows.filter((r) => r.contender === 'sluice-surveillance').map((r) => r.transport))]) {
      const mine = rows.filter((r) => r.contender === 'sluice-surveillance' && r.transport === t);
      const sluiceMax = sustained('sluice-surveillance', t).reduce((m, r) => Math.max(m, r.achieved), 0);
      const common = mine.filter((r) => !r.saturated).map((r) => [r, streams.find((x) => x.rate === r.rate && !x.saturated)] as const).filter((p): p is readonly [StepResult, StepResult] => !!p[1]);
      const ahead = common.filter(([a, b]) => a.e2e.p99 <= b.e2e.p99).length;
      out.push(`- Sluice surveillance on ${t} vs Kafka Streams (Java, the same model per event): highest sustained ${n0(sluiceMax)}/s vs ${n0(streamsMax)}/s = **${streamsMax ? (sluiceMax / streamsMax).toFixed(1) : '∞'}×**; end-to-end p50 / p99 ms at the rates both sustain: ${common.map(([a, b]) => `${n0(a.rate)}/s ${ms(a.e2e.p50)} / ${ms(a.e2e.p99)} vs ${ms(b.e2e.p50)} / ${ms(b.e2e.p99)}`).join('; ') || 'none'} (Sluice's p99 lower at ${ahead} of ${common.length}).`);
    }
  }
  const wrong = rows.filter((r) => r.wrongWindows);
  if (wrong.length) out.push(`- **Windows with the wrong event count** (events lost or counted twice): ${wrong.map((r) => `${label(r.contender, r.transport)} @ ${n0(r.rate)}/s: ${n0(r.wrongWindows!)} of ${n0(r.received)}`).join('; ')}.`);
  for (const jvm of ['streams-windowed', 'streams-windowed-grace'] as const) {
    const jvmWindowed = rows.filter((r) => r.contender === jvm);
    if (!jvmWindowed.length) continue;
    // a step whose windows are wrong is not sustained, whatever its lag
    const ok = (r: StepResult) => !r.saturated && !r.wrongWindows;
    const streamsMax = jvmWindowed.filter(ok).reduce((m, r) => Math.max(m, r.rate), 0);
    for (const t of [...new Set(rows.filter((r) => r.contender === 'sluice-windowed').map((r) => r.transport))]) {
      const mine = rows.filter((r) => r.contender === 'sluice-windowed' && r.transport === t);
      const sluiceMax = mine.filter(ok).reduce((m, r) => Math.max(m, r.rate), 0);
      const common = mine.filter(ok).map((r) => [r, jvmWindowed.find((x) => x.rate === r.rate && ok(x))] as const).filter((p): p is readonly [StepResult, StepResult] => !!p[1]);
      const ahead = common.filter(([a, b]) => a.e2e.p99 <= b.e2e.p99).length;
      out.push(`- Sluice windowed featurization on ${t} vs Kafka Streams (Java, the same windows, grace ${STREAMS_GRACE_MS[jvm]} ms): highest offered rate sustained with every window right ${n0(sluiceMax)}/s vs ${n0(streamsMax)}/s${streamsMax ? ` = **${(sluiceMax / streamsMax).toFixed(1)}×**` : ''}; window-result lag p50 / p99 ms at the rates both sustain: ${common.map(([a, b]) => `${n0(a.rate)}/s ${ms(a.e2e.p50)} / ${ms(a.e2e.p99)} vs ${ms(b.e2e.p50)} / ${ms(b.e2e.p99)}`).join('; ') || 'none'} (Sluice's p99 lower at ${ahead} of ${common.length}).`);
    }
  }
  return out;
}

export function report(rows: StepResult[], meta: { when: string; machine: string; seconds: number; short: boolean; transports: TransportName[] }): { md: string; svgs: Record<string, string> } {
  const groups = [...new Set(rows.map((r) => `${r.contender}|${r.transport}`))];
  const series = (pick: (r: StepResult) => number, filter: (c: string) => boolean = () => true) => groups.filter((g) => filter(g.split('|')[0])).map((g) => {
    const [c, t] = g.split('|') as [ContenderKind, TransportName];
    return { name: label(c, t), dashed: c.includes('passthrough'), points: rows.filter((r) => r.contender === c && r.transport === t).map((r) => [r.rate, pick(r)] as [number, number]) };
  });
  const svgs = {
    'latency-p99.svg': lineChart({ title: 'End-to-end p99 latency against offered rate', xLabel: 'offered events/s', yLabel: 'p99 ms (intended send → output consumed)', logX: true, logY: true, series: series((r) => r.e2e.p99) }),
    'latency-p50.svg': lineChart({ title: 'End-to-end p50 latency against offered rate', xLabel: 'offered events/s', yLabel: 'p50 ms', logX: true, logY: true, series: series((r) => r.e2e.p50) }),
    'throughput.svg': lineChart({ title: 'Achieved against offered rate', xLabel: 'offered events/s', yLabel: 'achieved events/s', logX: true, logY: true, series: series((r) => r.achieved) }),
  };
  const md = [
    `# Load test${meta.short ? ' (short form)' : ''}`, '',
    `Generated by \`npm run loadtest${meta.short ? ' -- --short' : ''}\` on ${meta.when}. Machine: ${meta.machine}. Transports: ${meta.transports.join(', ')}.`,
    `Each step: fresh topics (input 3 partitions), the contender started as its own process and warmed up until outputs flow, then an open-loop generator produces order events at the offered rate for ${meta.seconds} s (each stamped with its intended send time; latency is measured from it, so stalls are not hidden), and a consumer pairs every output with its input by seq. Windowed contenders (the demo job: sliding windows of 10 s every 1 s per participant × symbol) are measured per window instead: "outputs" counts the windows due (ending ≥ 1 s before the last event) that arrived, each checked against the number of events the generator put in it; latency is window-result lag, arrival − window end in event time (= intended send time), so its floor is the 5 ms allowed out-of-orderness plus the wait for the next event on every partition; "achieved" is how fast event time advanced through the contender, as events/s. Saturated = not every input got its output (window) within 10 s of quiet, achieved < 90% of offered, or p99 > 1 s; stepping stops at the first saturated rate. The broker, the generator and the contender share the machine's cores.`,
    '', '## Targets', '', ...verdicts(rows), '',
    '## Every step', '',
    '| contender | offered /s | achieved /s | outputs | e2e p50 ms | e2e p99 ms | e2e p99.9 ms | e2e max ms | in-engine p50 ms | in-engine p99 ms | peak RSS MiB | generator behind ms | backlog at end | drained /s | |',
    '| --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: | --- |',
    ...rows.map((r) => `| ${label(r.contender, r.transport)} | ${n0(r.rate)} | ${n0(r.achieved)} | ${n0(r.received)}/${n0(r.sent)} | ${ms(r.e2e.p50)} | ${ms(r.e2e.p99)} | ${ms(r.e2e.p999)} | ${ms(r.e2e.max)} | ${ms(r.inEngine?.p50)} | ${ms(r.inEngine?.p99)} | ${Math.round(r.peakRssMiB)} | ${ms(r.generatorLagMs)} | ${r.backlogAtEnd === undefined ? '–' : n0(r.backlogAtEnd)} | ${r.drainPerSec ? n0(r.drainPerSec) : '–'} | ${[r.saturated ? 'saturated' : '', r.wrongWindows ? `${n0(r.wrongWindows)} windows wrong` : ''].filter(Boolean).join('; ')} |`),
    '', '## Plots', '', ...Object.keys(svgs).map((f) => `![${f}](${meta.short ? '' : 'RESULTS-'}${f})`), '',
    '"In engine" is what the contender measures itself: for Sluice the runtime\'s ingest → sink histogram (record read from Kafka → handed to the producer), for the naive service message handed over → its send acknowledged, for Kafka Streams process() → output forwarded to its producer (the record\'s wait in the consumer\'s buffer is not in it). For the windowed contenders Sluice\'s figure is ingest → sink of the batch that closed the windows; Kafka Streams reports none. The raw client measures nothing.', '',
  ].join('\n');
  return { md, svgs };
}

async function main() {
  const { values } = parseArgs({ options: { short: { type: 'boolean', default: false }, seconds: { type: 'string' }, only: { type: 'string' }, out: { type: 'string' }, report: { type: 'string' }, rates: { type: 'string' }, name: { type: 'string' }, transports: { type: 'string' } } });
  if (values.report) {
    // re-render a finished run's report from its results.json (same figures, current report code)
    const dir = values.report;
    const rows = JSON.parse(readFileSync(join(dir, 'results.json'), 'utf8')) as StepResult[];
    const old = readFileSync(join(dir, 'report.md'), 'utf8');
    const when = /on (\S+Z)\./.exec(old)?.[1] ?? '?', machine = /Machine: (.*?)\. Transports/.exec(old)?.[1] ?? '?';
    const { md, svgs } = report(rows, { when, machine, seconds: rows[0]?.seconds ?? 10, short: false, transports: [...new Set(rows.map((r) => r.transport))] });
    writeFileSync(join(dir, 'report.md'), md);
    for (const [f, svg] of Object.entries(svgs)) writeFileSync(join(dir, f), svg);
    const root = new URL('../../loadtest/', import.meta.url).pathname;
    writeFileSync(join(root, 'RESULTS.md'), md);
    for (const f of Object.keys(svgs)) copyFileSync(join(dir, f), join(root, `RESULTS-${f}`));
    process.stdout.write(`re-rendered ${join(dir, 'report.md')} and loadtest/RESULTS.md\n`);
    return;
  }
  const short = values.short!;
  const seconds = Number(values.seconds ?? (short ? 3 : 10));
  if (!(seconds > 0)) throw new Error(`--seconds must be a positive number, got ${values.seconds}`);
  let confluent = true;
  try { createRequire(import.meta.url)('@confluentinc/kafka-javascript'); } catch { confluent = false; }
  // every installed transport, or those named (--transports kafkajs,platformatic)
  let transports: TransportName[] = [...(confluent ? ['kafkajs', 'confluent'] as const : ['kafkajs'] as const), 'platformatic'];
  if (values.transports) {
    const asked = values.transports.split(',');
    const unknown = asked.filter((t) => !TRANSPORTS.includes(t as TransportName) || (t === 'confluent' && !confluent));
    if (unknown.length) throw new Error(`--transports: ${unknown.join(', ')} unknown or not installed`);
    transports = asked as TransportName[];
  }
  const brokers = await testBrokers();
  const templates = orderFlowLines({ events: 20_000, seed: 77 }).map((l) => JSON.parse(l) as Record<string, unknown>);
  const when = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  const dir = values.out ?? (short ? join(tmpdir(), 'sluice-loadtest', when.replace(/:/g, '')) : new URL(`../../loadtest/results/${when.replace(/:/g, '')}/`, import.meta.url).pathname);
  mkdirSync(dir, { recursive: true });
  const rows: StepResult[] = [];
  const failures: string[] = [];
  const rates = values.rates ? values.rates.split(',').map(Number) : null;
  if (rates && !rates.every((r) => r > 0)) throw new Error(`--rates must list positive rates, got ${values.rates}`);
  const planned = plans(short, values.only ? values.only.split(',') : null, transports, rates);
  if (planned.some((p) => isStreams(p.contender))) await checkStreamsParity(planned.some((p) => p.contender === 'streams-surveillance'), planned.some((p) => STREAMS_GRACE_MS[p.contender] !== undefined));
  for (const plan of planned) {
    for (const rate of plan.rates) {
      let r: StepResult;
      try { r = await step(brokers, plan, rate, seconds, templates, dir); } catch (e) {
        // a step that cannot run (contender crashed, no output) is reported and ends the contender's steps;
        // its contender, if still running, goes with it (it would hold the machine's cores through the next steps)
        try { liveChild?.kill('SIGKILL'); } catch { /* gone */ }
        process.stdout.write(`\n  ${label(plan.contender, plan.transport)} @ ${rate}/s failed: ${(e as Error).message}\n`);
        failures.push(`${label(plan.contender, plan.transport)} @ ${n0(rate)}/s: ${(e as Error).message}`);
        break;
      }
      rows.push(r);
      if (r.saturated) break;
    }
  }
  const machine = `${cpus().length} × ${cpus()[0]?.model ?? '?'}, ${Math.round(totalmem() / 2 ** 30)} GiB, Node ${process.version}, Apache Kafka 3.9.1 (KRaft, one broker on this machine), load average before the run ${loadavg()[0].toFixed(2)}`;
  const { md: body, svgs } = report(rows, { when, machine, seconds, short, transports: short ? ['kafkajs'] : transports });
  const md = failures.length ? `${body}\n## Steps that failed\n\n${failures.map((f) => `- ${f}`).join('\n')}\n` : body;
  writeFileSync(join(dir, 'report.md'), md);
  writeFileSync(join(dir, 'results.json'), JSON.stringify(rows, null, 2));
  for (const [f, svg] of Object.entries(svgs)) writeFileSync(join(dir, f), svg);
  // the full run is the committed RESULTS.md; a named run (--name overload) is RESULTS-overload.md
  if (!short && (!values.only || values.name)) {
    const root = new URL('../../loadtest/', import.meta.url).pathname;
    const base = values.name ? `RESULTS-${values.name}` : 'RESULTS';
    writeFileSync(join(root, `${base}.md`), md.replaceAll('](RESULTS-', `](${base}-`));
    for (const f of Object.keys(svgs)) copyFileSync(join(dir, f), join(root, `${base}-${f}`));
  }
  process.stdout.write(`\nreport: ${join(dir, 'report.md')}${existsSync(join(dir, 'report.md')) ? '' : ' (not written)'}\n`);
  process.exit(failures.length ? 1 : 0);
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) main().catch((e) => { console.error(e); process.exit(1); });
