/**
 * One client interface, two implementations. Both kafkajs and
 * @confluentinc/kafka-javascript (its KafkaJS-compatible API, on librdkafka) are driven
 * through kafkajs' `Kafka` shape; the confluent client is optional — when asked for and
 * not installed, Sluice says so in one log line and uses kafkajs.
 */
import { createRequire } from 'node:module';
import { Kafka, logLevel, type KafkaConfig, type SASLOptions } from 'kafkajs';
import type { KafkaConnection, TransportName } from './config.js';

const require = createRequire(import.meta.url);

export interface Transport {
  /** the implementation actually in use */
  readonly name: TransportName;
  readonly kafka: Kafka;
}

let warnedFallback = false;

/** stderr logger at WARN and above; messages never include configs (secrets) */
const logCreator = () => ({ namespace, level, log }: { namespace: string; level: number; log: { message: string } }) => {
  if (level > logLevel.WARN) return;
  process.stderr.write(`[kafka ${namespace}] ${log.message}\n`);
};

export function createTransport(c: KafkaConnection): Transport {
  const want = c.transport ?? 'kafkajs';
  if (want === 'confluent') {
    let mod: { KafkaJS: { Kafka: new (cfg: object) => Kafka } } | undefined;
    try { mod = require('@confluentinc/kafka-javascript'); } catch { mod = undefined; }
    if (mod) {
      const kafkaJS: Record<string, unknown> = { brokers: c.brokers, clientId: c.clientId ?? 'sluice', logLevel: logLevel.WARN };
      if (c.ssl) kafkaJS.ssl = c.ssl;
      if (c.sasl) kafkaJS.sasl = c.sasl;
      if (c.connectionTimeoutMs) kafkaJS.connectionTimeout = c.connectionTimeoutMs;
      if (c.requestTimeoutMs) kafkaJS.requestTimeout = c.requestTimeoutMs;
      return { name: 'confluent', kafka: new mod.KafkaJS.Kafka({ kafkaJS }) };
    }
    if (!warnedFallback) {
      warnedFallback = true;
      process.stderr.write('sluice: @confluentinc/kafka-javascript is not installed; using kafkajs (see README to install it)\n');
    }
  }
  const cfg: KafkaConfig = {
    brokers: c.brokers,
    clientId: c.clientId ?? 'sluice',
    logLevel: logLevel.WARN,
    logCreator,
    retry: { retries: 8, initialRetryTime: 100 },
  };
  if (c.ssl) cfg.ssl = c.ssl;
  if (c.sasl) cfg.sasl = c.sasl as SASLOptions;
  if (c.connectionTimeoutMs) cfg.connectionTimeout = c.connectionTimeoutMs;
  if (c.requestTimeoutMs) cfg.requestTimeout = c.requestTimeoutMs;
  return { name: 'kafkajs', kafka: new Kafka(cfg) };
}
