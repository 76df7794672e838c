/**
 * The incremental detector's promise (issue #17), checked in onnxruntime-node on the
 * registered graphs: stepping a key's events one at a time through step.onnx, with the
 * key's cache of previous state rows, gives what prefill.onnx (and the plain model.onnx)
 * give on the same sliding window, to 1e-4; and a key whose cache is lost (a restore,
 * a rebalance) and rebuilt by prefill from its event ring continues exactly as an
 * uninterrupted run. The manifest's sha256s are checked for both graphs.
 */
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import ort from 'onnxruntime-node';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ModelRegistry } from '../src/inference/registry.js';

interface Graph { file: string; sha256: string }
interface Incremental { length: number; width: number; stateWidth: number; prefill: Graph; step: Graph }

const ref = new ModelRegistry().load('surveillance-detector-incremental');
const inc = (ref.manifest as unknown as { incremental: Incremental }).incremental;
const dir = join(ref.path, '..');
const L = inc.length, W = inc.width, S = inc.stateWidth;

/** a deterministic event stream shaped like the encoder's rows: one-hots, signs, bounded values */
function events(n: number, seed: number): Float32Array {
  let s = seed >>> 0;
  const rnd = () => ((s = (s * 1664525 + 1013904223) >>> 0) / 2 ** 32);
  const x = new Float32Array(n * W);
  for (let t = 0; t < n; t++) {
    x[t * W + Math.floor(rnd() * 4)] = 1;
    x[t * W + 4] = rnd() < 0.5 ? 1 : -1;
    for (let j = 5; j < W; j++) x[t * W + j] = j < 8 || j === 12 || j === 13 ? (rnd() < 0.2 ? 1 : 0) : rnd() * 2 - 1;
  }
  return x;
}

async function open(file: string): Promise<ort.InferenceSession> { return ort.InferenceSession.create(join(dir, file)); }

test('the manifest names both graphs, and each is the file it describes', () => {
  for (const g of [inc.prefill, inc.step]) {
    assert.is(createHash('sha256').update(readFileSync(join(dir, g.file))).digest('hex'), g.sha256, g.file);
  }
  assert.ok(S > 0 && L > 1 && W === 16);
});

test('step-by-step equals the full re-encode of each sliding window (1e-4), and a cache rebuilt by prefill continues exactly', async () => {
  const [prefill, step, plain] = await Promise.all([open(inc.prefill.file), open(inc.step.file), open(ref.manifest.file)]);
  const B = 3, N = L + 40;
  const ev = Array.from({ length: B }, (_, b) => events(N, 7 + b));
  const windowAt = (t: number) => { // rows t-L+1 … t of every key, as one [B, L, W] batch
    const w = new Float32Array(B * L * W);
    for (let b = 0; b < B; b++) w.set(ev[b].subarray((t - L + 1) * W, (t + 1) * W), b * L * W);
    return new ort.Tensor('float32', w, [B, L, W]);
  };
  // the cache: per key the L-1 newest state rows, oldest first
  const first = await prefill.run({ events: windowAt(L - 1) });
  let cache = new Float32Array(B * (L - 1) * S);
  const st0 = first.states.data as Float32Array;
  for (let b = 0; b < B; b++) cache.set(st0.subarray(b * L * S + S, (b + 1) * L * S), b * (L - 1) * S);
  const ages = new Float32Array(B * (L - 1));
  for (let b = 0; b < B; b++) for (let j = 0; j < L - 1; j++) ages[b * (L - 1) + j] = L - 1 - j;
  let worst = 0, rebuilt = 0;
  for (let t = L; t < N; t++) {
    const event = new Float32Array(B * W);
    for (let b = 0; b < B; b++) event.set(ev[b].subarray(t * W, (t + 1) * W), b * W);
    const out = await step.run({ event: new ort.Tensor('float32', event, [B, W]), cache: new ort.Tensor('float32', cache, [B, L - 1, S]), ages: new ort.Tensor('float32', ages, [B, L - 1]) });
    const full = await plain.run({ events: windowAt(t) });
    const pre = await prefill.run({ events: windowAt(t) });
    for (const name of ['score', 'logits']) {
      const a = out[name].data as Float32Array, f = full[name].data as Float32Array, p = pre[name].data as Float32Array;
      assert.is(a.length, f.length);
      for (let i = 0; i < a.length; i++) worst = Math.max(worst, Math.abs(a[i] - f[i]), Math.abs(p[i] - f[i]));
    }
    // slide: drop each key's oldest row, append the new one
    const next = new Float32Array(cache.length);
    const row = out.state.data as Float32Array;
    for (let b = 0; b < B; b++) {
      next.set(cache.subarray(b * (L - 1) * S + S, (b + 1) * (L - 1) * S), b * (L - 1) * S);
      next.set(row.subarray(b * S, (b + 1) * S), b * (L - 1) * S + (L - 2) * S);
    }
    cache = next;
    if (t === L + 20) {
      // the cache is lost (restore, rebalance): rebuild it from the key's ring of raw events
      const st = (pre.states.data as Float32Array);
      const again = new Float32Array(cache.length);
      for (let b = 0; b < B; b++) again.set(st.subarray(b * L * S + S, (b + 1) * L * S), b * (L - 1) * S);
      for (let i = 0; i < cache.length; i++) rebuilt = Math.max(rebuilt, Math.abs(again[i] - cache[i]));
      cache = again;
    }
  }
  assert.ok(worst <= 1e-4, `step vs full re-encode differ by ${worst}`);
  assert.ok(rebuilt <= 1e-4, `a cache rebuilt by prefill differs from the stepped one by ${rebuilt}`);
  // the check can fail: the same cache read with the wrong ages changes the answer
  const ev1 = new Float32Array(B * W); ev1.set(ev[0].subarray(0, W));
  const agesWrong = new Float32Array(ages).map((_, i) => (i % (L - 1)) + 1);
  const a = await step.run({ event: new ort.Tensor('float32', ev1, [B, W]), cache: new ort.Tensor('float32', cache, [B, L - 1, S]), ages: new ort.Tensor('float32', ages, [B, L - 1]) });
  const b = await step.run({ event: new ort.Tensor('float32', ev1, [B, W]), cache: new ort.Tensor('float32', cache, [B, L - 1, S]), ages: new ort.Tensor('float32', agesWrong, [B, L - 1]) });
  const la = a.logits.data as Float32Array, lb = b.logits.data as Float32Array;
  let moved = 0;
  for (let i = 0; i < la.length; i++) moved = Math.max(moved, Math.abs(la[i] - lb[i]));
  assert.ok(moved > 1e-3, `ages must matter to the step graph (moved ${moved})`);
});

test.run();
