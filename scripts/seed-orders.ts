/**
 * Creates the topics the README's walkthrough uses (the input topic, demo-out,
 * demo-dead-letters, surveillance-out, surveillance-dead-letters) and writes generated
 * order flow into the input topic (key = symbol).
 *   node dist/scripts/seed-orders.js --brokers host:port --topic orders [--events N] [--partitions N]
 */
import { parseArgs } from 'node:util';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { generateOrderFlow } from '../apps/demo/orderflow.js';

const USAGE = 'usage: seed-orders --brokers host:port --topic T [--events N (default 100000)] [--partitions N (default 4)]\n';
let v: { brokers?: string; topic?: string; events?: string; partitions?: string; help?: boolean };
try {
  v = parseArgs({ options: { brokers: { type: 'string' }, topic: { type: 'string' }, events: { type: 'string' }, partitions: { type: 'string' }, help: { type: 'boolean', short: 'h' } }, strict: true }).values;
} catch (e) { process.stderr.write(`seed-orders: ${(e as Error).message}\n${USAGE}`); process.exit(2); }
if (v.help) { process.stdout.write(USAGE); process.exit(0); }
if (!v.brokers || !v.topic) { process.stderr.write(USAGE); process.exit(2); }
const events = Number(v.events ?? 100_000);
const partitions = Number(v.partitions ?? 4);
if (!Number.isInteger(events) || events <= 0 || !Number.isInteger(partitions) || partitions <= 0) { process.stderr.write(`seed-orders: --events and --partitions must be positive integers\n${USAGE}`); process.exit(2); }
const kafka = new Kafka({ brokers: v.brokers.split(','), clientId: 'sluice-seed', logLevel: logLevel.WARN });
const admin = kafka.admin();
await admin.connect();
const existing = await admin.listTopics();
const wanted = [v.topic, 'demo-out', 'demo-dead-letters', 'surveillance-out', 'surveillance-dead-letters'].filter((t) => !existing.includes(t));
if (wanted.length) await admin.createTopics({ topics: wanted.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
await admin.disconnect();
const producer = kafka.producer({ createPartitioner: Partitioners.DefaultPartitioner });
await producer.connect();
let batch: { key: string; value: string }[] = [];
let n = 0;
for (const e of generateOrderFlow({ events, seed: 1 })) {
  batch.push({ key: e.symbol, value: JSON.stringify(e) });
  if (batch.length === 1000) { await producer.send({ topic: v.topic, messages: batch }); n += batch.length; batch = []; }
}
if (batch.length) { await producer.send({ topic: v.topic, messages: batch }); n += batch.length; }
await producer.disconnect();
process.stdout.write(`seeded ${n} order events into '${v.topic}'\n`);
