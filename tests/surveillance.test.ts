/**
 * The surveillance topology end to end on the embedded runtime, with the trained
 * detector on a real worker pool: alerts follow the contract and land on labelled
 * episodes; malformed order events become dead letters while the job keeps running.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { contractValidator } from '../src/contracts.js';
import { RawSchema } from '../src/io.js';
import type { DeadLetterSchema } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { simulate } from '../apps/surveillance/sim/market.js';
import { alertJson, type AlertSchema } from '../apps/surveillance/alerts.js';
import { EvidenceMeasures } from '../apps/surveillance/evidence.js';
import { openSurveillanceModel, surveillanceTopology } from '../apps/surveillance/topology.js';
import { scoreAlerts } from '../bench/eval-surveillance.js';

const sim = simulate({ seed: 777, events: 30_000, episodesPerPattern: 2, benignPerKind: 3 });

async function run(lines: string[], name?: string) {
  const raw = lines.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }));
  const slot = await openSurveillanceModel({ ...(name ? { name } : {}), pool: { workers: 1, warmup: [1, 8, 32] } });
  const alerts = collectSink<AlertSchema>();
  const dead = collectSink<DeadLetterSchema>();
  try {
    await new Runtime(surveillanceTopology({ source: memorySource(RawSchema, [raw], { batchSize: 512 }), parse: { format: 'json', contract: 'order-event' }, slot, alerts, deadLetters: dead })).run();
  } finally { await slot.close(); }
  return { alerts, dead };
}

test('surveillance: contract-valid alerts that find the labelled episodes', async () => {
  const { alerts, dead } = await run(sim.events.map((e) => JSON.stringify(e)));
  assert.is(dead.rows().length, 0);
  const valid = contractValidator('alert');
  const batches = alerts.batches;
  let n = 0;
  for (const b of batches) for (let i = 0; i < b.length; i++, n++) {
    const a = JSON.parse(alertJson(b, i)) as { ts: number; windowStart: number; windowEnd: number; features: unknown[]; modelVersion: string };
    assert.ok(valid(a), JSON.stringify(valid.errors));
    assert.ok(a.windowStart <= a.ts && a.ts === a.windowEnd, 'the window ends at the alerting event');
    assert.ok(a.features.length >= 5 && a.modelVersion.startsWith('surveillance-detector@'));
    // the detector's alerts waited for their pattern's evidence: it is their first feature
    assert.ok(Object.values(EvidenceMeasures).includes((a.features[0] as { name: string }).name), `first feature ${JSON.stringify(a.features[0])}`);
    // then the score's rarity in the stream, comparable across models and markets
    const rarity = (a.features as { name: string; value: number }[]).find((f) => f.name === 'streamRarity');
    assert.ok(rarity && rarity.value >= 0 && rarity.value <= 1, `streamRarity ${JSON.stringify(rarity)}`);
  }
  assert.ok(n > 0, 'some alerts');
  const q = scoreAlerts(sim.events, sim.episodes, alerts.rows());
  assert.ok(q.episodeRecall >= 0.7, `episode recall ${q.episodeRecall}`);
  assert.ok(q.fpr < 0.05, `unit FPR ${q.fpr}`);
});

test('surveillance: the pattern-feature detector scores one row of pattern features per event and finds the episodes', async () => {
  // its manifest names PatternFeatureNames, so the topology feeds it PatternFeatureEncoder's rows
  const { alerts, dead } = await run(sim.events.map((e) => JSON.stringify(e)), 'surveillance-pattern');
  assert.is(dead.rows().length, 0);
  const rows = alerts.rows() as unknown as { modelVersion: string }[];
  assert.ok(rows.length > 0 && rows.every((a) => a.modelVersion.startsWith('surveillance-pattern@')), 'alerts from the pattern detector');
  const q = scoreAlerts(sim.events, sim.episodes, alerts.rows());
  assert.ok(q.episodeRecall >= 0.6, `episode recall ${q.episodeRecall}`);
  assert.ok(q.fpr < 0.05, `unit FPR ${q.fpr}`);
});

test('surveillance: malformed order events go to dead letters; the rest is scored', async () => {
  const good = sim.events.slice(0, 3000).map((e) => JSON.stringify(e));
  const bad = ['{"ts": "soon"}', 'not json', JSON.stringify({ ...sim.events[10], side: 'X' }), JSON.stringify({ ...sim.events[11], qty: -5 })];
  const lines = [...good.slice(0, 1000), ...bad, ...good.slice(1000)];
  const { dead } = await run(lines);
  const d = dead.rows();
  assert.is(d.length, 4);
  assert.equal(d.map((r) => r.code).sort(), ['SLUICE_ERR_MALFORMED_JSON', 'SLUICE_ERR_SCHEMA', 'SLUICE_ERR_SCHEMA', 'SLUICE_ERR_SCHEMA']);
  assert.ok(d.every((r) => r.stage === 'parse' && r.reason.length > 0));
});

test.run();
