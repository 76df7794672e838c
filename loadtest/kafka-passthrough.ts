/**
 * Kafka pass-through benchmark (issue #3): for each transport, Sluice (source → sink,
 * at-least-once, checkpoints every second) against the raw client doing the same
 * pass-through by hand (consume a batch, produce it, commit), in one run on one broker.
 *
 *  - throughput: N messages preloaded; time until all N are in the output topic;
 *  - latency: an open-loop producer at a fixed rate stamps each message; a consumer of
 *    the output records arrival − stamp (produce → consume through the contender) in an
 *    HdrHistogram.
 *
 *   npm run loadtest:kafka   (KAFKA_BROKERS to use an existing cluster; else a local broker is started)
 * Writes loadtest/RESULTS-kafka.md. The contenders run as their own processes (the ones
 * `npm run loadtest` uses), so throughput includes a process start. LOADTEST_TRANSPORTS=a,b
 * runs only those transports.
 */
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { join } from 'node:path';
import { build as hdr } from 'hdr-histogram-js';
import { Kafka, logLevel, Partitioners, type Consumer, type Producer } from 'kafkajs';
import type { TransportName } from '../src/kafka/config.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { createTopics, testBrokers, topicName } from '../tests/kafka/broker.js';

const N = Number(process.env.LOADTEST_MESSAGES ?? 100_000);
const RATE = Number(process.env.LOADTEST_RATE ?? 2_000);
const SECONDS = Number(process.env.LOADTEST_SECONDS ?? 10);
const now = () => performance.timeOrigin * 1000 + performance.now() * 1000; // µs

interface Contender { name: string; start(brokers: string[], input: string, output: string): Promise<() => Promise<void>> }

/**
 * A pass-through contender as its own process (loadtest/contender.ts, shared with
 * `npm run loadtest`): Sluice source → sink, or the raw client doing the same by hand.
 */
function contender(kind: 'sluice-passthrough' | 'raw-passthrough', transport: TransportName): Contender {
  return {
    name: kind === 'sluice-passthrough' ? `Sluice on ${transport}` : `raw ${transport} by hand`,
    async start(brokers, input, output) {
      const child = spawn(process.execPath, [new URL('./contender.js', import.meta.url).pathname, kind, transport, brokers.join(','), input, output, topicName(kind), join(tmpdir(), `${topicName('pt')}.json`)], { stdio: ['ignore', 'pipe', 'inherit'] });
      await new Promise<void>((resolve, reject) => {
        child.stdout!.on('data', (d: Buffer) => { if (d.toString().includes('ready')) resolve(); });
        child.once('exit', (code) => reject(new Error(`${kind} exited with ${code} before it was ready`)));
      });
      return async () => { child.kill('SIGTERM'); await new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r))); };
    },
  };
}

async function outCount(kafka: Kafka, topic: string): Promise<number> {
  const admin = kafka.admin();
  await admin.connect();
  const offs = await admin.fetchTopicOffsets(topic);
  await admin.disconnect();
  return offs.reduce((n, o) => n + Number(o.high), 0);
}

async function throughput(brokers: string[], c: Contender, lines: string[]): Promise<number> {
  const [input, output] = [topicName('tp-in'), topicName('tp-out')];
  await createTopics(brokers, [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 3 }]);
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const p = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  for (let i = 0; i < lines.length; i += 1000) await p.send({ topic: input, messages: lines.slice(i, i + 1000).map((value, j) => ({ key: `k${(i + j) % 64}`, value })) });
  await p.disconnect();
  const t0 = performance.now();
  const stop = await c.start(brokers, input, output);
  while ((await outCount(kafka, output)) < lines.length) await new Promise((r) => setTimeout(r, 20));
  const ms = performance.now() - t0;
  await stop();
  return lines.length / (ms / 1000);
}

async function latency(brokers: string[], c: Contender): Promise<{ p50: number; p99: number; p999: number; max: number; n: number }> {
  const [input, output] = [topicName('lat-in'), topicName('lat-out')];
  await createTopics(brokers, [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 3 }]);
  const kafka = new Kafka({ brokers, logLevel: logLevel.NOTHING });
  const h = hdr({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000_000, numberOfSignificantValueDigits: 3 });
  const reader: Consumer = kafka.consumer({ groupId: topicName('lat-reader'), maxWaitTimeInMs: 5 });
  await reader.connect();
  await reader.subscribe({ topic: output, fromBeginning: true });
  let seen = 0;
  let measuring = false;
  await reader.run({ eachMessage: async ({ message }) => { const sent = Number(JSON.parse(message.value!.toString()).sentAt); if (measuring && sent > 0) { h.recordValue(Math.max(1, Math.round(now() - sent))); } seen++; } });
  const stop = await c.start(brokers, input, output);
  const p: Producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  // warm-up: wait until messages flow end to end
  const warm = seen;
  while (seen === warm) { await p.send({ topic: input, messages: [{ key: 'w', value: JSON.stringify({ sentAt: 0 }) }] }); await new Promise((r) => setTimeout(r, 200)); }
  await new Promise((r) => setTimeout(r, 1000));
  measuring = true;
  // open loop: sends are due on a fixed schedule and never wait for outputs
  const total = RATE * SECONDS;
  const t0 = performance.now();
  let sent = 0;
  const pending: Promise<unknown>[] = [];
  while (sent < total) {
    const due = Math.floor(((performance.now() - t0) / 1000) * RATE);
    const burst = [];
    while (sent < Math.min(due, total)) burst.push({ key: `k${sent % 64}`, value: JSON.stringify({ seq: sent++, sentAt: now() }) });
    if (burst.length) pending.push(p.send({ topic: input, messages: burst, acks: 1 }));
    await new Promise((r) => setTimeout(r, 2));
  }
  await Promise.all(pending);
  const deadline = Date.now() + 15_000;
  while (h.totalCount < total && Date.now() < deadline) await new Promise((r) => setTimeout(r, 50));
  await p.disconnect();
  await stop();
  await reader.disconnect();
  return { p50: h.getValueAtPercentile(50), p99: h.getValueAtPercentile(99), p999: h.getValueAtPercentile(99.9), max: h.maxValue, n: h.totalCount };
}

async function main() {
  const brokers = await testBrokers();
  let confluent = true;
  try { (await import('node:module')).createRequire(import.meta.url)('@confluentinc/kafka-javascript'); } catch { confluent = false; }
  const transports = ([...(confluent ? ['kafkajs', 'confluent'] : ['kafkajs']), 'platformatic'] as TransportName[]).filter((t) => !process.env.LOADTEST_TRANSPORTS || process.env.LOADTEST_TRANSPORTS.split(',').includes(t));
  const lines = orderFlowLines({ events: N, seed: 9 });
  const rows: string[] = [];
  for (const tr of transports) {
    for (const c of [contender('raw-passthrough', tr), contender('sluice-passthrough', tr)]) {
      process.stdout.write(`${c.name}: throughput...`);
      const tp = await throughput(brokers, c, lines);
      process.stdout.write(` ${Math.round(tp)}/s; latency...`);
      const l = await latency(brokers, c);
      process.stdout.write(` p99 ${(l.p99 / 1000).toFixed(2)} ms\n`);
      rows.push(`| ${c.name} | ${Math.round(tp).toLocaleString('en-US')} | ${(l.p50 / 1000).toFixed(2)} | ${(l.p99 / 1000).toFixed(2)} | ${(l.p999 / 1000).toFixed(2)} | ${(l.max / 1000).toFixed(2)} | ${l.n} |`);
    }
  }
  const text = [
    '# Kafka pass-through benchmark (issue #3)', '',
    `Generated by \`npm run loadtest:kafka\` on ${new Date().toISOString().slice(0, 10)}: ${cpus().length} × ${cpus()[0]?.model ?? '?'}, Node ${process.version}, one Apache Kafka 3.9.1 broker (KRaft) on the same machine, 3-partition topics.`,
    `Throughput: ${N.toLocaleString('en-US')} order events (~230 B) preloaded, time until all are in the output topic (includes consumer-group join). Latency: open-loop producer at ${RATE}/s for ${SECONDS} s, produce → consume through the contender, HdrHistogram.`,
    'Raw kafkajs and raw confluent drive the client through the settings Sluice uses (consume a batch, produce it, commit); raw platformatic uses that client\'s own API (its message stream; what arrived in one event-loop turn produced in one send, then committed), not Sluice\'s adapter.',
    confluent ? '' : 'The confluent client (librdkafka) was not installed for this run (`bash scripts/install-confluent.sh`), so its rows are missing.', '',
    '| contender | throughput msg/s | p50 ms | p99 ms | p99.9 ms | max ms | latency samples |', '| --- | ---: | ---: | ---: | ---: | ---: | ---: |',
    ...rows, '',
  ].join('\n');
  writeFileSync(new URL('../../loadtest/RESULTS-kafka.md', import.meta.url), text);
  process.stdout.write(text);
  process.exit(0);
}

main().catch((e) => { console.error(e); process.exit(1); });
