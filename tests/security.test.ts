/**
 * Security (issue #8): Sluice reads and writes through a real broker's SASL_SSL listener
 * (SCRAM-SHA-256 over TLS, a certificate the client verifies against the broker's CA),
 * on each installed client; a wrong password or an untrusted certificate fails the
 * connection with an error that does not contain the password, and nothing Sluice logs
 * does either. (That the metrics endpoint binds to 127.0.0.1 unless told otherwise is
 * tests/metrics.test.ts.)
 */
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { RawSchema } from '../src/io.js';
import { Runtime } from '../src/runtime.js';
import { TopologyBuilder } from '../src/topology.js';
import { kafkaSink } from '../src/kafka/sink.js';
import { kafkaSource } from '../src/kafka/source.js';
import type { KafkaConnection, TransportName } from '../src/kafka/config.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { freePortPair } from './kafka/broker.js';

const USER = 'sluice-app';
const PASSWORD = `pw-${Math.random().toString(36).slice(2)}-Secret`;
const root = new URL('../../', import.meta.url).pathname;
let broker: ChildProcess | null = null;
let dir = '';
let plain: string[] = [], secure: string[] = [];
let ca = '';

test.before(async () => {
  const port = await freePortPair(3);
  dir = mkdtempSync(join(tmpdir(), 'sluice-secure-kafka-'));
  broker = spawn('bash', [join(root, 'scripts/kafka.sh'), 'start-secure', String(port), dir], { stdio: ['ignore', 'ignore', 'ignore'], env: { ...process.env, SLUICE_SCRAM_USER: USER, SLUICE_SCRAM_PASSWORD: PASSWORD } });
  process.once('exit', () => { try { broker?.kill('SIGKILL'); } catch { /* gone */ } });
  plain = [`127.0.0.1:${port}`];
  secure = [`127.0.0.1:${port + 2}`];
  const admin = new Kafka({ brokers: plain, logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  for (const end = Date.now() + 90_000; ;) {
    if (broker.exitCode !== null) throw new Error(`the secure broker exited (${broker.exitCode})`);
    try { await admin.connect(); await admin.describeCluster(); break; } catch { /* not up yet */ }
    if (Date.now() > end) throw new Error('the secure broker did not come up in 90 s');
    await new Promise((r) => setTimeout(r, 300));
  }
  ca = readFileSync(join(dir, 'ca.pem'), 'utf8');
  await admin.createTopics({ topics: [{ topic: 'in', numPartitions: 2 }, { topic: 'out', numPartitions: 2 }], waitForLeaders: true });
  await admin.disconnect();
});

test.after(async () => {
  if (broker && broker.exitCode === null) await new Promise((r) => { broker!.once('exit', r); broker!.kill('SIGTERM'); setTimeout(() => broker?.kill('SIGKILL'), 10_000); });
  rmSync(dir, { recursive: true, force: true });
});

/** stdout and stderr written while `f` runs (what Sluice and the clients log) */
async function capturingOutput<T>(f: () => Promise<T>): Promise<{ value?: T; error?: Error; logged: string }> {
  const streams = [process.stdout, process.stderr];
  const orig = streams.map((s) => s.write.bind(s));
  let logged = '';
  streams.forEach((s, k) => { s.write = ((chunk: unknown, ...rest: unknown[]) => { logged += String(chunk); return (orig[k] as (...a: unknown[]) => boolean)(chunk, ...rest); }) as typeof s.write; });
  try { const value = await f(); return { value, logged }; } catch (e) { return { error: e as Error, logged }; } finally { streams.forEach((s, k) => { s.write = orig[k]; }); }
}

const confluentInstalled = (() => { try { createRequire(import.meta.url)('@confluentinc/kafka-javascript'); return true; } catch { return false; } })();
const transports: TransportName[] = [...(confluentInstalled ? ['kafkajs', 'confluent'] as const : ['kafkajs'] as const), 'platformatic'];
const sasl = (password = PASSWORD) => ({ mechanism: 'scram-sha-256' as const, username: USER, password });

for (const transport of transports) {
  test(`${transport}: a Sluice pass-through over SASL_SSL (SCRAM-SHA-256, TLS verified against the broker's CA) moves every record`, async () => {
    const lines = orderFlowLines({ events: 2000, seed: 3 });
    const out = `out-${transport}`;
    const admin = new Kafka({ brokers: plain, logLevel: logLevel.NOTHING }).admin();
    await admin.connect();
    await admin.createTopics({ topics: [{ topic: `in-${transport}`, numPartitions: 2 }, { topic: out, numPartitions: 2 }], waitForLeaders: true });
    await admin.disconnect();
    // the test's own producer and reader also go through the secure listener
    const client = new Kafka({ brokers: secure, ssl: { ca: [ca] }, sasl: sasl(), logLevel: logLevel.NOTHING });
    const p = client.producer({ createPartitioner: Partitioners.DefaultPartitioner });
    await p.connect();
    await p.send({ topic: `in-${transport}`, messages: lines.map((value) => ({ key: JSON.parse(value).symbol, value })) });
    await p.disconnect();
    const conn = { brokers: secure, transport, ssl: { ca: [ca] }, sasl: sasl() };
    const t = new TopologyBuilder('secure');
    t.source('in', kafkaSource({ ...conn, topics: [`in-${transport}`], groupId: `secure-${transport}` }))
      .to('out', kafkaSink(RawSchema, { ...conn, topic: out, key: (b, i) => b.columns.key[i] || null, serialize: (b, i) => b.columns.value[i] }));
    const rt = new Runtime(t.build(), { checkpointIntervalMs: 500 });
    const { logged, error } = await capturingOutput(async () => {
      const running = rt.run();
      const admin2 = client.admin();
      await admin2.connect();
      for (const end = Date.now() + 60_000; ;) {
        const n = (await admin2.fetchTopicOffsets(out)).reduce((s, o) => s + Number(o.high), 0);
        if (n >= lines.length) break;
        if (Date.now() > end) throw new Error(`only ${n} of ${lines.length} records out`);
        await new Promise((r) => setTimeout(r, 200));
      }
      await admin2.disconnect();
      rt.stop();
      await running;
    });
    assert.equal(error, undefined, error?.message);
    assert.not.ok(logged.includes(PASSWORD), 'the password is never logged');
    // the plaintext listener shows the same records: they went through the broker, not around it
    const reader = new Kafka({ brokers: plain, logLevel: logLevel.NOTHING }).admin();
    await reader.connect();
    const n = (await reader.fetchTopicOffsets(out)).reduce((s, o) => s + Number(o.high), 0);
    await reader.disconnect();
    assert.equal(n, lines.length);
  });

  test(`${transport}: a wrong password and an untrusted certificate are refused; the errors and logs never hold the password`, async () => {
    const wrong = `${PASSWORD}-wrong`;
    const cases: [string, KafkaConnection][] = [
      ['wrong password', { brokers: secure, transport, ssl: { ca: [ca] }, sasl: sasl(wrong), connectionTimeoutMs: 5000, requestTimeoutMs: 5000 }],
      ['untrusted certificate', { brokers: secure, transport, ssl: true, sasl: sasl(), connectionTimeoutMs: 5000, requestTimeoutMs: 5000 }],
    ];
    for (const [what, conn] of cases) {
      const t = new TopologyBuilder('refused');
      t.source('in', kafkaSource({ ...conn, topics: ['in'], groupId: 'refused' })).to('out', kafkaSink(RawSchema, { ...conn, topic: 'out', key: () => null, serialize: (b, i) => b.columns.value[i] }));
      const { error, logged } = await capturingOutput(async () => {
        const rt = new Runtime(t.build());
        // a refused connection fails the run (or never lets it start): bounded by a deadline here
        return Promise.race([rt.run(), new Promise((_, reject) => setTimeout(() => { rt.abort(); reject(new Error('no failure within 45 s')); }, 45_000))]);
      });
      assert.ok(error, `${what}: the connection was refused`);
      assert.not.match(error!.message, /no failure within/, `${what}: it failed rather than hung`);
      // kafkajs would retry an untrusted certificate for ~30 s; the transport's preflight refuses it at once, typed
      if (transport === 'kafkajs' && what === 'untrusted certificate') assert.match(`${(error as { code?: string }).code} ${error!.message}`, /SLUICE_ERR_KAFKA_UNREACHABLE[\s\S]*certificate is not trusted/);
      for (const text of [error!.message, String(error!.stack), logged]) {
        assert.not.ok(text.includes(PASSWORD), `${what}: the password appears in ${text.slice(0, 200)}`);
        assert.not.ok(text.includes(wrong), `${what}: the wrong password appears`);
      }
    }
  });
}

test.run();
