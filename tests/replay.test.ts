/**
 * Kill and replay (issue #8): the same order flow through the surveillance topology once
 * straight through and once with the process SIGKILLed at random points several times
 * (restarted each time) gives the same alerts: at-least-once, the same set with the
 * replayed ones counted as duplicates. Keyed state (per-key event windows, rolling
 * statistics, adaptive thresholds, alert cooldowns) moves through the changelog topic
 * with the offsets it includes.
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { simulate } from '../src/sim/market.js';
import { rng } from '../src/demo/orderflow.js';
import { createTopics, readTopic, testBrokers, topicName } from './kafka/broker.js';

let brokers: string[] = [];
test.before(async () => { brokers = await testBrokers(); });

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const exited = (c: ChildProcess) => new Promise<number | null>((r) => (c.exitCode !== null || c.signalCode !== null ? r(c.exitCode) : c.once('exit', (code) => r(code))));


/** records of `topic` the group has committed, and the topic's size */
async function progress(group: string, topic: string): Promise<{ committed: number; total: number }> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  try {
    const ends = await admin.fetchTopicOffsets(topic);
    const [committed] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    const at = (p: number) => Math.max(0, Number(committed.partitions.find((x) => x.partition === p)?.offset ?? 0));
    return { committed: ends.reduce((n, e) => n + at(e.partition), 0), total: ends.reduce((n, e) => n + Number(e.high), 0) };
  } finally { await admin.disconnect(); }
}

/** one surveillance run over `input` in its own group, SIGKILLed once the group has committed each of `killAt` (fractions of the input) */
async function run(input: string, killAt: number[]): Promise<{ alerts: string[]; restarts: number }> {
  const [alerts, dead, group] = [topicName('rp-alerts'), topicName('rp-dead'), topicName('rp-group')];
  await createTopics(brokers, [{ topic: alerts, numPartitions: 1 }, { topic: dead, numPartitions: 1 }]);
  const start = () => spawn(process.execPath, [new URL('./kafka/surveillance-worker.js', import.meta.url).pathname, brokers.join(','), input, alerts, dead, group], { stdio: ['ignore', 'ignore', 'inherit'] });
  let restarts = 0;
  const deadline = Date.now() + 180_000;
  for (const f of killAt) {
    const w = start();
    for (;;) {
      const p = await progress(group, input);
      if (p.committed >= f * p.total) break;
      if (Date.now() > deadline) throw new Error(`no progress to ${f} of the input`);
      await sleep(20);
    }
    w.kill('SIGKILL');
    await exited(w);
    restarts++;
  }
  const last = start();
  for (;;) {
    const p = await progress(group, input);
    if (p.committed >= p.total) break;
    if (Date.now() > deadline) throw new Error('the last process did not finish the input');
    await sleep(200);
  }
  last.kill('SIGTERM');
  assert.equal(await exited(last), 0);
  const rows = await readTopic(brokers, alerts, 1e9, 3_000);
  // emittedAt is wall-clock time; everything else must match
  return { alerts: rows.map((r) => { const o = JSON.parse(r.value) as Record<string, unknown>; delete o.emittedAt; return JSON.stringify(o); }), restarts };
}

test('surveillance killed with SIGKILL at random points and restarted gives the same alerts as a straight run (at-least-once: same set, duplicates counted)', async () => {
  const input = topicName('rp-orders');
  await createTopics(brokers, [{ topic: input, numPartitions: 3 }]);
  const sim = simulate({ seed: 4711, events: 60_000, episodesPerPattern: 2 });
  const p = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  for (let i = 0; i < sim.events.length; i += 2000) await p.send({ topic: input, messages: sim.events.slice(i, i + 2000).map((e) => ({ key: e.symbol, value: JSON.stringify(e) })) });
  await p.disconnect();
  const straight = await run(input, []);
  assert.ok(straight.alerts.length >= 10, `the flow raises alerts: ${straight.alerts.length}`);
  assert.equal(new Set(straight.alerts).size, straight.alerts.length, 'a straight run has no duplicates');
  const r = rng(Number(process.env.REPLAY_SEED ?? 8));
  const kills = [0, 1, 2].map(() => Math.round((0.1 + r() * 0.8) * 100) / 100).sort();
  const killed = await run(input, kills);
  const want = new Set(straight.alerts), got = new Set(killed.alerts);
  const missing = [...want].filter((a) => !got.has(a)), extra = [...got].filter((a) => !want.has(a));
  assert.equal(missing.length, 0, `alerts missing after the kills: ${missing.slice(0, 3).join(' | ')}`);
  assert.equal(extra.length, 0, `alerts the straight run did not raise: ${extra.slice(0, 3).join(' | ')}`);
  process.stdout.write(`\n  replay: ${want.size} alerts; SIGKILL once ${kills.map((k) => `${Math.round(k * 100)}%`).join(', ')} of the input was committed; same set, ${killed.alerts.length - got.size} duplicates (at-least-once)\n`);
});

test.run();
