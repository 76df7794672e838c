/**
 * Incremental inference cost (issue #17): one onnxruntime session per graph on this thread,
 * per-event cost of surveillance-detector-incremental's step.onnx (new event + the key's
 * cached state rows) against its full window re-encode (model.onnx, same weights) and
 * against the current flagship surveillance-detector's transformer, at batch 1, 8 and 64.
 * Same run, interleaved rounds, median of rounds. Then the engine's cost around the step:
 * runKeyed on a key-affine worker and inline, warm keys, against the raw step session.run at
 * the same batch (the pool's overhead per batch). Writes bench/RESULTS-incremental.md.
 *
 *   node dist/bench/incremental-step.js
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { ModelRegistry } from '../src/inference/registry.js';
import { InferencePool } from '../src/inference/pool.js';

const pct = (a: number[], q: number) => { const s = [...a].sort((x, y) => x - y); return s[Math.min(s.length - 1, Math.floor(q * s.length))]; };

/** round trips (µs) of runKeyed with B warm keys, one call at a time */
async function keyedRoundTrips(pool: InferencePool, B: number, calls: number): Promise<number[]> {
  const keys = Array.from({ length: B }, (_, i) => `p\u0001k${i}`);
  const out: number[] = [];
  for (let c = 0; c < calls + 20; c++) {
    const w = new Float32Array(B * L * W).fill(0.1);
    const seqs = new Float64Array(B).fill(c + 1);
    const t0 = performance.now();
    await pool.runKeyed(keys, seqs, w);
    if (c >= 20) out.push((performance.now() - t0) * 1000); // the first calls prefill and warm up
  }
  return out;
}

const reg = new ModelRegistry();
const inc = reg.load('surveillance-detector-incremental');
const flag = reg.load('surveillance-detector');
const meta = (inc.manifest as unknown as { incremental: { length: number; width: number; stateWidth: number } }).incremental;
const L = meta.length, W = meta.width, S = meta.stateWidth;
const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };

async function main(): Promise<void> {
  const step = await ort.InferenceSession.create(join(inc.path, '..', 'step.onnx'), opts);
  const full = await ort.InferenceSession.create(inc.path, opts);
  const transformer = await ort.InferenceSession.create(flag.path, opts);
  const rows: string[] = [];
  for (const B of [1, 8, 64]) {
    const feeds = {
      step: { event: new ort.Tensor('float32', new Float32Array(B * W).fill(0.1), [B, W]), cache: new ort.Tensor('float32', new Float32Array(B * (L - 1) * S).fill(0.1), [B, L - 1, S]), ages: new ort.Tensor('float32', new Float32Array(B * (L - 1)).fill(1), [B, L - 1]) },
      window: { events: new ort.Tensor('float32', new Float32Array(B * L * W).fill(0.1), [B, L, W]) },
    };
    const runs: [string, ort.InferenceSession, Record<string, ort.Tensor>][] = [['step', step, feeds.step], ['full', full, feeds.window], ['transformer', transformer, feeds.window]];
    const per: Record<string, number[]> = { step: [], full: [], transformer: [] };
    const reps = Math.max(20, Math.round(2000 / B));
    for (const [, s, f] of runs) for (let i = 0; i < 20; i++) await s.run(f); // warm
    for (let round = 0; round < 7; round++) {
      for (const [name, s, f] of runs) {
        const t0 = performance.now();
        for (let i = 0; i < reps; i++) await s.run(f);
        per[name].push(((performance.now() - t0) * 1000) / reps / B);
      }
    }
    const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];
    const [st, fu, tr] = [med(per.step), med(per.full), med(per.transformer)];
    rows.push(`| ${B} | ${st.toFixed(1)} | ${fu.toFixed(1)} | ${tr.toFixed(1)} | ${(fu / st).toFixed(2)}× | ${(tr / st).toFixed(2)}× |`);
    console.log(rows.at(-1));
  }
  // the engine around the step: round trips with warm keys, worker vs inline vs the raw session.run
  const worker = await InferencePool.open(inc, { workers: 1, warmup: [1, 8, 64] });
  const inline = await InferencePool.open(inc, { placement: 'inline', warmup: [1, 8, 64] });
  const hop: string[] = [];
  for (const B of [1, 8, 64]) {
    const f = { event: new ort.Tensor('float32', new Float32Array(B * W).fill(0.1), [B, W]), cache: new ort.Tensor('float32', new Float32Array(B * (L - 1) * S).fill(0.1), [B, L - 1, S]), ages: new ort.Tensor('float32', new Float32Array(B * (L - 1)).fill(1), [B, L - 1]) };
    const calls = Math.max(200, Math.round(4000 / B));
    const raw: number[] = [], wk: number[] = [], il: number[] = [];
    for (let round = 0; round < 5; round++) {
      for (let i = 0; i < calls / 5; i++) { const t0 = performance.now(); await step.run(f); raw.push((performance.now() - t0) * 1000); }
      wk.push(...await keyedRoundTrips(worker, B, calls / 5));
      il.push(...await keyedRoundTrips(inline, B, calls / 5));
    }
    const r50 = pct(raw, 0.5);
    hop.push(`| ${B} | ${r50.toFixed(0)} / ${pct(raw, 0.99).toFixed(0)} | ${pct(wk, 0.5).toFixed(0)} / ${pct(wk, 0.99).toFixed(0)} | ${(pct(wk, 0.5) - r50).toFixed(0)} | ${pct(il, 0.5).toFixed(0)} / ${pct(il, 0.99).toFixed(0)} | ${(pct(il, 0.5) - r50).toFixed(0)} |`);
    console.log(hop.at(-1));
  }
  await Promise.all([worker.close(), inline.close()]);
  const report = [
    '# Incremental inference: per-event cost (issue #17)', '',
    `Run ${new Date().toISOString()}, one onnxruntime-node session per graph on one thread (1 intra-op thread), CPU. Window L = ${L}, state row ${S} floats per event. µs per event = one session.run of the batch / batch size; median of 7 interleaved rounds in one process.`, '',
    `| batch | step.onnx (${inc.manifest.name}@${inc.manifest.version}) µs/event | its full re-encode (model.onnx) µs/event | ${flag.manifest.name}@${flag.manifest.version} transformer µs/event | full ÷ step | transformer ÷ step |`,
    '|---:|---:|---:|---:|---:|---:|', ...rows, '',
    '## The engine around the step: round trip per batch, warm keys', '',
    'One call at a time (µs, p50 / p99): the raw `step.run` on this thread with the cache already gathered; `runKeyed` on a key-affine worker (routing, slot lookup, task to the worker thread, cache gathered from the slab, step, state rows written back, outputs returned); `runKeyed` inline (the same on this thread, no hop). Overhead = p50 − the raw p50.', '',
    '| batch | raw step.run | worker runKeyed | worker overhead | inline runKeyed | inline overhead |', '|---:|---:|---:|---:|---:|---:|', ...hop, '',
  ];
  writeFileSync(new URL('../../bench/RESULTS-incremental.md', import.meta.url), report.join('\n'));
}
main().catch((e) => { console.error(e); process.exit(1); });
