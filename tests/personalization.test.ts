/**
 * The personalization topology end to end on the embedded runtime with the trained
 * MovieLens models on real worker pools (user encoder, item tower, text encoder), over a
 * synthetic catalogue (MovieLens itself may not be redistributed, so tests never read
 * it): pushes follow the contract, never repeat consumed items and say why; new catalogue
 * items are recommendable at once from content; filters hold; the profile moves cold-start
 * pushes; bad records of every input become dead letters while the job keeps running.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { batchOf } from '../src/batch.js';
import { BehaviorSchema, contractValidator } from '../src/contracts.js';
import { RawSchema } from '../src/io.js';
import type { DeadLetterSchema } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { WordPieceTokenizer } from '../apps/personalization/tokenizer.js';
import { PushFeedback, registerPushFeedbackMetrics } from '../apps/personalization/feedback.js';
import { Registry } from 'prom-client';
import { SluiceMetrics } from '../src/metrics.js';
import { VectorTable } from '../apps/personalization/vector-table.js';
import { pushJson, type PushSchema } from '../apps/personalization/rank.js';
import { UserSequenceEncoder, actionCode, valueFeature } from '../apps/personalization/user-sequence.js';
import { openRecommender, personalizationTopology, type Recommender, type PersonalizationOptions } from '../apps/personalization/topology.js';

const GENRES = ['Action', 'Comedy', 'Drama', 'Horror', 'Romance', 'Sci-Fi', 'Thriller', 'Animation'];
let rec: Recommender;

function catalogueItem(id: number, extraNames: string[]) {
  const g = GENRES[id % GENRES.length];
  const vector = extraNames.map((f) => (f === `genre=${g}` ? 1 : f === 'releaseYear' ? 0.9 + (id % 10) / 100 : 0));
  return { itemId: String(id), text: `Film number ${id} (19${90 + (id % 10)}) | ${g}`, vector, tags: [g] };
}

test.before(async () => {
  rec = await openRecommender({ family: 'movielens', pool: { workers: 1, warmup: [1, 8] } });
  const extra = rec.catalogue.items.model.manifest.features.extra;
  await rec.catalogue.upsert(Array.from({ length: 300 }, (_, k) => catalogueItem(k + 1, extra)));
});
test.after(async () => { await rec?.close(); });

const raw = (lines: string[]) => lines.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }));
const ev = (userId: string, itemId: string, ts: number, action = 'rate', value = 4) => JSON.stringify({ ts, userId, itemId, action, value });

async function run(events: string[], more: Partial<PersonalizationOptions> = {}) {
  const pushes = collectSink<PushSchema>(), dead = collectSink<DeadLetterSchema>();
  await new Runtime(personalizationTopology({ events: memorySource(RawSchema, [raw(events)], { batchSize: 64 }), recommender: rec, pushes, deadLetters: dead, ...more })).run();
  return { pushes: pushes.rows(), dead: dead.rows() };
}

function history(users: number, perUser: number): string[] {
  const out: string[] = [];
  for (let k = 0; k < perUser; k++) for (let u = 1; u <= users; u++) out.push(ev(`u${u}`, String(1 + ((u * 37 + k * 11) % 300)), 1e15 + (k * users + u) * 60e6));
  return out;
}

test('tokenizer: token for token what BertTokenizer gives', () => {
  const golden = JSON.parse(readFileSync(new URL('../../tests/fixtures/tokenizer-golden.json', import.meta.url), 'utf8')) as { tokens: number; cases: { text: string; ids: number[] }[] };
  const tok = new WordPieceTokenizer(new URL('../../models/text-encoder/vocab.txt', import.meta.url).pathname, golden.tokens);
  assert.ok(golden.cases.length >= 10);
  for (const c of golden.cases) assert.equal(tok.encode(c.text).ids, c.ids, c.text);
});

test('vector table: SIMD inner products equal the plain loop, before and after growing', () => {
  const t = new VectorTable(8, 4);
  assert.ok(t.simd, 'WASM SIMD kernel loaded');
  const fill = (n: number) => { for (let i = 0; i < n * 8; i++) t.rows[i] = ((i * 7919) % 13) - 6; };
  fill(4);
  const before = Array.from(t.rows.subarray(0, 32));
  t.ensure(100);
  assert.equal(Array.from(t.rows.subarray(0, 32)), before, 'rows kept across growth');
  fill(100);
  const u = Float32Array.from({ length: 8 }, (_, j) => j - 3.5);
  const got = Array.from(t.innerProducts(u, 100).subarray(1, 100));
  const want = Array.from({ length: 99 }, (_, k) => { let a = 0; for (let j = 0; j < 8; j++) a += u[j] * t.rows[(k + 1) * 8 + j]; return a; });
  assert.equal(got, want);
});

test('text encoder: the engine (TypeScript tokenizer + worker pool) gives the embedding Python gives', async () => {
  const golden = JSON.parse(readFileSync(new URL('../../tests/fixtures/tokenizer-golden.json', import.meta.url), 'utf8')) as { embedding_of_first: number[]; cases: { text: string }[] };
  const text = rec.catalogue.text!, tok = rec.catalogue.tokenizer!;
  const e = tok.encode(golden.cases[0].text);
  const r = await text.run({ ids: { data: Float32Array.from(e.ids), dims: [1, 32] }, mask: { data: Float32Array.from(e.mask), dims: [1, 32] } });
  const a = r.outputs.embedding.data as Float32Array, b = golden.embedding_of_first;
  let dot = 0, na = 0, nb = 0;
  for (let i = 0; i < b.length; i++) { dot += a[i] * b[i]; na += a[i] * a[i]; nb += b[i] * b[i]; }
  assert.ok(dot / Math.sqrt(na * nb) > 0.9999, `cosine ${dot / Math.sqrt(na * nb)}`);
});

test('features match the trainer: action codes and values', () => {
  assert.is(actionCode('impression'), 1);
  assert.is(actionCode('purchase'), 9);
  assert.is(valueFeature('rate', 4), 0.8);
  assert.is(valueFeature('view', 1.7), 1);
  assert.is(valueFeature('click', 3), 0);
  assert.is(valueFeature('rate', NaN), 0);
});

test('pushes: one per event, contract-valid, ten unseen items each with a reason', async () => {
  const events = history(6, 8);
  const { pushes, dead } = await run(events);
  assert.is(dead.length, 0);
  assert.is(pushes.length, events.length);
  const valid = contractValidator('push');
  const seen = new Map<string, Set<string>>();
  const byUser = new Map<string, number>();
  for (const e of events.map((l) => JSON.parse(l) as { userId: string; itemId: string; ts: number })) {
    const s = seen.get(e.userId) ?? new Set(); s.add(e.itemId); seen.set(e.userId, s);
    const k = byUser.get(e.userId) ?? 0; byUser.set(e.userId, k + 1);
    const p = pushes.filter((r) => r.userId === e.userId)[k];
    const j = JSON.parse(pushJson(p)) as { ts: number; items: { itemId: string; score: number; reason: string }[]; modelVersion: string };
    assert.ok(valid(j), JSON.stringify(valid.errors));
    assert.is(j.ts, e.ts);
    assert.is(j.items.length, 10);
    assert.is(j.modelVersion, rec.slot.version);
    for (const it of j.items) {
      assert.not.ok(s.has(it.itemId), `pushed ${it.itemId}, which ${e.userId} already consumed`);
      assert.ok(it.reason.length > 5 && it.reason.length < 120, it.reason);
    }
    for (let a = 1; a < j.items.length; a++) assert.ok(j.items[a - 1].score >= j.items[a].score, 'best first');
  }
  // reasons name items the user actually consumed
  const titles = pushes.flatMap((p) => (JSON.parse(p.items) as { reason: string }[]).map((i) => /“(.*)”/.exec(i.reason)?.[1])).filter(Boolean);
  assert.ok(titles.length > 0 && titles.every((t) => t!.startsWith('Film number ')));
});

test('a new catalogue item is recommendable at once, from content alone', async () => {
  const extra = rec.catalogue.items.model.manifest.features.extra;
  const fresh = { ...catalogueItem(3, extra), itemId: 'brand-new-1', tags: ['Premiere'] };
  const before = rec.catalogue.size;
  // the catalogue stream of one run, then events (a side input has no order against the events)
  const cat = await run([], { catalogue: memorySource(RawSchema, [raw([JSON.stringify(fresh)])]) });
  assert.is(cat.dead.length, 0);
  const filtered = await run(history(2, 1), { filter: { requireTags: ['Premiere'] } });
  const { pushes, dead } = await run(history(2, 3));
  assert.is(dead.length, 0);
  assert.is(rec.catalogue.size, before + 1);
  const row = rec.catalogue.rowOf('brand-new-1');
  assert.ok(row > 0 && !rec.catalogue.known('brand-new-1'));
  assert.ok(rec.catalogue.weights[row * 3] < 1e-6, 'no ID modality for an untrained item');
  assert.ok(Math.abs(rec.catalogue.weights[row * 3 + 1] + rec.catalogue.weights[row * 3 + 2] - 1) < 1e-4, 'text and vector carry it');
  // only the new item passes the filter: it is what gets pushed, with its reason
  assert.is(filtered.pushes.length, 2);
  for (const p of filtered.pushes) {
    const items = JSON.parse(p.items) as { itemId: string; reason: string }[];
    assert.equal(items.map((i) => i.itemId), ['brand-new-1']);
    assert.ok(items[0].reason.startsWith('new: '), items[0].reason);
  }
  // unfiltered, it competes on score: its content twin (item 3) and it score alike for every user
  const twin = rec.catalogue.rowOf('3');
  const d = rec.catalogue.d;
  let cos = 0, na = 0, nb = 0;
  for (let j = 0; j < d; j++) { const x = rec.catalogue.vectors[row * d + j], y = rec.catalogue.vectors[twin * d + j]; cos += x * y; na += x * x; nb += y * y; }
  assert.ok(cos / Math.sqrt(na * nb) > 0.3, `content-only vector points near its content twin (cos ${cos / Math.sqrt(na * nb)})`);
  assert.is(pushes.length, 6);
});

test('filters: excluded tags never pushed', async () => {
  const { pushes } = await run(history(3, 4), { filter: { excludeTags: ['Comedy', 'Drama'] } });
  assert.ok(pushes.length > 0);
  for (const p of pushes) for (const it of JSON.parse(p.items) as { itemId: string }[]) {
    const tags = rec.catalogue.tags[rec.catalogue.rowOf(it.itemId)] ?? [];
    assert.not.ok(tags.includes('Comedy') || tags.includes('Drama'), `${it.itemId} has ${tags.join(',')}`);
  }
});

test('cold start: with one event, the profile shapes the push', async () => {
  rec.profiles.put({ userId: 'young', age: 19, gender: 'F', occupation: 'student' });
  rec.profiles.put({ userId: 'old', age: 66, gender: 'M', occupation: 'retired' });
  const { pushes } = await run([ev('young', '42', 1e15), ev('old', '42', 1e15), ev('nobody', '42', 1e15)]);
  assert.is(pushes.length, 3);
  const lists = Object.fromEntries(pushes.map((p) => [p.userId, (JSON.parse(p.items) as { itemId: string; score: number }[])]));
  assert.not.equal(lists.young.map((i) => i.itemId), lists.old.map((i) => i.itemId), 'different profiles, same single event: different pushes');
  assert.not.equal(lists.young.map((i) => i.score), lists.nobody.map((i) => i.score));
});

test('bad input of every kind goes to dead letters with its reason; the job keeps running', async () => {
  const good = history(2, 3);
  const { pushes, dead } = await run([...good.slice(0, 3), '{"ts":1,"userId":"a"}', 'not json', ev('u1', '5', 1e15, 'teleport'), ...good.slice(3)], {
    catalogue: memorySource(RawSchema, [raw(['{"itemId":"x1","vector":[1,2]}', '{"text":"no id"}', '[]'])]),
    profiles: memorySource(RawSchema, [raw(['{"userId":"p1","age":"old"}', '{"userId":"p2","age":30}'])]),
  });
  assert.is(pushes.length, good.length);
  const byStage = (s: string) => dead.filter((d) => d.stage === s).map((d) => d.code).sort();
  assert.equal(byStage('parse'), ['SLUICE_ERR_MALFORMED_JSON', 'SLUICE_ERR_SCHEMA', 'SLUICE_ERR_SCHEMA']);
  assert.equal(byStage('parse-catalogue'), ['SLUICE_ERR_SCHEMA', 'SLUICE_ERR_SCHEMA', 'SLUICE_ERR_SCHEMA']);
  assert.ok(dead.some((d) => d.reason.includes("'vector' has 2 values")));
  assert.equal(byStage('parse-profiles'), ['SLUICE_ERR_SCHEMA']);
  assert.is(rec.profiles.get('p2')?.age, 30);
});

test('user sequence state: snapshot and restore give the same model input', () => {
  const m = rec.slot.live.model.manifest;
  const a = new UserSequenceEncoder(m, rec.catalogue, rec.profiles);
  const rows = Array.from({ length: 40 }, (_, k) => ({ ts: 1e15 + k * 1e6, userId: `s${k % 3}`, itemId: String(1 + k), action: k % 2 ? 'view' : 'rate', value: k % 2 ? 0.5 : 3 }));
  const batch = batchOf(BehaviorSchema, rows);
  const dst = () => a.widths.map((w) => new Float32Array(w));
  for (let i = 0; i < 39; i++) a.encode(batch, i, dst(), 0);
  const b = new UserSequenceEncoder(m, rec.catalogue, rec.profiles);
  b.restore(JSON.parse(JSON.stringify(a.snapshot())));
  const da = dst(), db = dst();
  a.encode(batch, 39, da, 0); b.encode(batch, 39, db, 0);
  for (let k = 0; k < da.length; k++) assert.equal(Array.from(da[k]), Array.from(db[k]));
  assert.ok(da[1].some((x) => x > 0), 'events encoded');
  assert.ok(a.history('s0').length === Math.min(a.length, 14));
});

test('feedback on pushes: clicks on pushed items counted per model, with their rank', async () => {
  const stats = new PushFeedback();
  const events = history(2, 2);
  // the feedback arrives after the pushes: run once for pushes, then feed clicks on what was pushed
  const first = await run(events, { feedbackStats: stats });
  const last = first.pushes.filter((p) => p.userId === 'u1').at(-1)!;
  const top = (JSON.parse(last.items) as { itemId: string }[]).map((i) => i.itemId);
  stats.recordFeedback('u1', top[0], 'impression');
  stats.recordFeedback('u1', top[2], 'click');
  stats.recordFeedback('u1', 'not-pushed', 'click');
  const c = stats.counts.get(rec.slot.version)!;
  assert.equal([c.impressions, c.clicks, c.clicksOnPushed], [1, 2, 1]);
  assert.is(stats.clickRanks[3], 1);
  assert.is(stats.clickThrough(rec.slot.version), 2);
  const registry = new Registry();
  registerPushFeedbackMetrics(registry, stats, 'personalization');
  // the engine's inference metrics saw this file's batches (SluiceMetrics listens to every pool)
  const engine = new SluiceMetrics('personalization');
  await run(history(2, 2));
  const inf = await engine.registry.metrics();
  assert.match(inf, new RegExp(`sluice_inference_compute_seconds_count\\{model="${rec.slot.version}"\\} [1-9]`));
  assert.match(inf, new RegExp(`sluice_inference_batch_rows_sum\\{model="${rec.slot.version}"\\} [1-9]`));
  assert.match(inf, /sluice_model_info\{model="movielens-user",version="\d+",provider="cpu"\} 1/);
  const text = await registry.metrics();
  assert.match(text, `sluice_push_clicks_on_pushed{topology="personalization",model="${rec.slot.version}"} 1`);
  assert.match(text, `sluice_push_impressions{topology="personalization",model="${rec.slot.version}"} 1`);
});

test('load shedding (off by default): stale events dropped before the model and counted; fresh ones pushed', async () => {
  const now = Date.now() * 1000;
  const stale = history(4, 6); // event times in 2001: far behind the clock
  const fresh = Array.from({ length: 24 }, (_, k) => ev(`f${k % 4}`, String(1 + ((k * 13) % 300)), now - 1_000_000 + k));
  const events = stale.flatMap((l, i) => [l, fresh[i]]);
  const pushes = collectSink<PushSchema>(), dead = collectSink<DeadLetterSchema>();
  const topology = personalizationTopology({ events: memorySource(RawSchema, [raw(events)], { batchSize: 16 }), recommender: rec, pushes, deadLetters: dead, shed: { maxAgeMs: 60_000 } });
  const rt = new Runtime(topology);
  const metrics = new SluiceMetrics(topology.name);
  metrics.attach(rt);
  const summary = await rt.run();
  assert.equal(pushes.rows().length, fresh.length, 'one push per fresh event');
  assert.ok(pushes.rows().every((p) => p.userId.startsWith('f')), 'no push for a shed event');
  assert.equal(dead.rows().length, 0, 'shedding is not an error');
  assert.equal(summary.dropped, [{ stage: 'shed', reason: 'shed', records: stale.length }]);
  assert.match(await metrics.registry.metrics(), `sluice_dropped_records_total{topology="personalization",stage="shed",reason="shed"} ${stale.length}`);
  assert.throws(() => personalizationTopology({ events: memorySource(RawSchema, [[]]), recommender: rec, pushes, deadLetters: dead, shed: { maxAgeMs: -1 } }), /maxAgeMs must be a positive number/);
});

test.run();
