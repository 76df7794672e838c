/**
 * Large keyed state on Kafka (issue #15), on each installed client: surveillance with 3,000
 * participant×symbol keys on each of two partitions (over 10 MiB of state per partition in
 * the changelog, one record per key) checkpoints and commits; a second process joins the
 * group (a rebalance: partitions and their state move); a restarted process restores the
 * state it did not see again. No fatal error, every offset committed, every exit 0.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { createRequire } from 'node:module';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { createTopics, readTopic, testBrokers, topicName } from './kafka/broker.js';

const root = new URL('../../', import.meta.url).pathname;
const T0 = 1_795_444_200_000_000;
const confluentInstalled = (() => { try { createRequire(import.meta.url)('@confluentinc/kafka-javascript'); return true; } catch { return false; } })();
const transports = [...(confluentInstalled ? ['kafkajs', 'confluent'] : ['kafkajs']), 'platformatic'];
if (!confluentInstalled) process.stdout.write('\n  note: @confluentinc/kafka-javascript is not installed; large-state tests run on kafkajs only\n');

/** `n` orders over `symbols` symbols × `participants` participants, from event time `t0` */
function orders(n: number, t0: number, symbols: number, participants: number, seq0 = 0) {
  return Array.from({ length: n }, (_, j) => {
    const i = seq0 + j;
    const o = { ts: t0 + j * 1000, venue: 'XLIT', symbol: `S${i % symbols}`, orderId: `O${i}`, participant: `P${Math.floor(i / symbols) % participants}`, side: i % 2 ? 'B' : 'S', type: i % 3 === 2 ? 'CANCEL' : 'NEW', orderType: 'LIMIT', price: 100 + (i % 7) * 0.01, qty: 100 + (i % 13), displayQty: 100 };
    return { key: o.symbol, value: JSON.stringify(o) };
  });
}

async function produce(brokers: string[], topic: string, msgs: { key: string; value: string }[]) {
  const p = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  for (let i = 0; i < msgs.length; i += 1000) await p.send({ topic, messages: msgs.slice(i, i + 1000) });
  await p.disconnect();
}

async function committed(brokers: string[], group: string, topic: string): Promise<number> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try { const [c] = await admin.fetchOffsets({ groupId: group, topics: [topic] }); return c.partitions.reduce((s, p) => s + Math.max(0, Number(p.offset)), 0); } finally { await admin.disconnect(); }
}

interface Job { child: ChildProcess; text: () => string; exit: Promise<number | null> }
const live = new Set<ChildProcess>();
// a failed assertion must not leave a job running (it would hold the test process open)
test.after.each(() => { for (const c of live) c.kill('SIGKILL'); });
function sluice(args: string[]): Job {
  const child = spawn(process.execPath, [join(root, 'dist/bin/sluice.js'), ...args], { cwd: root, stdio: ['ignore', 'pipe', 'pipe'], env: { ...process.env, KAFKA_BROKERS: '' } });
  let text = '';
  child.stdout!.on('data', (d) => { text += d; });
  child.stderr!.on('data', (d) => { text += d; });
  // a last resort only (a job wedged for good): each test's own waits time out first, and after.each kills what is left
  const guard = setTimeout(() => child.kill('SIGKILL'), 900_000);
  live.add(child);
  return { child, text: () => text, exit: new Promise((r) => child.on('exit', (c) => { clearTimeout(guard); live.delete(child); r(c); })) };
}

async function until(what: string, pred: () => Promise<boolean>, jobs: Job[], timeoutMs = 180_000) {
  const t0 = Date.now();
  while (!(await pred())) {
    for (const j of jobs) if (j.child.exitCode !== null) throw new Error(`sluice exited ${j.child.exitCode} while waiting for ${what}:\n${j.text().slice(-3000)}`);
    if (Date.now() - t0 > timeoutMs) throw new Error(`timed out waiting for ${what}:\n${jobs.map((j) => j.text().slice(-1500)).join('\n---\n')}`);
    await new Promise((r) => setTimeout(r, 500));
  }
}

/** live changelog bytes per source partition (the last value of each record key, tombstones removed) */
async function changelogBytes(brokers: string[], topic: string): Promise<Map<string, number>> {
  const last = new Map<string, number>();
  for (const r of await readTopic(brokers, topic, 1e9, 5_000)) {
    if (r.value === '') last.delete(r.key!); else last.set(r.key!, Buffer.byteLength(r.key!) + Buffer.byteLength(r.value));
  }
  const per = new Map<string, number>();
  for (const [k, n] of last) { const part = decodeURIComponent(k.split('|')[0]); per.set(part, (per.get(part) ?? 0) + n); }
  return per;
}

const keysHeld = (text: string) => Number(/keyed state\s+([\d.]+k?) keys at 'detector'/.exec(text)?.[1]?.replace(/k$/, '') ?? NaN) * (/keyed state\s+[\d.]+k keys at 'detector'/.test(text) ? 1000 : 1);

// ONLY_TRANSPORT=kafkajs|confluent runs one (debugging)
for (const transport of (process.env.ONLY_TRANSPORT ? [process.env.ONLY_TRANSPORT] : transports)) {
  test(`${transport}: over 10 MiB of keyed state per partition checkpoints, moves in a rebalance and is restored after a restart`, async () => {
    const brokers = await testBrokers();
    const input = topicName('bigstate'), group = topicName('g-bigstate');
    await createTopics(brokers, [{ topic: input, numPartitions: 2 }]);
    // symbols S0..S79 split over the two partitions by the murmur2 key hash; 100 participants: 8,000 keys, 16 events each
    const first = orders(128_000, T0, 80, 100);
    await produce(brokers, input, first);
    const args = ['run', 'surveillance', '--brokers', brokers.join(','), '--transport', transport, '--input-topic', input, '--output-topic', topicName('alerts'), '--dead-letter-topic', topicName('dead'), '--create-topics', '--group-id', group];
    const a = sluice(args);
    await until('the first 128,000 offsets committed', async () => (await committed(brokers, group, input)) >= first.length, [a]);
    const bytes = await changelogBytes(brokers, `${group}-changelog`);
    const parts = [...bytes].filter(([p]) => p.startsWith(input));
    assert.is(parts.length, 2, `state for both partitions: ${[...bytes.keys()].join(', ')}`);
    for (const [p, n] of parts) assert.ok(n > 10 * 2 ** 20, `${p}: ${(n / 2 ** 20).toFixed(1)} MiB of state`);
    // a second process joins: the partitions are shared out, state loaded by the new owner
    const b = sluice(args);
    await new Promise((r) => setTimeout(r, 8000));
    const second = orders(8000, T0 + 130_000 * 1000, 80, 100, 128_000);
    await produce(brokers, input, second);
    await until('every offset committed after the rebalance', async () => (await committed(brokers, group, input)) >= first.length + second.length, [a, b]);
    a.child.kill('SIGINT'); b.child.kill('SIGINT');
    assert.is(await a.exit, 0, a.text());
    assert.is(await b.exit, 0, b.text());
    for (const j of [a, b]) assert.not.match(j.text(), /fatal|too large|larger than the max/i);
    // a restart: a few records for a few keys; the process holds the state of every key it restored
    const c = sluice(args);
    await produce(brokers, input, orders(80, T0 + 140_000 * 1000, 80, 1, 136_000));
    await until('the restart committed the new records', async () => (await committed(brokers, group, input)) >= first.length + second.length + 80, [c]);
    c.child.kill('SIGINT');
    assert.is(await c.exit, 0, c.text());
    const held = keysHeld(c.text());
    assert.ok(held > 7000, `the restarted process holds the restored keys (${held}), not only the 80 it saw:\n${c.text().slice(-2500)}`);
    process.stdout.write(`  ${transport} large state: ${parts.map(([p, n]) => `${p.split('/').pop()} ${(n / 2 ** 20).toFixed(1)} MiB`).join(', ')}; rebalance and restart exit 0; ${held} keys restored\n`);
  });
}

test.run();
