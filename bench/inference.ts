/**
 * Inference-layer benchmark (issue #4), all in one run on the same model and inputs:
 *
 *  1. raw: session.run on the main thread, one batch after another, per batch size — the floor;
 *  2. pool: the worker pool at the same batch sizes (a few batches in flight), same threads;
 *  3. naive: one session.run per event on the main thread (what a handler would do);
 *  4. Poisson arrivals at 30 / 60 / 90 % of the pool's capacity, batched by the deadline
 *     policy (2 ms budget) and by a fixed max-delay policy (Triton's max_queue_delay),
 *     latency per event from its scheduled arrival to its score on the main thread
 *     (queue + compute; scheduled arrival, so a stalled loop cannot hide its delay).
 *
 * The model is participant-profile (2 layers, d_model 64, 4 heads, ff 128, 32 × 16 inputs);
 * inputs are real encoded order-flow sequences. Writes bench/RESULTS-inference.md.
 *
 *   npm run bench:inference            (BENCH_SECONDS per load point, default 3)
 */
import { availableParallelism, cpus, totalmem } from 'node:os';
import { writeFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { build as hdrBuild } from 'hdr-histogram-js';
import { batchOf } from '../src/batch.js';
import { OrderSchema } from '../src/contracts.js';
import { generateOrderFlow, orderRow } from '../apps/demo/orderflow.js';
import { LatencyModel, MicroBatcher, resolvePolicy, type BatchPolicy } from '../src/inference/batcher.js';
import { InferencePool, planThreads } from '../src/inference/pool.js';
import { ModelRegistry } from '../src/inference/registry.js';
import { OrderSequenceEncoder } from '../apps/surveillance/order-sequence.js';

const SIZES = [1, 4, 8, 16, 32, 64];
const SECONDS = Number(process.env.BENCH_SECONDS ?? 3);
const W = 512;

function inputs(n: number): Float32Array {
  const enc = new OrderSequenceEncoder();
  const rows = [...generateOrderFlow({ seed: 42, events: n })].map(orderRow);
  const b = batchOf(OrderSchema, rows);
  const out = new Float32Array(n * W);
  for (let i = 0; i < n; i++) enc.encode(b, i, [out], i);
  return out;
}

type Poisson = { load: number; policy: string; offered: number; achieved: number; p50us: number; p99us: number; p999us: number; meanBatch: number; within2ms: number; waitP99: number; computeP99: number; computeP50: number; tripP99: number };
const hist = () => hdrBuild({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
const q = (h: ReturnType<typeof hist>, p: number) => h.getValueAtPercentile(p);

async function main() {
  const registry = new ModelRegistry();
  const model = registry.load('participant-profile', '1');
  const plan = planThreads({});
  const X = inputs(20_000);
  const N = X.length / W;
  let cursor = 0;
  /** n rows of real inputs, as a fresh (transferable) buffer */
  const rowsOf = (n: number) => {
    if (cursor + n > N) cursor = 0;
    const a = X.slice(cursor * W, (cursor + n) * W);
    cursor += n;
    return a;
  };
  const log = (s: string) => process.stdout.write(s + '\n');
  log(`model ${model.name}@${model.version}, ${plan.workers} worker(s) × ${plan.intraOpThreads} intra-op thread(s) on ${plan.cores} cores`);

  // ---- 1. raw session.run on the main thread (same session options as the workers)
  const session = await ort.InferenceSession.create(model.path, {
    executionProviders: ['cpu'], graphOptimizationLevel: 'all', executionMode: 'sequential', intraOpNumThreads: plan.intraOpThreads, interOpNumThreads: 1,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  } as ort.InferenceSession.SessionOptions);
  const raw: Record<number, { evPerSec: number; p50us: number; p99us: number }> = {};
  for (const b of SIZES) {
    for (let i = 0; i < 5; i++) await session.run({ events: new ort.Tensor('float32', rowsOf(b), [b, 32, 16]) });
    const h = hist();
    const t0 = performance.now();
    let events = 0;
    while (performance.now() - t0 < SECONDS * 1000 / 3) {
      const x = new ort.Tensor('float32', rowsOf(b), [b, 32, 16]);
      const s = performance.now();
      await session.run({ events: x });
      h.recordValue(Math.max(1, Math.round((performance.now() - s) * 1000)));
      events += b;
    }
    raw[b] = { evPerSec: events / ((performance.now() - t0) / 1000), p50us: q(h, 50), p99us: q(h, 99) };
    log(`raw   b${b}: ${raw[b].evPerSec.toFixed(0)} ev/s, batch p50 ${raw[b].p50us} µs p99 ${raw[b].p99us} µs`);
  }

  // ---- 3. naive: one run per event on the main thread, closed loop
  const naiveH = hist();
  const tn = performance.now();
  let naiveEvents = 0;
  while (performance.now() - tn < SECONDS * 1000 / 2) {
    const s = performance.now();
    await session.run({ events: new ort.Tensor('float32', rowsOf(1), [1, 32, 16]) });
    naiveH.recordValue(Math.max(1, Math.round((performance.now() - s) * 1000)));
    naiveEvents++;
  }
  const naive = { evPerSec: naiveEvents / ((performance.now() - tn) / 1000), p50us: q(naiveH, 50), p99us: q(naiveH, 99) };
  log(`naive per-event: ${naive.evPerSec.toFixed(0)} ev/s, p50 ${naive.p50us} µs p99 ${naive.p99us} µs`);
  await session.release();

  // ---- 2. the pool at the same batch sizes: keep workers + 1 batches in flight
  const pool = await InferencePool.open(model, { warmup: SIZES });
  const pooled: Record<number, { evPerSec: number; p50us: number; p99us: number; ratio: number }> = {};
  for (const b of SIZES) {
    const h = hist();
    let events = 0;
    const t0 = performance.now();
    const deadline = t0 + SECONDS * 1000 / 3;
    const lane = async () => {
      while (performance.now() < deadline) {
        const s = performance.now();
        await pool.run({ events: { data: rowsOf(b), dims: [b, 32, 16] } });
        h.recordValue(Math.max(1, Math.round((performance.now() - s) * 1000)));
        events += b;
      }
    };
    await Promise.all(Array.from({ length: plan.workers + 1 }, lane));
    const evPerSec = events / ((performance.now() - t0) / 1000);
    pooled[b] = { evPerSec, p50us: q(h, 50), p99us: q(h, 99), ratio: evPerSec / raw[b].evPerSec };
    log(`pool  b${b}: ${evPerSec.toFixed(0)} ev/s (${(pooled[b].ratio * 100).toFixed(0)}% of raw), round trip p50 ${pooled[b].p50us} µs p99 ${pooled[b].p99us} µs`);
  }

  // capacity: the pool's best throughput at a batch size whose batch fits the 2 ms budget
  const fitting = SIZES.filter((b) => pool.warmupUs[b] <= 1500);
  const capacity = Math.max(...fitting.map((b) => pooled[b].evPerSec));
  const maxFit = Math.max(...fitting);
  log(`capacity within budget: ${capacity.toFixed(0)} ev/s (batches up to ${maxFit})`);

  // ---- 4. Poisson arrivals, deadline vs fixed-delay batching
  const policies: [string, BatchPolicy][] = [
    ['deadline 2 ms', { kind: 'deadline', budgetMs: 2, maxBatch: 64 }],
    [`fixed 1 ms, max ${maxFit}`, { kind: 'fixed', maxDelayMs: 1, maxBatch: maxFit }],
    [`fixed 0.5 ms, max ${maxFit}`, { kind: 'fixed', maxDelayMs: 0.5, maxBatch: maxFit }],
  ];
  const poisson: Poisson[] = [];
  for (const load of [0.3, 0.6, 0.9]) {
    for (const [name, policy] of policies) {
      const rate = capacity * load;
      const r = await poissonRun(pool, policy, rate, SECONDS, rowsOf);
      poisson.push({ load, policy: name, offered: rate, ...r });
      log(`load ${load * 100}% (${rate.toFixed(0)} ev/s) ${name}: achieved ${r.achieved.toFixed(0)} ev/s, p50 ${r.p50us} µs p99 ${r.p99us} µs p99.9 ${r.p999us} µs, mean batch ${r.meanBatch.toFixed(1)}, ${(r.within2ms * 100).toFixed(2)}% ≤ 2 ms; p99 wait ${r.waitP99} compute ${r.computeP99} (p50 ${r.computeP50}) round trip ${r.tripP99} µs`);
    }
  }
  // the pool flat out under the deadline policy (open loop well above capacity is overload; use 100%)
  const flat = await poissonRun(pool, { kind: 'deadline', budgetMs: 2, maxBatch: 64 }, capacity, SECONDS, rowsOf);
  log(`load 100% deadline: achieved ${flat.achieved.toFixed(0)} ev/s p99 ${flat.p99us} µs`);
  await pool.close();

  const md = report({ plan, raw, pooled, naive, capacity, maxFit, poisson, flat });
  writeFileSync(new URL('../../bench/RESULTS-inference.md', import.meta.url), md);
  log('wrote bench/RESULTS-inference.md');
}

async function poissonRun(pool: InferencePool, policy: BatchPolicy, rate: number, seconds: number, rowsOf: (n: number) => Float32Array) {
  const h = hist();
  const waitH = hist(), computeH = hist(), tripH = hist();
  const arrivals: number[] = [];
  let head = 0;
  let batches = 0, scored = 0, inflight = 0;
  const batcher = new MicroBatcher(resolvePolicy(policy), new LatencyModel(pool.warmupUs), {
    now: () => performance.now() * 1000,
    idleWorkers: () => pool.idle,
    dispatch: (n) => {
      const at = arrivals.slice(head, head + n);
      head += n;
      batches++;
      inflight++;
      const s = performance.now();
      for (const a of at) waitH.recordValue(Math.max(1, Math.round(s * 1000 - a)));
      pool.run({ events: { data: rowsOf(n), dims: [n, 32, 16] } }).then((res) => {
        const done = performance.now() * 1000;
        computeH.recordValue(Math.max(1, Math.round(res.computeUs)));
        tripH.recordValue(Math.max(1, Math.round(done - s * 1000)));
        batcher.latency.observe(n, (performance.now() - s) * 1000);
        for (const a of at) h.recordValue(Math.max(1, Math.round(done - a)));
        scored += n;
        inflight--;
        batcher.poll();
      });
    },
  });
  // exponential gaps from a fixed seed: the same arrival pattern for every policy
  let seed = 12345;
  const rnd = () => { seed = (seed * 1103515245 + 12345) >>> 0; return (seed + 0.5) / 4294967296; };
  const start = performance.now() * 1000 + 1000;
  const end = start + seconds * 1e6;
  let next = start;
  await new Promise<void>((resolve) => {
    const tick = () => {
      const now = performance.now() * 1000;
      while (next <= now && next < end) {
        arrivals.push(next);
        batcher.add(1, next);
        next += (-Math.log(rnd()) / rate) * 1e6;
      }
      if (next < end) setImmediate(tick);
      else resolve();
    };
    tick();
  });
  batcher.flush();
  while (inflight > 0 || batcher.waiting > 0) await new Promise((r) => setImmediate(r));
  batcher.close();
  const wall = (performance.now() * 1000 - start) / 1e6;
  let within = 0;
  const total = h.totalCount;
  within = countAtOrBelow(h, 2000) / total;
  return {
    achieved: scored / wall, p50us: q(h, 50), p99us: q(h, 99), p999us: q(h, 99.9), meanBatch: scored / batches, within2ms: within,
    // where the time goes, p99 of each part: waiting to be sent, worker compute, batch round trip
    waitP99: q(waitH, 99), computeP99: q(computeH, 99), computeP50: q(computeH, 50), tripP99: q(tripH, 99),
  };
}

function countAtOrBelow(h: ReturnType<typeof hist>, v: number): number {
  // binary search the percentile whose value crosses v
  let lo = 0, hi = 100;
  for (let i = 0; i < 30; i++) { const mid = (lo + hi) / 2; if (h.getValueAtPercentile(mid) <= v) lo = mid; else hi = mid; }
  return (lo / 100) * h.totalCount;
}

function report(r: {
  plan: ReturnType<typeof planThreads>; raw: Record<number, { evPerSec: number; p50us: number; p99us: number }>;
  pooled: Record<number, { evPerSec: number; p50us: number; p99us: number; ratio: number }>; naive: { evPerSec: number; p50us: number; p99us: number };
  capacity: number; maxFit: number; poisson: Poisson[];
  flat: { achieved: number; p99us: number };
}): string {
  const f = (x: number) => Math.round(x).toLocaleString('en-US');
  const L: string[] = [];
  L.push('# Inference benchmark (issue #4)', '');
  L.push(`Run ${new Date().toISOString()} on ${cpus()[0]?.model ?? 'unknown CPU'}, ${availableParallelism()} cores, ${(totalmem() / 2 ** 30).toFixed(0)} GiB, Node ${process.version}, onnxruntime-node ${ort.env.versions.node}.`);
  L.push(`Model participant-profile@1: 2-layer transformer encoder, d_model 64, 4 heads, ff 128, input 32 × 16, opset 14, CPU execution provider.`);
  L.push(`Pool: ${r.plan.workers} worker(s) × ${r.plan.intraOpThreads} intra-op thread (the default plan for this machine: one core left to the event loop); raw and naive use one intra-op thread on the main thread. ${SECONDS} s per Poisson point; all figures from this one run.`, '');
  L.push('## Throughput per batch size: raw session.run (floor) vs the pool', '');
  L.push('| batch | raw ev/s | raw batch p50 / p99 µs | pool ev/s | pool / raw | pool round trip p50 / p99 µs |', '|---:|---:|---:|---:|---:|---:|');
  for (const b of SIZES) L.push(`| ${b} | ${f(r.raw[b].evPerSec)} | ${r.raw[b].p50us} / ${r.raw[b].p99us} | ${f(r.pooled[b].evPerSec)} | ${(r.pooled[b].ratio * 100).toFixed(0)}% | ${r.pooled[b].p50us} / ${r.pooled[b].p99us} |`);
  L.push('', `Naive per-event inference on the main thread: ${f(r.naive.evPerSec)} ev/s, latency p50 ${r.naive.p50us} µs, p99 ${r.naive.p99us} µs (closed loop: its latency is its service time; any queueing adds to it).`, '');
  L.push(`Pool capacity within the 2 ms budget (best throughput at a batch size whose warm-up time ≤ 1.5 ms, up to batch ${r.maxFit}): ${f(r.capacity)} ev/s.`, '');
  L.push('## Poisson arrivals: deadline-aware vs fixed max-delay batching', '');
  L.push('Latency = scheduled arrival → score back on the main thread (queue + transfer + compute).', '');
  L.push('| load | policy | offered ev/s | achieved ev/s | p50 µs | p99 µs | p99.9 µs | ≤ 2 ms | mean batch | p99 wait to send µs | worker compute p50 / p99 µs | batch round trip p99 µs |', '|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|');
  for (const p of r.poisson) L.push(`| ${p.load * 100}% | ${p.policy} | ${f(p.offered)} | ${f(p.achieved)} | ${p.p50us} | ${p.p99us} | ${p.p999us} | ${(p.within2ms * 100).toFixed(2)}% | ${p.meanBatch.toFixed(1)} | ${p.waitP99} | ${p.computeP50} / ${p.computeP99} | ${p.tripP99} |`);
  L.push('', `At 100% of capacity the deadline policy achieved ${f(r.flat.achieved)} ev/s with p99 ${r.flat.p99us} µs.`, '');
  const best = Math.max(...r.poisson.filter((p) => p.policy.startsWith('deadline') && p.p99us <= 2000).map((p) => p.achieved), 0);
  L.push('## Against the targets', '');
  const minRatio = Math.min(...SIZES.map((b) => r.pooled[b].ratio));
  L.push(`- Pool ≥ 85% of raw at every batch size: ${minRatio >= 0.85 ? 'met' : 'NOT met'} (lowest ${(minRatio * 100).toFixed(0)}%: ${SIZES.filter((b) => r.pooled[b].ratio < 0.85).map((b) => `b${b}`).join(', ') || 'none below'}).`);
  const dl = r.poisson.filter((p) => p.policy.startsWith('deadline'));
  L.push(`- Deadline p99 ≤ 2 ms at 30/60/90%: ${dl.every((p) => p.p99us <= 2000) ? 'met' : 'NOT met'} (${dl.map((p) => `${p.load * 100}%: ${p.p99us} µs`).join(', ')}).`);
  const fx = r.poisson.filter((p) => !p.policy.startsWith('deadline'));
  const thr = [0.3, 0.6, 0.9].map((l) => { const d = dl.find((p) => p.load === l)!; const others = fx.filter((p) => p.load === l); return d.achieved >= Math.max(...others.map((o) => o.achieved)) * 0.99; });
  L.push(`- Deadline throughput ≥ fixed-delay's at each load (within 1%): ${thr.every(Boolean) ? 'met' : 'NOT met'}.`);
  L.push(`- Pool vs naive per-event: best deadline throughput with p99 ≤ 2 ms ${f(best)} ev/s vs naive ${f(r.naive.evPerSec)} ev/s = ${(best / r.naive.evPerSec).toFixed(2)}× (target ≥ 5×); pool at 100%: ${(r.flat.achieved / r.naive.evPerSec).toFixed(2)}×.`);
  L.push('', '## Reading these figures', '');
  L.push('- The last three columns split the latency: time waiting to be sent (the worker was busy, or the fixed policy was collecting), the worker\'s own `session.run` time, and the batch round trip (transfer, worker wake-up, result back on the main thread). When worker compute p99 is several times its p50, the inference thread is being preempted: on a 2-vCPU machine the event loop (here also generating arrivals) and the inference worker already take both cores, and anything else — GC helper threads, the OS, neighbours on the host — lands on top of them.');
  L.push('- Small batches pay a fixed per-task cost (message, wake-up, result delivery, about 150–250 µs here), which is why the pool trails raw `session.run` at batch 1 and 4 and matches it from batch 8 up.');
  L.push('- With one inference core, batching can raise throughput over per-event inference only by the ratio of per-row cost at batch 1 to batch 64 (raw b64 / raw b1 above); a ≥ 5× gain over naive needs more inference workers (cores) or a GPU, not a better batcher.');
  L.push('');
  return L.join('\n');
}

main().catch((e) => { console.error(e); process.exit(1); });
