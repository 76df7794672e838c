/**
 * The integration suites' broker: KAFKA_BROKERS when set, otherwise a real single-node
 * Apache Kafka (KRaft) started by scripts/kafka.sh on free loopback ports, shared by
 * every suite in the process and killed when the process exits.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, openSync, rmSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { Kafka, logLevel } from 'kafkajs';
import { brokersFromEnv } from '../../src/kafka/config.js';

const root = new URL('../../../', import.meta.url).pathname;
let shared: Promise<string[]> | null = null;

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const s = createServer();
    s.once('error', reject);
    s.listen(0, '127.0.0.1', () => { const p = (s.address() as { port: number }).port; s.close(() => resolve(p)); });
  });
}

/** a free port whose next `n − 1` ports are free too (a broker's listeners sit side by side) */
export async function freePortPair(n = 2): Promise<number> {
  for (;;) {
    const p = await freePort();
    let ok = true;
    for (let k = 1; k < n && ok; k++) {
      ok = await new Promise<boolean>((resolve) => { const s = createServer(); s.once('error', () => resolve(false)); s.listen(p + k, '127.0.0.1', () => s.close(() => resolve(true))); });
    }
    if (ok) return p;
  }
}

export function testBrokers(): Promise<string[]> {
  shared ??= start();
  return shared;
}

/** a broker process this test process started: its ports, data directory and JVM */
interface BrokerProc { port: number; dir: string; child: ChildProcess | null }
let sharedProc: BrokerProc | null = null;

function prerequisites(): void {
  const missing: string[] = [];
  if (spawnSync('java', ['-version']).status !== 0) missing.push('Java 17 (apt-get install openjdk-17-jre-headless)');
  if (spawnSync('mvn', ['-v']).status !== 0) missing.push('Maven (apt-get install maven)');
  if (missing.length) {
    throw new Error(`Kafka integration tests need a broker: set KAFKA_BROKERS=host:port, or install ${missing.join(' and ')} so scripts/kafka.sh can fetch and run one`);
  }
  const fetched = spawnSync('bash', [join(root, 'scripts/kafka.sh'), 'fetch'], { stdio: ['ignore', 'inherit', 'inherit'] });
  if (fetched.status !== 0) throw new Error('scripts/kafka.sh fetch failed: could not fetch the Kafka jars from Maven Central');
}

/** start a broker on free loopback ports with its own data directory; killed when the process exits */
async function startProc(): Promise<BrokerProc> {
  prerequisites();
  const b: BrokerProc = { port: await freePortPair(), dir: mkdtempSync(join(tmpdir(), 'sluice-kafka-')), child: null };
  launch(b);
  process.once('exit', () => {
    try { b.child?.kill('SIGKILL'); } catch { /* gone */ }
    try { rmSync(b.dir, { recursive: true, force: true }); } catch { /* best effort */ }
  });
  await untilUp(b);
  return b;
}

async function start(): Promise<string[]> {
  const env = brokersFromEnv();
  if (env) return env;
  sharedProc = await startProc();
  return [`127.0.0.1:${sharedProc.port}`];
}

function launch(b: BrokerProc): void {
  const log = openSync(join(b.dir, 'broker.log'), 'a');
  b.child = spawn('bash', [join(root, 'scripts/kafka.sh'), 'start', String(b.port), b.dir], { stdio: ['ignore', log, log] });
  b.child.unref(); // the broker must not keep the test process alive; exit kills it
}

async function untilUp(b: BrokerProc): Promise<void> {
  const admin = new Kafka({ brokers: [`127.0.0.1:${b.port}`], clientId: 'sluice-test-probe', logLevel: logLevel.NOTHING, retry: { retries: 0 } }).admin();
  const deadline = Date.now() + 90_000;
  for (;;) {
    if (b.child!.exitCode !== null) throw new Error(`the test broker exited (code ${b.child!.exitCode}); see ${join(b.dir, 'broker.log')}`);
    try { await admin.connect(); await admin.describeCluster(); await admin.disconnect(); return; } catch { /* not up yet */ }
    if (Date.now() > deadline) throw new Error(`the test broker did not come up in 90 s; see ${join(b.dir, 'broker.log')}`);
    await new Promise((r) => setTimeout(r, 200));
  }
}

async function stopProc(b: BrokerProc): Promise<void> {
  const c = b.child;
  if (!c || c.exitCode !== null) return;
  await new Promise<void>((resolve) => { c.once('exit', () => resolve()); c.kill('SIGTERM'); setTimeout(() => { try { c.kill('SIGKILL'); } catch { /* gone */ } }, 10_000); });
}

/**
 * A broker of its own for a test that restarts it, so the suite's shared broker is never
 * disturbed (a restart left later librdkafka suites stalled on the shared one). Null when
 * the tests use an external cluster (KAFKA_BROKERS), which they cannot restart.
 */
export async function startPrivateBroker(): Promise<{ brokers: string[]; restart(downMs: number): Promise<{ downAt: number; upAt: number }>; stop(): Promise<void> } | null> {
  if (brokersFromEnv()) return null;
  const b = await startProc();
  return {
    brokers: [`127.0.0.1:${b.port}`],
    /** stop it (SIGTERM: a clean shutdown), leave it down for `downMs`, start it again on the same port and data; when it went down and was back (performance.now()) */
    async restart(downMs) {
      await stopProc(b);
      const downAt = performance.now();
      await new Promise((r) => setTimeout(r, downMs));
      launch(b);
      await untilUp(b);
      return { downAt, upAt: performance.now() };
    },
    async stop() { await stopProc(b); try { rmSync(b.dir, { recursive: true, force: true }); } catch { /* best effort */ } },
  };
}

/** Stop the broker this process started (suites leave it running for each other; exit kills it). */
export async function stopTestBroker(): Promise<void> {
  if (sharedProc) await stopProc(sharedProc);
}

let topicSeq = 0;
/** unique topic names per run, so suites never see each other's data */
export function topicName(base: string): string {
  return `${base}-${process.pid}-${Date.now().toString(36)}-${topicSeq++}`;
}

export async function createTopics(brokers: string[], topics: { topic: string; numPartitions: number; configEntries?: { name: string; value: string }[] }[]): Promise<void> {
  const admin = new Kafka({ brokers, clientId: 'sluice-test-admin', logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  await admin.createTopics({ topics: topics.map((t) => ({ ...t, replicationFactor: 1 })), waitForLeaders: true });
  await admin.disconnect();
}

/** Read every message of a topic until `count` arrived (or the timeout). */
export async function readTopic(brokers: string[], topic: string, count: number, timeoutMs = 30_000): Promise<{ key: string | null; value: string; partition: number; offset: string; timestamp: string; headers: Record<string, string> }[]> {
  const kafka = new Kafka({ brokers, clientId: 'sluice-test-reader', logLevel: logLevel.NOTHING });
  const consumer = kafka.consumer({ groupId: `reader-${topicName('g')}`, maxWaitTimeInMs: 50 });
  const out: { key: string | null; value: string; partition: number; offset: string; timestamp: string; headers: Record<string, string> }[] = [];
  await consumer.connect();
  await consumer.subscribe({ topic, fromBeginning: true });
  let done!: () => void;
  const finished = new Promise<void>((r) => { done = r; });
  await consumer.run({
    eachMessage: async ({ partition, message }) => {
      const headers: Record<string, string> = {};
      for (const [k, v] of Object.entries(message.headers ?? {})) headers[k] = String(v);
      out.push({ key: message.key?.toString() ?? null, value: message.value?.toString() ?? '', partition, offset: message.offset, timestamp: message.timestamp, headers });
      if (out.length >= count) done();
    },
  });
  const timer = setTimeout(() => done(), timeoutMs);
  await finished;
  clearTimeout(timer);
  await consumer.disconnect();
  return out;
}
