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
import { simulate } from '../apps/surveillance/sim/market.js';
import { rng } from '../apps/demo/orderflow.js';
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

type StateVsOffset = { partition: string; offset: number; state: number };
/**
 * Per partition, the group's committed offset and the source offset its committed keyed
 * state (the changelog, read committed) includes. Exactly-once writes both in one
 * transaction, so after any crash they agree; at-least-once saves state first, so state
 * may be ahead, never behind.
 */
async function stateVsOffsets(group: string, topic: string): Promise<StateVsOffset[]> {
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  let committed: Map<string, string>;
  let hasChangelog: boolean;
  try {
    const [c] = await admin.fetchOffsets({ groupId: group, topics: [topic] });
    committed = new Map(c.partitions.filter((x) => Number(x.offset) >= 0).map((x) => [`${topic}/${x.partition}`, x.offset]));
    hasChangelog = (await admin.listTopics()).includes(`${group}-changelog`);
  } finally { await admin.disconnect(); }
  if (!hasChangelog) return []; // SLUICE_NO_CHANGELOG (negative control), or killed before its first save
  const state = new Map<string, string>();
  // the changelog keeps one record per state key (src/kafka/changelog.ts); the position a partition's
  // state includes is its own record, keyed `<partition>|@position` (each part URI-encoded)
  for (const r of await readTopic(brokers, `${group}-changelog`, 1e9, 2_000)) {
    const [part, name] = (r.key ?? '').split('|').map(decodeURIComponent);
    if (name !== '@position' || r.value === '') continue;
    const pos = JSON.parse(r.value) as unknown;
    if (typeof pos === 'string') state.set(part, pos);
  }
  return [...committed].filter(([k]) => state.has(k)).map(([k, off]) => ({ partition: k, offset: Number(off), state: Number(state.get(k)) }));
}

const live = new Set<ChildProcess>();
// a failed test must not leave workers behind (they would keep the runner alive)
test.after(() => { for (const c of live) c.kill('SIGKILL'); });

/**
 * One surveillance run over `input` in its own group, killed and restarted once per entry
 * of `kills`. At-least-once: SIGKILLed from here once the group has committed that fraction
 * of the input. Exactly-once: the worker SIGKILLs itself right after its Nth transaction
 * commits (SLUICE_CRASH_AFTER_COMMIT), the moment state written after the transaction
 * would be lost: a kill from outside lands there only by chance.
 */
async function run(input: string, kills: number[], exactlyOnce = false, worker = 'surveillance-worker', extraEnv: Record<string, string> = {}): Promise<{ alerts: string[]; restarts: number; midStream: number; checks: StateVsOffset[] }> {
  const [alerts, dead, group] = [topicName('rp-out'), topicName('rp-dead'), topicName('rp-group')];
  await createTopics(brokers, [{ topic: alerts, numPartitions: 1 }, { topic: dead, numPartitions: 1 }]);
  // exactly-once: one stable transactional id for the process slot, so a restart fences the killed one
  const env = { ...process.env, ...extraEnv, ...(exactlyOnce ? { SLUICE_EOS_TXID: `${group}-slot-0` } : {}) };
  const start = (crashAfterCommit?: number) => {
    const c = spawn(process.execPath, [new URL(`./kafka/${worker}.js`, import.meta.url).pathname, brokers.join(','), input, alerts, dead, group],
      { stdio: ['ignore', 'pipe', 'inherit'], env: { ...env, ...(crashAfterCommit ? { SLUICE_CRASH_AFTER_COMMIT: String(crashAfterCommit) } : {}) } });
    live.add(c);
    c.once('exit', () => live.delete(c));
    return c;
  };
  /** resolves once the worker has its SIGTERM handler: a SIGTERM sent earlier kills it by signal, which is not the clean stop under test */
  const ready = (c: ChildProcess) => new Promise<void>((resolve, reject) => {
    let out = '';
    c.stdout!.on('data', (d: Buffer) => { out += d.toString(); if (out.includes('ready\n')) resolve(); });
    c.once('exit', (code, sig) => reject(new Error(`worker exited before it was ready: ${code ?? sig}`)));
  });
  let restarts = 0, midStream = 0;
  const checks: StateVsOffset[] = [];
  const deadline = Date.now() + 180_000;
  for (const f of kills) {
    if (exactlyOnce) {
      // the statistical scorer is fast: a few checkpoints cover the input, so crash while some is left
      const p = await progress(group, input);
      if (p.committed >= p.total) break;
      const w = start(f);
      const timer = setTimeout(() => w.kill('SIGKILL'), Math.max(0, deadline - Date.now()));
      // the rest of the input may fit in fewer than f transactions: then the incarnation finishes
      // it without crashing, and there is nothing left to crash on (seen once in a clean-clone run)
      let ranOut = false;
      const exit = new Promise((r) => w.once('exit', r));
      while (w.exitCode === null && w.signalCode === null) {
        const q = await progress(group, input);
        if (q.committed >= q.total) { ranOut = true; w.kill('SIGTERM'); break; }
        await Promise.race([exit, sleep(250)]);
      }
      await exit;
      clearTimeout(timer);
      if (ranOut && w.signalCode !== 'SIGKILL') break;
      assert.equal(w.signalCode, 'SIGKILL', `the worker crashed itself after commit ${f}`);
      assert.ok(Date.now() < deadline, `no commit ${f} before the deadline`);
      checks.push(...await stateVsOffsets(group, input));
      restarts++;
      continue;
    }
    const w = start();
    for (;;) {
      const p = await progress(group, input);
      if (p.committed >= f * p.total) break;
      if (Date.now() > deadline) throw new Error(`no progress to ${f} of the input`);
      await sleep(20);
    }
    w.kill('SIGKILL');
    await exited(w);
    checks.push(...await stateVsOffsets(group, input));
    const after = await progress(group, input);
    if (after.committed < after.total) midStream++; // the next process picks up a partly done input
    restarts++;
  }
  const last = start();
  const lastReady = ready(last);
  lastReady.catch(() => undefined); // awaited below; this only keeps an early exit from being an unhandled rejection meanwhile
  for (;;) {
    const p = await progress(group, input);
    if (p.committed >= p.total) break;
    if (Date.now() > deadline) throw new Error('the last process did not finish the input');
    await sleep(200);
  }
  await lastReady; // it can be done at once: the killed process may have committed the rest before its kill
  last.kill('SIGTERM');
  assert.equal(await exited(last), 0);
  const rows = await readTopic(brokers, alerts, 1e9, 3_000);
  // emittedAt is wall-clock time; everything else must match (push scores to 4 places: a
  // different batch composition can move a model output in its last bits)
  return { alerts: rows.map((r) => {
    const o = JSON.parse(r.value) as Record<string, unknown>;
    delete o.emittedAt;
    if (Array.isArray(o.items)) o.items = (o.items as { score: number }[]).map((it) => ({ ...it, score: Math.round(it.score * 1e4) / 1e4 }));
    return JSON.stringify(o);
  }), restarts, midStream, checks };
}

let input = '';
let straight: { alerts: string[] } = { alerts: [] };

test('surveillance killed with SIGKILL at random points and restarted gives the same alerts as a straight run (at-least-once: same set, duplicates counted)', async () => {
  input = topicName('rp-orders');
  await createTopics(brokers, [{ topic: input, numPartitions: 3 }]);
  const sim = simulate({ seed: 4711, events: 60_000, episodesPerPattern: 2 });
  const p = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  for (let i = 0; i < sim.events.length; i += 2000) await p.send({ topic: input, messages: sim.events.slice(i, i + 2000).map((e) => ({ key: e.symbol, value: JSON.stringify(e) })) });
  await p.disconnect();
  straight = await run(input, []);
  assert.ok(straight.alerts.length >= 10, `the flow raises alerts: ${straight.alerts.length}`);
  assert.equal(new Set(straight.alerts).size, straight.alerts.length, 'a straight run has no duplicates');
  const r = rng(Number(process.env.REPLAY_SEED ?? 8));
  const kills = [0, 1, 2].map(() => Math.round((0.1 + r() * 0.8) * 100) / 100).sort();
  const killed = await run(input, kills);
  assert.ok(killed.midStream >= 2, `at least two kills left input to replay: ${killed.midStream}`);
  const want = new Set(straight.alerts), got = new Set(killed.alerts);
  const missing = [...want].filter((a) => !got.has(a)), extra = [...got].filter((a) => !want.has(a));
  assert.equal(missing.length, 0, `alerts missing after the kills: ${missing.slice(0, 3).join(' | ')}`);
  assert.equal(extra.length, 0, `alerts the straight run did not raise: ${extra.slice(0, 3).join(' | ')}`);
  // at-least-once saves state before offsets: after a kill it may be ahead of them (the new owner skips what it holds), never behind
  assert.ok(killed.checks.length > 0, 'state and offsets were compared after the kills');
  assert.equal(killed.checks.filter((c) => c.state < c.offset), [], 'keyed state never lags the committed offsets');
  process.stdout.write(`\n  replay: ${want.size} alerts; SIGKILL once ${kills.map((k) => `${Math.round(k * 100)}%`).join(', ')} of the input was committed; same set, ${killed.alerts.length - got.size} duplicates (at-least-once)\n`);
});

test('exactly-once: killed with SIGKILL at random points and restarted, read_committed readers see exactly the straight run\'s alerts, no duplicates', async () => {
  assert.ok(straight.alerts.length >= 10, 'the straight run above raised alerts');
  const r = rng(Number(process.env.REPLAY_SEED ?? 9));
  // each incarnation crashes right after its first or second transaction that moves the offsets
  const kills = [0, 1, 2, 3].map(() => 1 + Math.floor(r() * 2));
  const killed = await run(input, kills, true);
  assert.ok(killed.restarts >= 2, `crashed at least twice before the input was done: ${killed.restarts}`);
  assert.ok(killed.checks.length > 0, 'state and offsets were compared after the kills');
  assert.equal(killed.checks.filter((c) => c.state !== c.offset), [], 'after each kill, committed state includes exactly the committed offsets');
  assert.equal([...killed.alerts].sort(), [...straight.alerts].sort(), 'the same alerts, each once');
  process.stdout.write(`  replay, exactly-once: ${killed.alerts.length} alerts, identical to the straight run; crashed ${killed.restarts} times, each right after transaction ${kills.slice(0, killed.restarts).join(', ')} of its incarnation that moved the offsets; committed state matched committed offsets ${killed.checks.length} times\n`);
});

/** behaviour events of `users` users, `perUser` each, user-keyed over 3 partitions */
async function behaviourTopic(users: number, perUser: number): Promise<string> {
  const topic = topicName('rp-behaviour');
  await createTopics(brokers, [{ topic, numPartitions: 3 }]);
  const r = rng(99);
  const events = [];
  for (let k = 0; k < perUser; k++) for (let u = 1; u <= users; u++) {
    events.push({ ts: 1.7e15 + (k * users + u) * 1e6, userId: `u${u}`, itemId: String(1 + Math.floor(r() * 300)), action: r() < 0.7 ? 'rate' : 'view', value: r() < 0.7 ? 1 + Math.floor(r() * 5) : Math.round(r() * 100) / 100 });
  }
  const p = new Kafka({ brokers, logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  for (let i = 0; i < events.length; i += 1000) await p.send({ topic, messages: events.slice(i, i + 1000).map((e) => ({ key: e.userId, value: JSON.stringify(e) })) });
  await p.disconnect();
  return topic;
}

test('personalization killed with SIGKILL at random points and restarted gives the same pushes as a straight run (users\' sequences move through the changelog)', async () => {
  const events = await behaviourTopic(60, 100);
  const slow = { SLUICE_TEST_READ_DELAY_MS: '5' };
  const straightPushes = await run(events, [], false, 'personalization-worker', slow);
  assert.equal(straightPushes.alerts.length, 6000, 'one push per event');
  const r = rng(Number(process.env.REPLAY_SEED ?? 10));
  const kills = [0, 1, 2].map(() => Math.round((0.1 + r() * 0.8) * 100) / 100).sort();
  const killed = await run(events, kills, false, 'personalization-worker', slow);
  assert.ok(killed.midStream >= 2, `at least two kills left input to replay: ${killed.midStream}`);
  const want = new Set(straightPushes.alerts), got = new Set(killed.alerts);
  const missing = [...want].filter((a) => !got.has(a));
  const idOf = (p: string) => { const o = JSON.parse(p) as { ts: number; userId: string }; return `${o.userId}@${o.ts}`; };
  const killedById = new Map(killed.alerts.map((p) => [idOf(p), p]));
  assert.equal(missing.length, 0, `${missing.length} pushes differ or are missing after the kills, e.g.\n    straight: ${missing[0]}\n    killed:   ${missing[0] ? killedById.get(idOf(missing[0])) : ''}`);
  assert.equal([...got].filter((a) => !want.has(a)).length, 0, 'no push the straight run did not make');
  assert.equal(killed.checks.filter((c) => c.state < c.offset), [], 'users\' state never lags the committed offsets');
  process.stdout.write(`  replay, personalization: ${want.size} pushes; SIGKILL once ${kills.map((k) => `${Math.round(k * 100)}%`).join(', ')} of the input was committed; same set, ${killed.alerts.length - got.size} duplicates (at-least-once)\n`);
});

test.run();
