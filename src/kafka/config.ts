/**
 * Kafka connection settings shared by sources and sinks, validated at the boundary.
 * Configs are never logged (the client loggers print messages only), so SASL passwords
 * and TLS keys do not reach logs.
 */
import type { ConnectionOptions } from 'node:tls';
import { ConfigError } from '../errors.js';

export type TransportName = 'kafkajs' | 'confluent' | 'platformatic';
export const TRANSPORTS: readonly TransportName[] = ['kafkajs', 'confluent', 'platformatic'];
/**
 * The transport when none is named, chosen as issue #20 asks, by the pass-through load test
 * and the suites: platformatic moves the most through the engine with the lowest p50 of the
 * three (loadtest/RESULTS-kafka.md), has lower end-to-end latency than kafkajs at every
 * surveillance step (loadtest/RESULTS-platformatic.md), and passes every suite on Kafka 3.9
 * and 4.x in clean-clone CI, the default-transport suites (walkthrough, replay, hostile input,
 * CLI) included. It is also the maintained one: kafkajs has had no release since 2.2.4.
 * kafkajs stays one flag away (--transport kafkajs); the README ("Which transport is the
 * default") has the figures.
 */
export const DEFAULT_TRANSPORT: TransportName = 'platformatic';

export interface KafkaConnection {
  /** 'platformatic' (@platformatic/kafka, default), 'kafkajs', or 'confluent' (@confluentinc/kafka-javascript, optional; falls back to the default) */
  transport?: TransportName;
  brokers: string[];
  clientId?: string;
  /** true, or TLS options (CA, client certificate) */
  ssl?: boolean | ConnectionOptions;
  sasl?: { mechanism: 'plain' | 'scram-sha-256' | 'scram-sha-512'; username: string; password: string };
  connectionTimeoutMs?: number;
  requestTimeoutMs?: number;
}

const CONNECTION_KEYS = ['transport', 'brokers', 'clientId', 'ssl', 'sasl', 'connectionTimeoutMs', 'requestTimeoutMs'];

export function validateConnection(o: KafkaConnection, where: string, extraKeys: string[]): void {
  const known = new Set([...CONNECTION_KEYS, ...extraKeys]);
  for (const k of Object.keys(o)) if (!known.has(k)) throw new ConfigError(`${where}: unknown option '${k}'`);
  if (!Array.isArray(o.brokers) || o.brokers.length === 0 || !o.brokers.every((b) => typeof b === 'string' && /^[^:\s]+:\d+$/.test(b))) {
    throw new ConfigError(`${where}: options.brokers must list host:port entries, got ${JSON.stringify(o.brokers)}`);
  }
  if (o.transport !== undefined && !TRANSPORTS.includes(o.transport)) throw new ConfigError(`${where}: options.transport must be one of ${TRANSPORTS.join(', ')}, got '${String(o.transport)}'`);
  if (o.sasl) {
    if (!['plain', 'scram-sha-256', 'scram-sha-512'].includes(o.sasl.mechanism)) throw new ConfigError(`${where}: options.sasl.mechanism must be plain, scram-sha-256 or scram-sha-512`);
    if (!o.sasl.username || typeof o.sasl.password !== 'string') throw new ConfigError(`${where}: options.sasl needs username and password`);
  }
  for (const k of ['connectionTimeoutMs', 'requestTimeoutMs'] as const) {
    if (o[k] !== undefined && !(Number.isInteger(o[k]) && o[k]! > 0)) throw new ConfigError(`${where}: options.${k} must be a positive integer`);
  }
}


/** KAFKA_BROKERS=host:port,host:port → brokers list */
export function brokersFromEnv(env = process.env): string[] | undefined {
  const v = env.KAFKA_BROKERS?.trim();
  return v ? v.split(',').map((s) => s.trim()).filter(Boolean) : undefined;
}
