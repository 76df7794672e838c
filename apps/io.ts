/**
 * What every application's registry entry needs for input and output, written once: a
 * generated input cached on disk for runs without --input; the output and dead-letter sinks
 * of a file run ('-' stdout, 'none' count only, else a file); and the Kafka side of a run
 * (the input source in the group, the output and dead-letter sinks, exactly-once when a
 * transactional id is given, the changelog for keyed state, and what the summary says).
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import type { Batch, Schema } from '../src/batch.js';
import type { SinkDef, SourceDef, RawSchema } from '../src/io.js';
import { DeadLetterSchema } from '../src/operator.js';
import { countSink, jsonLinesSink } from '../src/sinks.js';
import { arrowFormatOf, arrowIpcSink } from '../src/arrow-sink.js';
import { kafkaSource } from '../src/kafka/source.js';
import { deadLetterHeaders, kafkaSink } from '../src/kafka/sink.js';
import { kafkaTransactions } from '../src/kafka/exactly-once.js';
import { kafkaChangelog } from '../src/kafka/changelog.js';
import type { PartitionStateStore } from '../src/partitioned.js';
import type { KafkaRunOptions, RunOptions } from './run-options.js';

/** a generated input file under the temp folder, made once per name (the name carries seed and size) */
export function cachedInput(name: string, make: () => string): string {
  const dir = join(tmpdir(), 'sluice');
  mkdirSync(dir, { recursive: true });
  const file = join(dir, name);
  if (!existsSync(file)) writeFileSync(file, make());
  return file;
}

/**
 * the sinks of a file run, and how the summary names the output: a path ending in .arrow,
 * .feather or .ipc gets the Arrow IPC file format, .arrows the Arrow stream format (the
 * output schema's columns; nested contract fields stay JSON text in their string columns)
 */
export function fileOutputs<S extends Schema>(o: RunOptions, schema: S, serialize?: (b: Batch<S>, i: number) => string): { out: SinkDef<S>; dead: SinkDef<DeadLetterSchema>; describeOut(): string } {
  const counted = o.output === 'none' ? countSink<S>() : undefined;
  const arrowFormat = arrowFormatOf(o.output);
  const out = counted ?? (arrowFormat ? arrowIpcSink(schema, { path: o.output, format: arrowFormat }) : jsonLinesSink(schema, { path: o.output, ...(serialize ? { serialize } : {}) }));
  const dead = o.deadLetters === 'none' ? countSink<DeadLetterSchema>() : jsonLinesSink(DeadLetterSchema, { path: o.deadLetters });
  return { out, dead, describeOut: () => (counted ? `${counted.count} (not written)` : o.output) };
}

export interface KafkaIo<S extends Schema> {
  source: SourceDef<RawSchema>;
  output: SinkDef<S>;
  deadLetters: SinkDef<DeadLetterSchema>;
  /** a topic every instance reads whole (catalogue, profiles, verdicts): its own group per process */
  sharedSource(topic: string, what: string): SourceDef<RawSchema>;
  runtime: { checkpointIntervalMs: number; stateStore: PartitionStateStore };
  /** the summary's lines for input, output, dead letters, delivery and keyed state */
  describe(outputName: string): Record<string, string>;
}

/** the Kafka side of a run: one connection, exactly-once when a transactional id is set, state in <group>-changelog */
export function kafkaIo<S extends Schema>(k: KafkaRunOptions, schema: S, out: { key?: (b: Batch<S>, i: number) => string | null; serialize?: (b: Batch<S>, i: number) => string } = {}): KafkaIo<S> {
  const conn = { brokers: k.brokers, transport: k.transport };
  const eos = k.transactionalId ? { exactlyOnce: kafkaTransactions({ ...conn, transactionalId: k.transactionalId }) } : {};
  const stateStore = kafkaChangelog({ ...conn, topic: `${k.groupId}-changelog`, ...eos });
  return {
    source: kafkaSource({ ...conn, topics: [k.inputTopic], groupId: k.groupId, ...eos }),
    output: kafkaSink(schema, { ...conn, topic: k.outputTopic, ...(out.key ? { key: out.key } : {}), ...(out.serialize ? { serialize: out.serialize } : {}), ...eos }),
    deadLetters: kafkaSink(DeadLetterSchema, { ...conn, topic: k.deadLetterTopic, key: () => null, headers: deadLetterHeaders, ...eos }),
    sharedSource: (topic, what) => kafkaSource({ ...conn, topics: [topic], groupId: `${k.groupId}-${what}-${process.pid}-${Date.now()}` }),
    runtime: { checkpointIntervalMs: 1000, stateStore },
    describe: (outputName) => ({
      input: `kafka ${k.inputTopic} (group ${k.groupId}, ${k.transport})`, [outputName]: `kafka ${k.outputTopic}`, 'dead letters': `kafka ${k.deadLetterTopic}`,
      delivery: k.transactionalId ? `exactly-once (transactional id ${k.transactionalId})` : 'at-least-once', 'keyed state': `changelog ${k.groupId}-changelog`,
    }),
  };
}
