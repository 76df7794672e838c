/**
 * Retrieval's hot loop: one user vector against every catalogue row. The WASM SIMD
 * kernel (apps/personalization/vector-table.ts) against the scalar JavaScript loop it
 * replaced, same data, same run, for catalogue sizes around MovieLens' (1,682) and
 * Games' (23,715). Writes bench/RESULTS-retrieval.md.
 *
 *   npm run build && node dist/bench/retrieval.js
 */
import { writeFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { VectorTable } from '../apps/personalization/vector-table.js';

function scalar(u: Float32Array, V: Float32Array, d: number, n: number, s: Float32Array): void {
  for (let r = 1; r < n; r++) { let acc = 0; const o = r * d; for (let j = 0; j < d; j++) acc += u[j] * V[o + j]; s[r] = acc; }
}

function time(f: () => void, reps: number): number {
  for (let i = 0; i < Math.max(20, reps / 10); i++) f();
  const t = performance.now();
  for (let i = 0; i < reps; i++) f();
  return ((performance.now() - t) / reps) * 1000;
}

const rows: string[] = [];
for (const n of [1683, 23716]) {
  const d = 64;
  const t = new VectorTable(d, n);
  for (let i = 0; i < n * d; i++) t.rows[i] = Math.sin(i * 0.37);
  const V = t.rows.slice();
  const u = new Float32Array(d).map((_, j) => Math.cos(j));
  const s = new Float32Array(n);
  const w = t.innerProducts(u, n);
  scalar(u, V, d, n, s);
  let maxErr = 0;
  for (let r = 1; r < n; r++) maxErr = Math.max(maxErr, Math.abs(w[r] - s[r]));
  const reps = n < 5000 ? 5000 : 500;
  const js: number[] = [], simd: number[] = [];
  for (let round = 0; round < 3; round++) { js.push(time(() => scalar(u, V, d, n, s), reps)); simd.push(time(() => t.innerProducts(u, n), reps)); }
  const med = (a: number[]) => a.sort((x, y) => x - y)[1];
  const line = `| ${n - 1} × ${d} | ${med(js).toFixed(1)} | ${med(simd).toFixed(1)} | ${(med(js) / med(simd)).toFixed(1)}× | ${maxErr.toExponential(1)} |`;
  console.log(line); rows.push(line);
}
writeFileSync(new URL('../../bench/RESULTS-retrieval.md', import.meta.url), [
  '# Retrieval kernel', '', `Run ${new Date().toISOString()}, ${availableParallelism()} cores. One user vector against every catalogue row (µs per event, median of 3 rounds).`, '',
  '| catalogue | scalar JS µs | WASM SIMD µs | speed-up | max abs diff |', '|---|---:|---:|---:|---:|', ...rows, '',
].join('\n'));
