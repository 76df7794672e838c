/**
 * Per-event cost against window length (issue #17): the incremental detector's step graph
 * (one new event + the key's cached rows) against its full re-encode of the window, at
 * L = 8, 32 and 128, batch 1, 8 and 64, one onnxruntime session per graph on this thread.
 * The graphs are untrained exports of the registered architecture at each length
 * (models/tools/export-length-curve.py: timing does not depend on the weights). Median of
 * interleaved rounds in one process. Writes bench/RESULTS-incremental-length.md.
 *
 *   npm run bench:incremental-length     (needs .venv-train: scripts/train-all.sh makes it)
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';

const DIR = process.env.LEN_DIR ?? '/tmp/sluice-length';
const LENGTHS = (process.env.LEN_LENGTHS ?? '8,32,128').split(',').map(Number);
const W = 16, S = 128; // event width; state row (2 hops × keys and values of 32)
const opts: ort.InferenceSession.SessionOptions = { executionProviders: ['cpu'], intraOpNumThreads: 1, interOpNumThreads: 1, graphOptimizationLevel: 'all' };
const med = (a: number[]) => [...a].sort((x, y) => x - y)[a.length >> 1];

async function main(): Promise<void> {
  const rows: string[] = [];
  for (const L of LENGTHS) {
    const d = join(DIR, `L${L}`);
    if (!existsSync(join(d, 'step.onnx'))) throw new Error(`no graphs for L=${L} under ${DIR}: run models/tools/export-length-curve.py first`);
    const full = await ort.InferenceSession.create(join(d, 'model.onnx'), opts);
    const step = await ort.InferenceSession.create(join(d, 'step.onnx'), opts);
    for (const B of [1, 8, 64]) {
      const fw = { events: new ort.Tensor('float32', new Float32Array(B * L * W).fill(0.1), [B, L, W]) };
      const fs = { event: new ort.Tensor('float32', new Float32Array(B * W).fill(0.1), [B, W]), cache: new ort.Tensor('float32', new Float32Array(B * (L - 1) * S).fill(0.1), [B, L - 1, S]), ages: new ort.Tensor('float32', new Float32Array(B * (L - 1)).fill(1), [B, L - 1]) };
      const reps = Math.max(10, Math.round(1500 / B));
      for (let i = 0; i < 10; i++) { await full.run(fw); await step.run(fs); }
      const pf: number[] = [], ps: number[] = [];
      for (let round = 0; round < 7; round++) {
        let t0 = performance.now();
        for (let i = 0; i < reps; i++) await full.run(fw);
        pf.push(((performance.now() - t0) * 1000) / reps / B);
        t0 = performance.now();
        for (let i = 0; i < reps; i++) await step.run(fs);
        ps.push(((performance.now() - t0) * 1000) / reps / B);
      }
      const [f, s] = [med(pf), med(ps)];
      rows.push(`| ${L} | ${B} | ${f.toFixed(1)} | ${s.toFixed(1)} | ${(f / s).toFixed(2)}× |`);
      console.log(rows.at(-1));
    }
  }
  writeFileSync(new URL('../../bench/RESULTS-incremental-length.md', import.meta.url), [
    '# Incremental inference: per-event cost against window length (issue #17)', '',
    `Run ${new Date().toISOString()}, one onnxruntime-node session per graph on one thread (1 intra-op thread), CPU. Untrained exports of the incremental detector's architecture at each length (models/tools/export-length-curve.py; each step graph checked against its prefill there). µs per event = one session.run of the batch / batch size, median of 7 interleaved rounds.`, '',
    '| window L | batch | full re-encode µs/event | step µs/event | full ÷ step |', '|---:|---:|---:|---:|---:|', ...rows, '',
    'The step still attends over the L − 1 cached rows, so it is not flat in L: what it drops is embedding the whole window again. The cache a key holds grows with L too ((L − 1) × 128 floats).', '',
  ].join('\n'));
}
main().catch((e) => { console.error(e); process.exit(1); });
