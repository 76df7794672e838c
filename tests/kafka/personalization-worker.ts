/**
 * A personalization process for the kill-and-replay test: behaviour events topic →
 * personalization topology (the trained MovieLens user encoder on one worker thread, over
 * a fixed synthetic catalogue loaded before the events start) → pushes topic; each user's
 * sequence state per partition in a changelog topic; checkpoints every 200 ms.
 * SIGTERM: stop (state saved, offsets committed); SIGKILL: crash. Prints 'ready' once its
 * SIGTERM handler is in place.
 *
 *   node dist/tests/kafka/personalization-worker.js BROKERS IN PUSHES DEAD GROUP
 * SLUICE_NO_CHANGELOG=1 restarts without the users' sequences (the negative control).
 */
import { DeadLetterSchema } from '../../src/operator.js';
import { Runtime } from '../../src/runtime.js';
import { kafkaChangelog } from '../../src/kafka/changelog.js';
import { deadLetterHeaders, kafkaSink } from '../../src/kafka/sink.js';
import { kafkaSource } from '../../src/kafka/source.js';
import type { RawSchema, SourceDef } from '../../src/io.js';
import { PushSchema, pushLine } from '../../apps/personalization/rank.js';
import { openRecommender, personalizationTopology } from '../../apps/personalization/topology.js';

const [brokers, input, pushes, dead, groupId] = process.argv.slice(2);
const conn = { brokers: brokers.split(',') };
const GENRES = ['Action', 'Comedy', 'Drama', 'Horror', 'Romance', 'Sci-Fi', 'Thriller', 'Animation'];

const rec = await openRecommender({ family: 'movielens', pool: { workers: 1, warmup: [1, 8] } });
const extra = rec.catalogue.items.model.manifest.features.extra;
await rec.catalogue.upsert(Array.from({ length: 300 }, (_, k) => {
  const g = GENRES[(k + 1) % GENRES.length];
  return { itemId: String(k + 1), text: `Film number ${k + 1} | ${g}`, tags: [g], vector: extra.map((f) => (f === `genre=${g}` ? 1 : 0)) };
}));
// the engine takes a few thousand events in well under one checkpoint interval; the replay
// test slows its reads (SLUICE_TEST_READ_DELAY_MS before each read of at most 16 records) so
// its kills land mid-stream, with checkpoints in between
const events = kafkaSource({ ...conn, topics: [input], groupId, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 });
const delayMs = Number(process.env.SLUICE_TEST_READ_DELAY_MS ?? 0);
const slowed: SourceDef<RawSchema> = delayMs > 0 ? {
  ...events,
  async open(ctx) {
    const reader = await events.open(ctx);
    const read = async (max: number) => { await new Promise((r) => setTimeout(r, delayMs)); return reader.read(Math.min(max, 16)); };
    // a proxy, not a copy: the reader's methods use its private fields
    return new Proxy(reader, { get: (t, k) => (k === 'read' ? read : typeof (t as never)[k] === 'function' ? ((t as never)[k] as (...a: unknown[]) => unknown).bind(t) : (t as never)[k]) });
  },
} : events;
const topology = personalizationTopology({
  events: slowed,
  recommender: rec,
  pushes: kafkaSink(PushSchema, { ...conn, topic: pushes, key: (b, i) => b.columns.userId[i], serialize: pushLine }),
  deadLetters: kafkaSink(DeadLetterSchema, { ...conn, topic: dead, key: () => null, headers: deadLetterHeaders }),
});
const store = process.env.SLUICE_NO_CHANGELOG ? {} : { stateStore: kafkaChangelog({ ...conn, topic: `${groupId}-changelog` }) };
const rt = new Runtime(topology, { checkpointIntervalMs: 200, ...store });
process.once('SIGTERM', () => rt.stop({ drain: false }));
process.stdout.write('ready\n');
rt.run().then(async () => { await rec.close(); process.exit(0); }, (e) => { process.stderr.write(`personalization worker: ${(e as Error).stack}\n`); process.exit(1); });
