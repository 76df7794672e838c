import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from '../src/harness.js';
import { rng } from '../apps/demo/orderflow.js';
import { adaptiveThreshold, ThresholdFeedback } from './threshold.js';

const S = { ts: 'f64', score: 'f64' } as const;
type Out = { ts: number; score: number; threshold: number; alert: number };

function feed(h: OperatorHarness<typeof S, never>, scores: number[], t0: number, key = 'A'): Out[] {
  const before = h.outputs.length;
  const rows = scores.map((score, i) => ({ ts: t0 + i * 1000, score }));
  for (let i = 0; i < rows.length; i += 500) {
    const part = rows.slice(i, i + 500);
    h.push(part, { keys: part.map(() => key) });
  }
  return h.outputs.slice(before).flatMap((b) => b.rows()) as unknown as Out[];
}

test('a regime shift that lifts every score does not flood alerts', () => {
  const r = rng(1);
  const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.005, floor: 0.5, halfLifeUs: 5e6 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  feed(h, Array.from({ length: 20_000 }, () => r() * 0.6), 0);
  const shifted = feed(h, Array.from({ length: 20_000 }, () => 0.3 + r() * 0.6), 20_000_000);
  const settled = shifted.slice(5_000);
  const rate = settled.filter((o) => o.alert).length / settled.length;
  const staticRate = settled.filter((o) => o.score > 0.5).length / settled.length;
  assert.ok(staticRate > 0.5, `a static threshold at 0.5 would alert on ${(staticRate * 100).toFixed(0)}%`);
  assert.ok(rate < 0.02, `adaptive alert rate after the shift ${(rate * 100).toFixed(2)}% (target 0.5%)`);
  assert.ok(settled.at(-1)!.threshold > 0.85, `threshold followed the scores up (${settled.at(-1)!.threshold})`);
});

test('a flat regime does not silence alerts: outliers above the floor still fire', () => {
  const r = rng(2);
  const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.005, floor: 0.4, halfLifeUs: 5e6 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  const flat = feed(h, Array.from({ length: 10_000 }, () => 0.1 + r() * 0.02), 0);
  assert.is(flat.filter((o) => o.alert).length, 0, 'flat scores under the floor never alert');
  assert.ok(Math.abs(flat.at(-1)!.threshold - 0.4) < 1e-9, 'the threshold sits on the floor');
  const [spike] = feed(h, [0.75], 10_000_000);
  assert.is(spike.alert, 1, 'an outlier alerts');
});

test('a score at the ceiling alerts whatever the regime', () => {
  const r = rng(3);
  const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.005, ceiling: 0.97 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  feed(h, Array.from({ length: 5_000 }, () => 0.9 + r() * 0.09), 0);
  const [x] = feed(h, [0.975], 5_000_000);
  assert.is(x.alert, 1);
});

test('per key: a noisy key does not raise a quiet key\'s threshold beyond the shared prior', () => {
  const r = rng(4);
  const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.01, floor: 0.3, priorWeight: 50 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  feed(h, Array.from({ length: 5_000 }, () => 0.5 + r() * 0.45), 0, 'noisy');
  const quiet = feed(h, Array.from({ length: 2_000 }, () => r() * 0.4), 5_000_000, 'quiet');
  assert.ok(quiet.at(-1)!.threshold < 0.5, `quiet key's own history brought its threshold down (${quiet.at(-1)!.threshold})`);
});

test('analyst feedback: false positives raise the key\'s threshold, true positives lower it', () => {
  const r = rng(5);
  const fb = new ThresholdFeedback(0.05);
  const h = new OperatorHarness(adaptiveThreshold({ feedback: fb, floor: 0.2, halfLifeUs: 1e12 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  const base = feed(h, Array.from({ length: 2_000 }, () => r() * 0.5), 0).at(-1)!.threshold;
  fb.mark('A', false); fb.mark('A', false);
  const up = feed(h, [0.1], 3_000_000).at(-1)!.threshold;
  assert.ok(Math.abs(up - base - 0.1) < 0.011, `two false positives: ${base} → ${up}`);
  fb.mark('A', true);
  const down = feed(h, [0.1], 3_100_000).at(-1)!.threshold;
  assert.ok(down < up, `a true positive lowers it again (${down})`);
});

test('feedback stream: verdict lines move the keys\' offsets; bad lines become dead letters', async () => {
  const { Runtime } = await import('../src/runtime.js');
  const { TopologyBuilder } = await import('../src/topology.js');
  const { memorySource } = await import('../src/sources.js');
  const { collectSink } = await import('../src/sinks.js');
  const { RawSchema } = await import('../src/io.js');
  const { feedbackSink, parseFeedback } = await import('./threshold.js');
  const lines = [
    JSON.stringify({ participant: 'MBR01', symbol: 'AAPL', verdict: 'false_positive' }),
    JSON.stringify({ participant: 'MBR01', symbol: 'AAPL', verdict: 'false_positive' }),
    JSON.stringify({ participant: 'HFT1', symbol: 'MSFT', verdict: 'true_positive' }),
    'not json',
    JSON.stringify({ participant: 'HFT1', symbol: 'MSFT', verdict: 'maybe' }),
  ];
  const fb = new ThresholdFeedback(0.05);
  const dead = collectSink<never>();
  const t = new TopologyBuilder('feedback');
  const parsed = t.source('feedback', memorySource(RawSchema, [lines.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }))])).via('parse-feedback', parseFeedback());
  parsed.to('to-thresholds', feedbackSink(fb));
  parsed.side('dead').to('dead', dead as never);
  await new Runtime(t.build()).run();
  assert.ok(Math.abs(fb.offset('MBR01|AAPL') - 0.1) < 1e-12);
  assert.ok(Math.abs(fb.offset('HFT1|MSFT') + 0.05) < 1e-12);
  assert.equal((dead.rows() as unknown as { code: string }[]).map((d) => d.code), ['SLUICE_ERR_MALFORMED_JSON', 'SLUICE_ERR_SCHEMA']);
});

test('late events adjust the threshold by the weight their age gives them', () => {
  const r = rng(5);
  const run = (burstT0: number) => {
    const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.01, floor: 0.3, ceiling: 0.999, halfLifeUs: 10e6, priorWeight: 10 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
    feed(h, Array.from({ length: 4000 }, () => r() * 0.4), 0);       // event time 0 … 4 s
    feed(h, Array.from({ length: 600 }, () => 0.8 + r() * 0.1), burstT0); // a high-scoring burst, possibly late
    return feed(h, [0.35], 4_600_000)[0].threshold;                  // the threshold a next on-time record meets
  };
  const onTime = run(4_000_000);   // the burst arrives at its time
  const slightlyLate = run(3_000_000); // 1 s late: a tenth of a half-life
  const veryLate = run(-60_000_000);   // a minute late: six half-lives
  assert.ok(onTime > 0.8, `on-time burst lifts the threshold (${onTime})`);
  assert.ok(slightlyLate > 0.8, `slightly late burst counts nearly fully (${slightlyLate})`);
  assert.ok(veryLate < 0.45, `a burst from six half-lives ago barely moves it (${veryLate})`);
});

test('snapshot and restore keep the distributions', () => {
  const r = rng(6);
  const def = adaptiveThreshold({ targetRate: 0.01 });
  const h = new OperatorHarness(def, { input: S }) as unknown as OperatorHarness<typeof S, never>;
  feed(h, Array.from({ length: 3_000 }, () => r()), 0);
  const snap = h.snapshot();
  const a = feed(h, [0.5, 0.97], 4_000_000);
  h.restore(snap);
  const b = feed(h, [0.5, 0.97], 4_000_000);
  assert.equal(b.map((o) => o.threshold), a.map((o) => o.threshold));
});

test('config is validated', () => {
  assert.throws(() => adaptiveThreshold({ targetRate: 0 }), /targetRate/);
  assert.throws(() => adaptiveThreshold({ floor: 0.9, ceiling: 0.5 }), /floor/);
});

test('calibrated scores: the surprise scale with no ceiling holds a 0.1% target; linear bins with a ceiling do not', () => {
  // scores that are 1 − p with p uniform: what a calibrated detector gives on a stream without anomalies
  const r = rng(21);
  const scores = Array.from({ length: 40_000 }, () => 1 - r());
  const run = (cfg: Parameters<typeof adaptiveThreshold>[0]) => {
    const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.001, floor: 0.5, halfLifeUs: 3600e6, ...cfg }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
    const out = feed(h, scores, 0);
    return out.slice(5_000).filter((o) => o.alert).length / (out.length - 5_000);
  };
  const held = run({ scale: 'surprise', ceiling: 1, minEvidence: 1000 });
  assert.ok(held > 0.0005 && held < 0.002, `surprise scale: achieved ${(held * 100).toFixed(3)}% for a 0.1% target`);
  const linear = run({ ceiling: 0.99 });
  assert.ok(linear > 0.008, `linear with a 0.99 ceiling: ${(linear * 100).toFixed(2)}% — the ceiling alerts whatever the budget`);
});

test('ceilingRareShare: a ceiling that a large share of the stream reaches stops overriding the budget; a rare one still fires', () => {
  // flow unlike the model's training data: a fifth of all scores sit at the ceiling (issue #18's benign bursts scored 0.998)
  const r = rng(22);
  const flooded = Array.from({ length: 30_000 }, () => (r() < 0.2 ? 0.996 + r() * 0.004 : r() * 0.5));
  const rate = (cfg: Parameters<typeof adaptiveThreshold>[0]) => {
    const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.002, floor: 0.95, ceiling: 0.995, halfLifeUs: 600e6, ...cfg }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
    const out = feed(h, flooded, 0);
    return out.slice(5_000).filter((o) => o.alert).length / (out.length - 5_000);
  };
  const always = rate({});
  const rare = rate({ ceilingRareShare: 0.1 });
  assert.ok(always > 0.15, `without the share rule the ceiling alerts on ${(always * 100).toFixed(1)}%`);
  assert.ok(rare < 0.01, `with it, ${(rare * 100).toFixed(2)}% alert (target 0.2%)`);
  // where ceiling scores are rare (1 in 200), each one still alerts, even on a key whose own history is full of them
  const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.002, floor: 0.95, ceiling: 0.995, ceilingRareShare: 0.1 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  feed(h, Array.from({ length: 20_000 }, () => r() * 0.5), 0, 'others');
  const burst = feed(h, Array.from({ length: 100 }, () => 0.999), 20_000_000, 'one');
  assert.is(burst.filter((o) => o.alert).length, 100);
  assert.throws(() => adaptiveThreshold({ ceilingRareShare: 0 }), /ceilingRareShare/);
});

test('coldFloor: a low floor applies only once the stream has 1 / targetRate scores', () => {
  const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.01, floor: 0.3, coldFloor: 0.9 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  const out = feed(h, Array.from({ length: 400 }, (_, i) => (i % 200 === 0 ? 0.6 : 0.1)), 0); // a spike at 0 (cold) and at 200 (warm)
  assert.is(out.slice(0, 100).filter((o) => o.alert).length, 0, 'a 0.6 among the first 100 scores stays under the cold floor');
  assert.ok(out.slice(100).some((o) => o.alert === 1), 'later the 0.3 floor and the quantile decide');
  assert.throws(() => adaptiveThreshold({ floor: 0.5, coldFloor: 0.4 }), /coldFloor/);
});

test('minEvidence: no alert before a key has that much history', () => {
  const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.01, floor: 0.1, minEvidence: 100 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  const out = feed(h, Array.from({ length: 200 }, (_, i) => (i % 10 === 0 ? 0.99 : 0.2)), 0);
  assert.is(out.slice(0, 100).filter((o) => o.alert).length, 0);
  assert.ok(out.slice(100).some((o) => o.alert === 1));
});

test('rarity: an alerting score carries the share of the stream\'s history below it; other rows carry NaN', () => {
  const r = rng(9);
  const h = new OperatorHarness(adaptiveThreshold({ targetRate: 0.01, floor: 0, ceiling: 1, rarity: true, halfLifeUs: 1e12 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  const out = feed(h, Array.from({ length: 20_000 }, () => r()), 0) as (Out & { rarity: number })[];
  const alerted = out.filter((o) => o.alert === 1);
  assert.ok(alerted.length > 50, `${alerted.length} alerts`);
  for (const o of alerted.slice(10)) assert.ok(Math.abs(o.rarity - o.score) < 0.011, `uniform scores: rarity ${o.rarity} ≈ score ${o.score}`);
  assert.ok(out.filter((o) => o.alert === 0).every((o) => Number.isNaN(o.rarity)));
  const plain = new OperatorHarness(adaptiveThreshold({ targetRate: 0.01 }), { input: S }) as unknown as OperatorHarness<typeof S, never>;
  assert.not.ok('rarity' in feed(plain, [0.5], 0)[0], 'off by default: no column');
});

test.run();
