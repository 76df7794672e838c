/**
 * Incremental inference cost (issue #17): one onnxruntime session per graph on this thread,
 * per-event cost of surveillance-detector-incremental's step.onnx (new event + the key's
 * cached state rows) against its full window re-encode (model.onnx, same weights) and
 * against the current flagship surveillance-detector's transformer, at batch 1, 8 and 64.
 * Same run, interleaved rounds, median of rounds. Writes bench/RESULTS-incremental.md.
 *
 *   node dist/bench/incremental-step.js
 */
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { ModelRegistry } from '../src/inference/registry.js';

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
  const report = [
    '# Incremental inference: per-event cost (issue #17)', '',
    `Run ${new Date().toISOString()}, one onnxruntime-node session per graph on one thread (1 intra-op thread), CPU. Window L = ${L}, state row ${S} floats per event. µs per event = one session.run of the batch / batch size; median of 7 interleaved rounds in one process.`, '',
    `| batch | step.onnx (${inc.manifest.name}@${inc.manifest.version}) µs/event | its full re-encode (model.onnx) µs/event | ${flag.manifest.name}@${flag.manifest.version} transformer µs/event | full ÷ step | transformer ÷ step |`,
    '|---:|---:|---:|---:|---:|---:|', ...rows, '',
    'This measures the graphs only: the engine does not route keys to stateful workers yet (the cache lives nowhere but in tests/incremental.test.ts), so these figures are what the step would cost, not what `bench:surveillance` achieves.', '',
  ];
  writeFileSync(new URL('../../bench/RESULTS-incremental.md', import.meta.url), report.join('\n'));
}
main().catch((e) => { console.error(e); process.exit(1); });
