import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { NabCorpus, PROFILES, probationaryLength, readScoreCsv, readWindows, scaledSigmoid, type ScoredFile } from '../bench/nab-scorer.js';

const T0 = Date.UTC(2020, 0, 1);
const ts = (n: number) => Array.from({ length: n }, (_, i) => T0 + i * 300_000);

/** 1,000 rows, probation 150, one window at rows 500..599 */
function file(scores: (i: number) => number): ScoredFile {
  const t = ts(1000);
  return { name: 'f', timestamps: t, scores: t.map((_, i) => scores(i)), windows: [[t[500], t[599]]] };
}

test('NAB rules by hand: a detection at the window start scores tpWeight, a missed window −fnWeight, FPs by position', () => {
  const std = PROFILES.standard;
  assert.is(probationaryLength(1000), 150);
  assert.is(probationaryLength(100_000), 750);
  // never alerts: the null score
  const none = new NabCorpus([file(() => 0)]);
  assert.is(none.at(0.5, std).raw, -1);
  assert.is(none.at(0.5, std).normalized, 0);
  // one detection at the first row of the window: perfect
  const perfect = new NabCorpus([file((i) => (i === 500 ? 1 : 0))]);
  assert.ok(Math.abs(perfect.at(0.5, std).raw - 1) < 1e-12);
  assert.ok(Math.abs(perfect.at(0.5, std).normalized - 100) < 1e-9);
  // halfway into the window: 2·sigmoid(2.5)−1 over 2·sigmoid(5)−1, times tpWeight; only the first detection counts
  const half = new NabCorpus([file((i) => (i === 550 || i === 590 ? 1 : 0))]);
  const want = scaledSigmoid(-50 / 100) / scaledSigmoid(-1);
  assert.ok(Math.abs(half.at(0.5, std).raw - want) < 1e-12, `${half.at(0.5, std).raw} vs ${want}`);
  // an FP before any window costs fpWeight; one in probation costs nothing; one just after the window little
  const fps = new NabCorpus([file((i) => (i === 100 || i === 300 ? 1 : i === 600 ? 1 : 0))]);
  const after = scaledSigmoid(1 / 99) * std.fpWeight;
  assert.ok(Math.abs(fps.at(0.5, std).raw - (-1 - std.fpWeight + after)) < 1e-12);
  // the optimizer: scores 0.9 in the window, 0.95 outside → best is 0.9 (catch the window, pay the FP)
  const opt = new NabCorpus([file((i) => (i === 520 ? 0.9 : i === 300 ? 0.95 : 0))]);
  const best = opt.optimize(std);
  assert.is(best.threshold, 0.9);
  assert.is(best.fn, 0);
  assert.is(best.fp, 1);
});

const NAB = join(process.cwd(), '..', 'shared', 'data', 'nab-dev');
test('reproduces NAB\'s figures for the shipped Numenta HTM results on the dev split (when the data is here)', () => {
  if (!existsSync(join(NAB, 'combined_windows.json'))) { process.stdout.write('  (no ../shared/data/nab-dev in this checkout: skipped)\n'); return; }
  const files = [...readWindows(join(NAB, 'combined_windows.json'))].map(([name, windows]) => {
    const [cat, f] = name.split('/');
    const r = readScoreCsv(join(NAB, 'reference-results', 'numenta', cat, `numenta_${f}`), 'anomaly_score');
    return { name, timestamps: r.timestamps, scores: r.values, windows };
  });
  const c = new NabCorpus(files, 'nab');
  const got = [c.at(0.5422, PROFILES.standard).normalized, c.at(0.5752, PROFILES.reward_low_FP_rate).normalized, c.at(0.5422, PROFILES.reward_low_FN_rate).normalized];
  const want = [78.43, 74.25, 83.32];
  got.forEach((g, i) => assert.ok(Math.abs(g - want[i]) <= 0.5, `profile ${i}: ${g.toFixed(2)} vs ${want[i]}`));
});

test.run();
