/**
 * The README's Kafka walkthrough, as written (issue #15): a broker from scripts/kafka.sh,
 * `seed-orders --events 200000`, then `run demo` and `run surveillance` on Kafka, each
 * stopped by SIGINT once its group has committed every input offset: exit 0, outputs
 * there, no dead letters. Then surveillance again in a fresh group, SIGKILLed midway and
 * restarted: the same set of alerts as the straight run (at-least-once may repeat an
 * alert, never add one).
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kafka, logLevel } from 'kafkajs';
import { readTopic, testBrokers, topicName } from './kafka/broker.js';

const root = new URL('../../', import.meta.url).pathname;
const node = (script: string, args: string[]) => spawn(process.execPath, [join(root, script), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KAFKA_BROKERS: '' } });
const EVENTS = 200_000;
let brokers: string[] = [];
let input = '';

async function offsets(group: string | null, topic: string): Promise<number> {
  const admin = new Kafka({ brokers, clientId: 'walkthrough-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    if (group === null) return (await admin.fetchTopicOffsets(topic)).reduce((s, p) => s + Number(p.high), 0);
    const [c] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    return c.partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0);
  } finally { await admin.disconnect(); }
}

interface Job { child: ChildProcess; text: () => string; exit: Promise<number | null> }
const live = new Set<ChildProcess>();
// a failed assertion must not leave a job running (it would hold the test process open)
test.after.each(() => { for (const c of live) c.kill('SIGKILL'); });
function job(args: string[]): Job {
  const child = node('dist/bin/sluice.js', args);
  let text = '';
  child.stdout!.on('data', (d) => { text += d; });
  child.stderr!.on('data', (d) => { text += d; });
  // a last resort only (a job wedged for good): each test's own waits time out first, and after.each kills what is left
  const guard = setTimeout(() => child.kill('SIGKILL'), 900_000);
  live.add(child);
  const exit = new Promise<number | null>((r) => child.on('exit', (code) => { clearTimeout(guard); live.delete(child); r(code); }));
  return { child, text: () => text, exit };
}

async function untilCommitted(group: string, n: number, j: Job, timeoutMs = 240_000): Promise<void> {
  const t0 = Date.now();
  for (;;) {
    if (await offsets(group, input) >= n) return;
    if (j.child.exitCode !== null) throw new Error(`sluice exited ${j.child.exitCode} early:\n${j.text().slice(-3000)}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`${group} did not commit ${n} offsets:\n${j.text().slice(-3000)}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

const alertSet = (rows: { value: string }[]) => rows.map((r) => { const o = JSON.parse(r.value) as Record<string, unknown>; delete o.emittedAt; return JSON.stringify(o); });

test('seed 200,000 events; run demo on Kafka; SIGINT: every offset committed, windows out, exit 0', async () => {
  brokers = await testBrokers();
  input = topicName('orders');
  const seed = spawnSync(process.execPath, [join(root, 'dist/scripts/seed-orders.js'), '--brokers', brokers.join(','), '--topic', input, '--events', String(EVENTS)], { cwd: root, encoding: 'utf8' });
  assert.is(seed.status, 0, seed.stderr);
  assert.match(seed.stdout, /seeded 200000 order events/);
  const total = await offsets(null, input);
  assert.is(total, EVENTS);
  const group = topicName('sluice-demo');
  const demo = job(['run', 'demo', '--brokers', brokers.join(','), '--input-topic', input, '--output-topic', 'demo-out', '--dead-letter-topic', 'demo-dead-letters', '--group-id', group]);
  await untilCommitted(group, total, demo);
  demo.child.kill('SIGINT');
  assert.is(await demo.exit, 0, demo.text());
  assert.match(demo.text(), /stopped\s+by signal/);
  assert.ok(await offsets(null, 'demo-out') > 0, 'windows written to demo-out');
});

let straight: string[] = [];

test('run surveillance on the same topic; SIGINT: every offset committed, exit 0, no dead letters', async () => {
  const group = topicName('sluice-surveillance');
  const out = topicName('alerts'), dead = topicName('dead');
  const s = job(['run', 'surveillance', '--brokers', brokers.join(','), '--input-topic', input, '--output-topic', out, '--dead-letter-topic', dead, '--create-topics', '--group-id', group]);
  await untilCommitted(group, EVENTS, s);
  s.child.kill('SIGINT');
  assert.is(await s.exit, 0, s.text());
  assert.is(await offsets(null, dead), 0, 'the seeded flow is all valid');
  straight = alertSet(await readTopic(brokers, out, 1e9, 3000));
  assert.ok(straight.length > 0, 'the seeded flow raises alerts');
  assert.equal(new Set(straight).size, straight.length, 'a straight run repeats no alert');
});

test('surveillance SIGKILLed midway and restarted: the same alerts as the straight run, no new ones', async () => {
  const group = topicName('sluice-surveillance-killed');
  const out = topicName('alerts-killed'), dead = topicName('dead-killed');
  const args = ['run', 'surveillance', '--brokers', brokers.join(','), '--input-topic', input, '--output-topic', out, '--dead-letter-topic', dead, '--create-topics', '--group-id', group];
  const first = job(args);
  await untilCommitted(group, Math.round(EVENTS * 0.4), first);
  first.child.kill('SIGKILL');
  await first.exit;
  const committedAtKill = await offsets(group, input);
  const second = job(args);
  await untilCommitted(group, EVENTS, second);
  second.child.kill('SIGINT');
  assert.is(await second.exit, 0, second.text());
  const killed = alertSet(await readTopic(brokers, out, 1e9, 3000));
  const want = new Set(straight), got = new Set(killed);
  const extra = [...got].filter((a) => !want.has(a)), missing = [...want].filter((a) => !got.has(a));
  assert.equal(extra, [], `alerts the straight run did not raise: ${extra.slice(0, 2).join(' | ')}`);
  assert.equal(missing, [], `alerts lost: ${missing.slice(0, 2).join(' | ')}`);
  process.stdout.write(`\n  walkthrough: ${want.size} alerts; SIGKILL at ${committedAtKill} of ${EVENTS} committed; restart gave the same set, ${killed.length - got.size} repeated\n`);
});

test.run();
