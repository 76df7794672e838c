/**
 * The latency floor of `bench:surveillance` (issue #17): what p99 a perfect engine could reach
 * on the same replay with the model's measured cost, before any parsing, messaging or GC.
 *
 * The replay paces the simulated flow by its event times (bench/surveillance-latency.ts),
 * and order flow comes in bursts: a market maker requotes a ladder at one instant, a sweep
 * fills a dozen orders. A burst of B events must all be scored before the last of them is
 * answered; with one executor that takes at least the batched cost of B rows. Here a single
 * ideal server takes every waiting row at once (up to `maxBatch`), costs what the model's own
 * warm-up measured in this process for that batch size (the step graph, beside nothing
 * else), and the bound is each event's completion − arrival. Any real engine is slower.
 *
 *   npm run bench:latency-floor     (LAT_RATES=500,…,10000 LAT_SECONDS=10 as the bench)
 * Writes bench/RESULTS-latency-floor.md.
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { simulate } from '../apps/surveillance/sim/market.js';
import { ModelRegistry } from '../src/inference/registry.js';
import { join, dirname } from 'node:path';
import ort from 'onnxruntime-node';
import { LatencyModel } from '../src/inference/batcher.js';

const RATES = (process.env.LAT_RATES ?? '500,1000,2000,5000,10000').split(',').map(Number);
const SECONDS = Number(process.env.LAT_SECONDS ?? 10);
const MAX_BATCH = 64;

function quantile(sorted: Float64Array, q: number): number { return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))]; }

/** one ideal server: all waiting rows (≤ maxBatch) per batch; µs latency per event */
function idealServer(arrivalUs: Float64Array, costUs: (n: number) => number): Float64Array {
  const lat = new Float64Array(arrivalUs.length);
  let free = 0, i = 0;
  while (i < arrivalUs.length) {
    const start = Math.max(free, arrivalUs[i]);
    let j = i;
    while (j < arrivalUs.length && arrivalUs[j] <= start && j - i < MAX_BATCH) j++;
    const done = start + costUs(j - i);
    for (let k = i; k < j; k++) lat[k] = done - arrivalUs[k];
    free = done; i = j;
  }
  return lat.sort();
}

async function main() {
  const sim = simulate({ seed: 2001, events: 200_000 });
  const ref = new ModelRegistry().load(process.env.LAT_MODEL ?? 'surveillance-detector-incremental');
  const sizes = [1, 2, 4, 8, 16, 32, 64];
  // the step graph on this thread, one intra-op thread as the workers run it: the median of
  // 50 runs per batch size (a best-of-3 warm-up moved 2x between runs on these vCPUs)
  const inc = ref.manifest.incremental!;
  const session = await ort.InferenceSession.create(join(dirname(ref.path), inc.step.file), { intraOpNumThreads: 1, interOpNumThreads: 1, executionMode: 'sequential', graphOptimizationLevel: 'all' });
  const M = inc.length - 1, S = inc.stateWidth, W = inc.width;
  const timed: Record<number, number> = {};
  for (const b of sizes) {
    const feeds = { event: new ort.Tensor('float32', Float32Array.from({ length: b * W }, () => Math.random()), [b, W]), cache: new ort.Tensor('float32', Float32Array.from({ length: b * M * S }, () => Math.random() - 0.5), [b, M, S]), ages: new ort.Tensor('float32', Float32Array.from({ length: b * M }, (_, j) => M - (j % M)), [b, M]) };
    const t: number[] = [];
    for (let i = 0; i < 55; i++) { const t0 = performance.now(); await session.run(feeds); if (i >= 5) t.push((performance.now() - t0) * 1000); }
    timed[b] = t.sort((x, y) => x - y)[t.length >> 1];
  }
  const step = new LatencyModel(timed);
  const id = `${ref.name}@${ref.version}`;
  const rows: string[] = [];
  let worstFloor = 0;
  for (const rate of RATES) {
    const n = Math.min(sim.events.length, Math.round(rate * SECONDS));
    const ev = sim.events.slice(0, n);
    const marketRate = n / ((ev[n - 1].ts - ev[0].ts) / 1e6);
    const speedup = rate / marketRate;
    const arrival = Float64Array.from(ev, (e) => (e.ts - ev[0].ts) / speedup);
    // burstiness: events arriving within the 2 ms before each event (itself included)
    const within = new Float64Array(n);
    for (let i = 0, lo = 0; i < n; i++) { while (arrival[lo] < arrival[i] - 2000) lo++; within[i] = i - lo + 1; }
    within.sort();
    const costs: [string, (b: number) => number][] = [
      ['step graph alone', (b) => step.estimate(b)],
      ['+ 20 µs hop (piscina\'s best, NOTES)', (b) => step.estimate(b) + 20],
      ['model-free path (~1.5 µs/row)', (b) => 5 + 1.5 * b],
    ];
    const cells = costs.map(([, f], c) => { const l = idealServer(arrival, f); if (c === 1) worstFloor = Math.max(worstFloor, quantile(l, 0.99)); return `${(quantile(l, 0.5) / 1000).toFixed(2)} / ${(quantile(l, 0.99) / 1000).toFixed(2)}`; });
    rows.push(`| ${rate.toLocaleString('en-US')} | ${quantile(within, 0.5)} / ${quantile(within, 0.99)} / ${within[n - 1]} | ${cells.join(' | ')} |`);
    process.stdout.write(rows[rows.length - 1] + '\n');
  }
  const md = [
    '# The latency floor of bench:surveillance (issue #17)', '',
    `Run ${new Date().toISOString()}, ${availableParallelism()} cores, ${id}. The replay of bench/surveillance-latency.ts (simulated flow, seed 2001, ${SECONDS} s per rate, paced by event time) fed to one ideal server that takes every waiting row at once (≤ ${MAX_BATCH}) and costs the step graph's median time for that batch size as measured on one thread in this run (µs: ${JSON.stringify(step.table())}). No parsing, encoding, messaging, GC or scheduling: a lower bound for any engine with one executor.`, '',
    '| offered ev/s | events in the 2 ms up to each event, p50 / p99 / max | floor p50 / p99 ms: step graph alone | + 20 µs hop | model-free (~1.5 µs a row) |',
    '|---:|---|---|---|---|', ...rows, '',
    worstFloor <= 2000
      ? `Read: the floor's p99 stays at or under ${(worstFloor / 1000).toFixed(2)} ms at every rate with the hop, so the replay's bursts and the model's own cost leave room under 2 ms: whatever \`bench:surveillance\` measures above that is the engine's own overhead around the model (per-call cost in the engine against the warm-up's, the thread hop's tail, the event loop's other work), not the arrival process.`
      : `Read: the floor's p99 reaches ${(worstFloor / 1000).toFixed(2)} ms with the hop: at those rates no scheduling of this model on one executor meets the 2 ms target on this replay; it would take a cheaper step per row, more executors for one burst, or a replay without the bursts.`, '',
  ].join('\n');
  writeFileSync(new URL('../../bench/RESULTS-latency-floor.md', import.meta.url), md);
}

main().catch((e) => { console.error(e); process.exit(1); });
