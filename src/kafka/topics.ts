/**
 * Topics are checked before a Kafka job starts, so a missing one is one clear line at
 * start instead of a job that retries forever: the input must exist; an output or dead-
 * letter topic that is missing is created when the run says so (--create-topics), else
 * the run fails naming the topic and the command that creates it. (The changelog is
 * Sluice's own and always created: src/kafka/changelog.ts.) An unreachable broker is
 * a typed error after a few seconds, not minutes of retry logs.
 */
import { logLevel, Kafka } from 'kafkajs';
import { SluiceError } from '../errors.js';
import type { KafkaConnection } from './config.js';

export interface TopicPlan {
  inputs: string[];
  outputs: string[];
  /** create missing outputs with the first input's partition count */
  create: boolean;
}

export async function checkTopics(conn: KafkaConnection, plan: TopicPlan): Promise<{ created: string[] }> {
  const kafka = new Kafka({
    brokers: conn.brokers, clientId: 'sluice-topic-check', logLevel: logLevel.NOTHING,
    connectionTimeout: conn.connectionTimeoutMs ?? 3000, retry: { retries: 2, initialRetryTime: 300, maxRetryTime: 1000 },
    ...(conn.ssl ? { ssl: conn.ssl } : {}), ...(conn.sasl ? { sasl: conn.sasl as never } : {}),
  });
  const admin = kafka.admin();
  try {
    await admin.connect();
    var existing = new Set(await admin.listTopics());
  } catch (e) {
    await admin.disconnect().catch(() => undefined);
    // the broker list is not echoed: it may hold what a user mistook for credentials
    throw new SluiceError('SLUICE_ERR_KAFKA_UNREACHABLE', `cannot reach the Kafka brokers (${conn.brokers.length} given): ${(e as Error).message.replace(/\S+@\S+/g, '<redacted>')}`, { domain: 'external', cause: e });
  }
  try {
    for (const t of plan.inputs) {
      if (!existing.has(t)) throw new SluiceError('SLUICE_ERR_TOPIC_MISSING', `input topic '${t}' does not exist; create it first (kafka-topics.sh --create --topic ${t}, or node dist/scripts/seed-orders.js --topic ${t} for order flow)`);
    }
    const missing = plan.outputs.filter((t) => !existing.has(t));
    if (missing.length === 0) return { created: [] };
    if (!plan.create) {
      throw new SluiceError('SLUICE_ERR_TOPIC_MISSING', `output topic${missing.length > 1 ? 's' : ''} ${missing.map((t) => `'${t}'`).join(', ')} do${missing.length > 1 ? '' : 'es'} not exist (the broker does not create topics on its own): add --create-topics, or create ${missing.length > 1 ? 'them' : 'it'} with kafka-topics.sh --create --topic ${missing[0]}`);
    }
    let partitions = 1;
    if (plan.inputs.length) {
      const md = await admin.fetchTopicMetadata({ topics: [plan.inputs[0]] });
      partitions = md.topics[0]?.partitions.length || 1;
    }
    try {
      await admin.createTopics({ topics: missing.map((topic) => ({ topic, numPartitions: partitions })), waitForLeaders: true });
    } catch (e) {
      if (!/already exists/i.test((e as Error).message)) throw new SluiceError('SLUICE_ERR_TOPIC_MISSING', `could not create ${missing.join(', ')}: ${(e as Error).message}`, { domain: 'external', cause: e });
    }
    return { created: missing };
  } finally {
    await admin.disconnect().catch(() => undefined);
  }
}
