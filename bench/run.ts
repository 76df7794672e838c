/**
 * Engine-core benchmark (issue #2). In one run, on the same generated order flow:
 *  - the floor: the demo job hand-written as a single loop (bench/floor.ts);
 *  - the demo topology on the embedded runtime (parse → watermarks → normalize →
 *    featurize → sliding windows), checked to emit the same windows as the floor;
 *  - each operator alone, called on pre-built batches.
 * Writes bench/RESULTS.md. Run with `npm run bench` (pinned to one core when taskset exists).
 */
import { cpus, totalmem } from 'node:os';
import { existsSync, readFileSync, writeFileSync } from 'node:fs';
import type { Batch, Schema } from '../src/batch.js';
import { ManualClock } from '../src/clock.js';
import { RawSchema } from '../src/io.js';
import type { Operator, OperatorContext, OperatorDef, SideSchemas } from '../src/operator.js';
import { DeadLetterSchema } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { collectSink, countSink } from '../src/sinks.js';
import { memorySource, rawLines } from '../src/sources.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { keyByDef } from '../src/primitives.js';
import { parse } from '../operators/parse.js';
import { watermarks } from '../operators/watermarks.js';
import { normalize } from '../operators/normalize.js';
import { featurize } from '../operators/featurize.js';
import { window } from '../operators/window.js';
import { OrderSchema } from '../src/contracts.js';
import { demoTopology, DemoAggregates, type DemoWindow } from '../apps/demo/topology.js';
import { runFloor } from './floor.js';

const N = Number(process.env.BENCH_EVENTS ?? 300_000);
const REPS = Number(process.env.BENCH_REPS ?? 7);
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[xs.length >> 1];

function timeIt(fn: () => void | Promise<void>): Promise<number> | number {
  const t0 = performance.now();
  const r = fn();
  if (r instanceof Promise) return r.then(() => performance.now() - t0);
  return performance.now() - t0;
}

async function main() {
  process.stdout.write(`generating ${N} order events...\n`);
  const lines = orderFlowLines({ events: N, seed: 1 });
  const raw = lines.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }));

  // --- floor and topology, interleaved so both see the same machine conditions
  const runTopology = async () => {
    const out = collectSink<DemoWindow>();
    const dead = countSink<DeadLetterSchema>();
    const topo = demoTopology({ source: memorySource(RawSchema, [raw], { batchSize: 1024 }), parse: { format: 'json', contract: 'order-event' }, output: out, deadLetters: dead });
    const summary = await new Runtime(topo).run();
    let checksum = 0, windows = 0;
    for (const b of out.batches) {
      const c = b.columns;
      for (let i = 0; i < b.length; i++) { windows++; checksum = (checksum + c.count[i] * 31 + c.qtySum[i] + c.newOrders[i] * 7 + c.cancels[i] * 13) % 1e12; }
    }
    return { summary, windows, checksum, dead: dead.count };
  };
  let floorRes = runFloor(lines);
  let topoRes = await runTopology();
  const floorMs: number[] = [];
  const topoMs: number[] = [];
  for (let r = 0; r < REPS; r++) {
    floorMs.push(await timeIt(() => { floorRes = runFloor(lines); }));
    topoMs.push(await timeIt(async () => { topoRes = await runTopology(); }));
  }
  const same = topoRes.windows === floorRes.windows && Math.abs(topoRes.checksum - floorRes.checksum) < 1e-3 && topoRes.dead === floorRes.dead;

  // --- operators alone, on batches prepared by the stages before them
  const clock = new ManualClock(0);
  const drive = <I extends Schema, O extends Schema, Sd extends SideSchemas>(def: OperatorDef<I, O, Sd>, inputs: Batch<I>[], wmEvery = 0): { out: Batch<O>[]; ms: number } => {
    const op = def.create() as Operator<I, O, Sd>;
    const out: Batch<O>[] = [];
    let wm = -Infinity;
    const ctx = { stage: def.kind, clock, ingestTime: 0, get watermark() { return wm; }, emit: (b: Batch<O>) => out.push(b), emitSide: () => {}, emitWatermark: () => {}, registerTimer: () => {}, dropped: () => {} } as unknown as OperatorContext<O, Sd>;
    const t0 = performance.now();
    for (const b of inputs) {
      op.process(b, ctx);
      if (wmEvery && op.onWatermark) { const ts = b.columns['ts' as keyof I] as unknown as Float64Array; wm = ts[ts.length - 1] - wmEvery; op.onWatermark(wm, ctx); }
    }
    op.onWatermark?.(Infinity, ctx);
    return { out, ms: performance.now() - t0 };
  };
  const rawBatches: Batch<RawSchema>[] = [];
  for (let i = 0; i < lines.length; i += 1024) rawBatches.push(rawLines(lines.slice(i, i + 1024)));
  const ops: { name: string; ms: number[] }[] = [];
  const measure = <I extends Schema, O extends Schema, Sd extends SideSchemas>(name: string, mk: () => OperatorDef<I, O, Sd>, inputs: Batch<I>[], wmEvery = 0) => {
    let res = drive(mk(), inputs, wmEvery);
    const ms: number[] = [];
    for (let r = 0; r < REPS; r++) { res = drive(mk(), inputs, wmEvery); ms.push(res.ms); }
    ops.push({ name, ms });
    return res.out;
  };
  const parsed = measure('parse (JSON lines + contract validation)', () => parse({ format: 'json', contract: 'order-event' }), rawBatches);
  const wmd = measure('watermarks', () => watermarks<OrderSchema>({ timestamp: 'ts', maxOutOfOrdernessUs: 5000 }), parsed);
  const keyed = measure('keyBy (symbol)', () => keyByDef(OrderSchema, (c, i) => c.symbol[i]), wmd);
  const normed = measure('normalize (robust, qty per symbol)', () => normalize({ fields: ['qty'], method: 'robust' }), keyed);
  const feats = measure('featurize (order book + 9 participant features)', () => featurize({ horizonUs: 10_000_000 }), normed as never);
  const rekeyed = feats.map((b) => b.withMeta({ keys: Array.from({ length: b.length }, (_, i) => `${(b.columns as unknown as { participant: string[] }).participant[i]}|${(b.columns as unknown as { symbol: string[] }).symbol[i]}`) }));
  measure('window (sliding 10 s / 1 s, 14 aggregates)', () => window({ kind: 'sliding', size: 10_000_000, slide: 1_000_000, aggregates: DemoAggregates as never }), rekeyed as never, 5000);
  const lobsterPath = '../shared/data/lobster/AMZN_2012-06-21_34200000_57600000_message_5.csv';
  if (existsSync(lobsterPath)) {
    const ll = readFileSync(lobsterPath, 'utf8').split('\n').filter(Boolean);
    const lb: Batch<RawSchema>[] = [];
    for (let i = 0; i < ll.length; i += 1024) lb.push(rawLines(ll.slice(i, i + 1024)));
    const t = ops.length;
    measure('parse (LOBSTER messages, AMZN)', () => parse({ format: 'lobster', symbol: 'AMZN', dateUs: Date.UTC(2012, 5, 21) * 1000 }), lb);
    (ops[t] as { n?: number }).n = ll.length;
  }

  // --- report
  const eps = (ms: number, n = N) => n / (ms / 1000);
  const fmt = (x: number) => Math.round(x).toLocaleString('en-US');
  const floorEps = eps(median(floorMs));
  const topoEps = eps(median(topoMs));
  const ratio = median(topoMs.map((t, r) => floorMs[r] / t));
  const cpu = cpus()[0]?.model ?? 'unknown';
  const pinned = process.env.BENCH_PINNED ?? 'no';
  const lines_: string[] = [];
  lines_.push('# Engine-core benchmark (issue #2)', '');
  lines_.push(`Generated by \`npm run bench\` on ${new Date().toISOString().slice(0, 10)}. Machine: ${cpus().length} × ${cpu}, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}; pinned to one core: ${pinned}.`);
  lines_.push(`Input: ${fmt(N)} generated order events (seed 1, JSON lines). Median of ${REPS} runs after one warm-up run; floor and topology runs alternate.`, '');
  lines_.push('## Whole demo topology against the floor', '');
  const range = (ms: number[]) => `${fmt(eps(Math.max(...ms)))} – ${fmt(eps(Math.min(...ms)))}`;
  const ratios = topoMs.map((t, r) => floorMs[r] / t);
  lines_.push('| what | events/s (median) | slowest – fastest run | ratio to floor (median of paired runs) |', '| --- | ---: | ---: | ---: |');
  lines_.push(`| floor: the same work as one hand-written loop (\`bench/floor.ts\`) | ${fmt(floorEps)} | ${range(floorMs)} | 1.00 |`);
  lines_.push(`| demo topology on the runtime (parse → watermarks → normalize → featurize → window) | ${fmt(topoEps)} | ${range(topoMs)} | ${median(ratios).toFixed(2)} |`);
  lines_.push('');
  lines_.push('This machine is shared and noisy: whole runs of this benchmark vary by ±10% in absolute events/s; read the ratio to the floor. Runs before bounded keyed state and the per-key changelog (commit 4f67b32) gave 0.81–0.90, and 0.83 when rerun beside this version on 2026-12-02: the per-record closure of KeyedStore.use cost featurize 17% (fixed: touch/add), and parse made an origin string and a held-record object for every record although only a rejected one needs them (fixed 2026-12-04: 8 whole-topology runs per process, 5 paired processes against 4f67b32 on one core: 1.053× its CPU time before, 1.010× after; the ratio to the floor swings 0.77–0.87 between runs of either version).');
  lines_.push(`Same result: ${same ? 'yes' : 'NO'} — topology ${fmt(topoRes.windows)} windows, floor ${fmt(floorRes.windows)}; checksums ${topoRes.checksum} / ${floorRes.checksum}; dead letters ${topoRes.dead} / ${floorRes.dead}.`);
  lines_.push(`Targets: ≥ 50% of the floor — ${ratio >= 0.5 ? 'met' : 'NOT met'} (${(ratio * 100).toFixed(0)}%); ≥ 200,000 events/s on one core — ${topoEps >= 200_000 ? 'met' : 'NOT met'} (${fmt(topoEps)}).`, '');
  lines_.push('## Each operator alone (pre-built batches of 1,024 records)', '');
  lines_.push('| operator | events/s |', '| --- | ---: |');
  for (const o of ops) lines_.push(`| ${o.name} | ${fmt(eps(median(o.ms), (o as { n?: number }).n ?? N))} |`);
  lines_.push('');
  lines_.push('Per-stage busy time inside the topology (last run):', '');
  lines_.push('| stage | records in | busy ms | records/s busy |', '| --- | ---: | ---: | ---: |');
  for (const s of topoRes.summary.stages) if (s.busyMs > 0) lines_.push(`| ${s.name} | ${fmt(s.recordsIn)} | ${s.busyMs.toFixed(0)} | ${fmt(s.recordsIn / (s.busyMs / 1000))} |`);
  lines_.push('');
  const text = lines_.join('\n') + '\n';
  writeFileSync(new URL('../../bench/RESULTS.md', import.meta.url), text);
  process.stdout.write(text);
  if (!same) process.exitCode = 1;
}

main().catch((e) => { console.error(e); process.exit(1); });
