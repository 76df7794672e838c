import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { OrderSchema } from '../src/contracts.js';
import { DeadLetterSchema } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { TopologyBuilder } from '../src/topology.js';
import { kafkaSink, deadLetterHeaders } from '../src/kafka/sink.js';
import { kafkaSource } from '../src/kafka/source.js';
import { orderFlowLines } from '../src/demo/orderflow.js';
import { parse } from '../operators/parse.js';
import { createTopics, readTopic, testBrokers, topicName } from './kafka/broker.js';

let brokers: string[] = [];
test.before(async () => { brokers = await testBrokers(); });

async function produce(topic: string, messages: { key: string; value: string }[]) {
  const p = new Kafka({ brokers, clientId: 'sluice-test-producer', logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  for (let i = 0; i < messages.length; i += 500) await p.send({ topic, messages: messages.slice(i, i + 500) });
  await p.disconnect();
}

test('kafkajs: events in → parsed events out in per-key order; malformed messages to the dead-letter topic with reasons and origin headers; offsets committed', async () => {
  const [input, output, dlq] = [topicName('orders'), topicName('orders-out'), topicName('orders-dlq')];
  await createTopics(brokers, [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 3 }, { topic: dlq, numPartitions: 1 }]);
  const good = orderFlowLines({ events: 3000, seed: 21 });
  const msgs = good.map((value) => ({ key: JSON.parse(value).symbol as string, value }));
  const bad = Array.from({ length: 30 }, (_, i) => ({ key: 'BAD', value: i % 2 ? '{"ts": "soon"' : JSON.stringify({ ts: 1, symbol: 'X' }) }));
  for (let i = 0; i < bad.length; i++) msgs.splice(i * 100, 0, bad[i]);
  await produce(input, msgs);

  const groupId = topicName('sluice');
  const conn = { brokers };
  const t = new TopologyBuilder('kafka-pass');
  const parsed = t.source('orders', kafkaSource({ ...conn, topics: [input], groupId })).via('parse', parse({ format: 'json', contract: 'order-event' }));
  parsed.side('dead').to('dlq', kafkaSink(DeadLetterSchema, { ...conn, topic: dlq, key: () => null, headers: deadLetterHeaders }));
  parsed.to('out', kafkaSink(OrderSchema, { ...conn, topic: output, key: (b, i) => b.columns.symbol[i] }));
  const rt = new Runtime(t.build(), { checkpointIntervalMs: 200 });
  const running = rt.run();
  const out = await readTopic(brokers, output, good.length, 60_000);
  const dead = await readTopic(brokers, dlq, bad.length, 30_000);
  rt.stop();
  await running;

  assert.equal(out.length, good.length, 'every good event came out');
  // per key (symbol → one input partition, one output partition): the same order as produced
  const bySymbol = (rows: string[]) => { const m = new Map<string, string[]>(); for (const r of rows) { const o = JSON.parse(r); m.set(o.symbol, [...(m.get(o.symbol) ?? []), `${o.orderId}/${o.type}/${o.seq}`]); } return m; };
  const want = bySymbol(good);
  const got = bySymbol(out.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset)).map((r) => r.value));
  for (const [sym, seq] of want) assert.equal(got.get(sym), seq, `order of ${sym}`);
  assert.ok(out.every((r) => r.key === JSON.parse(r.value).symbol), 'output key = symbol, as the contract says');

  assert.equal(dead.length, bad.length);
  for (const d of dead) {
    assert.ok(['SLUICE_ERR_MALFORMED_JSON', 'SLUICE_ERR_SCHEMA'].includes(d.headers['sluice-error-code']), d.headers['sluice-error-code']);
    assert.equal(d.headers['sluice-source-topic'], input);
    assert.ok(/^\d+$/.test(d.headers['sluice-source-offset']));
    assert.ok(JSON.parse(d.value).reason.length > 5);
  }

  // after a clean stop every consumed offset is committed
  const admin = new Kafka({ brokers, logLevel: logLevel.NOTHING }).admin();
  await admin.connect();
  const committed = await admin.fetchOffsets({ groupId, topics: [input] });
  const ends = await admin.fetchTopicOffsets(input);
  await admin.disconnect();
  for (const p of committed[0].partitions) assert.equal(p.offset, ends.find((e) => e.partition === p.partition)!.high, `partition ${p.partition} committed to the end`);
});

test.run();
