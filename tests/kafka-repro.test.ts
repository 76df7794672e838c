/**
 * Issue #15 on a real broker, through the CLI as a user runs it: one far-future record on a
 * one-partition topic steers nothing (../shared/repro/k-poison*.jsonl); every hostile record —
 * tombstones, null keys and values, empty values, binary, malformed, schema-breaking — is one dead
 * letter with its original bytes (k-hostile.jsonl); 3,000 participant×symbol keys on one partition
 * checkpoint and commit (k-many.jsonl); a missing output topic or an unreachable broker fails at
 * start, naming it, instead of hanging. The inputs are built here the way the repro files are.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kafka, logLevel, Partitioners, type IHeaders } from 'kafkajs';
import { createTopics, readTopic, testBrokers, topicName } from './kafka/broker.js';

const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'dist/bin/sluice.js');
const MON_0930 = 1_795_444_200_000_000;

function order(i: number, ts: number, keys = 40) {
  return { ts, venue: 'XLIT', symbol: `S${i % keys}`, orderId: `O${i}`, participant: `P${Math.floor(i / keys) % 75}`, side: i % 2 ? 'B' : 'S', type: 'NEW', orderType: 'LIMIT', price: 100.5 + (i % 5) * 0.01, qty: 100, displayQty: 100 };
}

interface Rec { key: string | null; value: Buffer | null; headers?: IHeaders }

async function produce(brokers: string[], topic: string, records: Rec[]): Promise<void> {
  const p = new Kafka({ brokers, clientId: 'repro-producer', logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  for (let i = 0; i < records.length; i += 500) await p.send({ topic, messages: records.slice(i, i + 500).map((r) => ({ key: r.key, value: r.value, headers: r.headers })) });
  await p.disconnect();
}

/** the group's committed offsets on a topic, summed over partitions */
async function committed(brokers: string[], group: string, topic: string): Promise<number> {
  const admin = new Kafka({ brokers, clientId: 'repro-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const offs = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return offs[0].partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  } finally { await admin.disconnect(); }
}

async function topicSize(brokers: string[], topic: string): Promise<number> {
  const admin = new Kafka({ brokers, clientId: 'repro-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try { return (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high) - Number(p.low), 0); } finally { await admin.disconnect(); }
}

interface Job { child: ChildProcess; out: () => string; exited: Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }> }
const live = new Set<ChildProcess>();
// a failed assertion must not leave a job running (it would hold the test process open)
test.after.each(() => { for (const c of live) c.kill('SIGKILL'); });
function sluice(args: string[]): Job {
  const child = spawn(process.execPath, [cli, ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KAFKA_BROKERS: '' } });
  let text = '';
  child.stdout!.on('data', (d) => { text += d; });
  child.stderr!.on('data', (d) => { text += d; });
  const exited = new Promise<{ code: number | null; signal: NodeJS.Signals | null; at: number }>((r) => child.on('exit', (code, signal) => r({ code, signal, at: Date.now() })));
  // a last resort only (a job wedged for good): each test's own waits time out first, and after.each kills what is left
  const guard = setTimeout(() => child.kill('SIGKILL'), 900_000);
  live.add(child);
  void exited.then(() => { clearTimeout(guard); live.delete(child); });
  return { child, out: () => text, exited };
}

async function until(what: string, pred: () => Promise<boolean>, timeoutMs: number, job?: Job): Promise<void> {
  const t0 = Date.now();
  while (!(await pred())) {
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}${job ? `; sluice said:\n${job.out().slice(-3000)}` : ''}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** runs surveillance on `input` until the group has committed `n` offsets, then SIGINT; returns its exit */
async function surveilTopic(brokers: string[], input: string, n: number, extra: string[] = []) {
  const group = topicName('g-repro');
  const out = topicName('alerts'), dead = topicName('dead');
  const job = sluice(['run', 'surveillance', '--brokers', brokers.join(','), '--input-topic', input, '--output-topic', out, '--dead-letter-topic', dead, '--group-id', group, '--create-topics', ...extra]);
  await until(`${n} committed offsets`, async () => (await committed(brokers, group, input)) >= n, 180_000, job);
  job.child.kill('SIGINT');
  const e = await job.exited;
  return { ...e, group, out, dead, text: job.out() };
}

test('poison: one invalid and one valid record 250 years ahead, then 2,000 valid: only the two are dead-lettered', async () => {
  const brokers = await testBrokers();
  const input = topicName('poison');
  await createTopics(brokers, [{ topic: input, numPartitions: 1 }]);
  const invalid = { ...order(0, 9e15), venue: undefined };
  const recs: Rec[] = [invalid, order(1, 9e15), ...Array.from({ length: 2000 }, (_, i) => order(2 + i, MON_0930 + i * 1000))].map((o) => ({ key: o.symbol, value: Buffer.from(JSON.stringify(o)) }));
  await produce(brokers, input, recs);
  const r = await surveilTopic(brokers, input, recs.length);
  assert.is(r.code, 0, r.text);
  const dl = await readTopic(brokers, r.dead, 3, 8000);
  assert.equal(dl.map((d) => d.headers['sluice-error-code']).sort(), ['SLUICE_ERR_EVENT_TIME', 'SLUICE_ERR_SCHEMA'], r.text);
});

test('hostile: every tombstone, null, empty, binary, malformed and schema-breaking record is one dead letter with its original bytes', async () => {
  const brokers = await testBrokers();
  const input = topicName('hostile');
  await createTopics(brokers, [{ topic: input, numPartitions: 3 }]);
  const recs: (Rec & { hostile?: string })[] = [];
  let v = 0;
  const valid = () => { const o = order(v, MON_0930 + v * 1000); v++; return { key: o.symbol, value: Buffer.from(JSON.stringify(o)) }; };
  const kinds: [string, number, (i: number) => Rec][] = [
    ['tombstone', 100, (i) => ({ key: `S${i % 40}`, value: null })],
    ['null-key-null-value', 50, () => ({ key: null, value: null })],
    ['empty', 50, (i) => ({ key: `S${i % 40}`, value: Buffer.alloc(0) })],
    ['binary', 100, (i) => ({ key: `S${i % 40}`, value: Buffer.from([0xff, 0xfe, 0x00, i & 0xff, 0xc3, 0x28, 0x80]) })],
    ['malformed', 100, (i) => ({ key: `S${i % 40}`, value: Buffer.from(`{"ts":${MON_0930},"symbol":"S${i}"`) })],
    ['schema', 100, (i) => ({ key: `S${i % 40}`, value: Buffer.from(JSON.stringify({ ...order(i, MON_0930), side: 'SIDEWAYS' })), headers: { trace: `t${i}` } })],
    ['non-finite', 50, (i) => ({ key: `S${i % 40}`, value: Buffer.from(`{"ts":${MON_0930},"venue":"XLIT","symbol":"S1","orderId":"X${i}","participant":"P1","side":"B","type":"NEW","orderType":"LIMIT","price":1e999,"qty":100,"displayQty":100}`) })],
    ['whitespace', 50, () => ({ key: 'S1', value: Buffer.from('   \n ') })],
  ];
  for (let i = 0; i < 2000; i++) recs.push(valid());
  let hostile = 0;
  for (const [name, n, make] of kinds) for (let i = 0; i < n; i++) { recs.splice(37 * (hostile + 1) % recs.length, 0, { ...make(i), hostile: name }); hostile++; }
  await produce(brokers, input, recs);
  const r = await surveilTopic(brokers, input, recs.length);
  assert.is(r.code, 0, r.text);
  const dl = await readTopic(brokers, r.dead, hostile + 1, 10_000);
  assert.is(dl.length, hostile, `exactly ${hostile} dead letters for ${hostile} hostile records (got ${dl.length})`);
  // each dead letter names its source record, and the bytes it carries are the record's own
  const byOffset = new Map<string, Buffer | null>();
  const admin = new Kafka({ brokers, clientId: 'repro-read', logLevel: logLevel.NOTHING }).consumer({ groupId: topicName('raw') });
  await admin.connect();
  await admin.subscribe({ topic: input, fromBeginning: true });
  await new Promise<void>((resolve) => { void admin.run({ eachMessage: async ({ partition, message }) => { byOffset.set(`${partition}@${message.offset}`, message.value); if (byOffset.size === recs.length) resolve(); } }); });
  await admin.disconnect();
  let exact = 0;
  for (const d of dl) {
    const at = `${d.headers['sluice-source-partition']}@${d.headers['sluice-source-offset']}`;
    assert.ok(byOffset.has(at), `dead letter points at ${at}`);
    const original = byOffset.get(at) ?? Buffer.alloc(0);
    const body = JSON.parse(d.value) as { payload: string; payloadEncoding: string };
    const bytes = body.payloadEncoding === 'base64' ? Buffer.from(body.payload, 'base64') : Buffer.from(body.payload, 'utf8');
    if (bytes.equals(original)) exact++;
  }
  assert.is(exact, hostile, 'every dead letter carries its record\'s original bytes');
});

test('3,000 participant×symbol keys on one partition: checkpoints, commits, a per-key changelog, a clean stop', async () => {
  const brokers = await testBrokers();
  const input = topicName('many');
  await createTopics(brokers, [{ topic: input, numPartitions: 1 }]);
  const recs: Rec[] = Array.from({ length: 6000 }, (_, i) => { const o = { ...order(i, MON_0930 + i * 1000), symbol: `S${i % 100}`, participant: `P${Math.floor(i / 100) % 30}` }; return { key: o.symbol, value: Buffer.from(JSON.stringify(o)) }; });
  await produce(brokers, input, recs);
  const r = await surveilTopic(brokers, input, recs.length);
  assert.is(r.code, 0, r.text);
  assert.not.match(r.text, /fatal|larger than the max message size/);
  const changelog = await topicSize(brokers, `${r.group}-changelog`);
  assert.ok(changelog > 3000, `the changelog holds one record per key (got ${changelog})`);
});

test('a missing output topic, or an unreachable broker, fails at start with one typed line', async () => {
  const brokers = await testBrokers();
  const input = topicName('in');
  await createTopics(brokers, [{ topic: input, numPartitions: 1 }]);
  const t0 = Date.now();
  const m = sluice(['run', 'surveillance', '--brokers', brokers.join(','), '--input-topic', input, '--output-topic', 'no-such-alerts', '--group-id', topicName('g')]);
  const me = await m.exited;
  assert.is(me.code, 2, m.out());
  assert.match(m.out(), /SLUICE_ERR_TOPIC_MISSING.*no-such-alerts/);
  assert.match(m.out(), /--create-topics/);
  assert.ok(me.at - t0 < 30_000);
  const t1 = Date.now();
  const u = sluice(['run', 'demo', '--brokers', '127.0.0.1:1', '--input-topic', input, '--group-id', topicName('g')]);
  const ue = await u.exited;
  assert.is(ue.code, 1, u.out());
  assert.match(u.out(), /SLUICE_ERR_KAFKA_UNREACHABLE/);
  assert.ok(ue.at - t1 < 40_000, `gave up after ${ue.at - t1} ms`);
  assert.ok(u.out().trim().split('\n').length <= 3, u.out());
});

test.run();
