import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { createRequire } from 'node:module';
import { Kafka, logLevel, Partitioners } from 'kafkajs';
import { compatibilityPartitioner } from '@platformatic/kafka';
import { createTransport } from '../src/kafka/transport.js';
import { DEFAULT_TRANSPORT } from '../src/kafka/config.js';
import { OrderSchema } from '../src/contracts.js';
import { DeadLetterSchema } from '../src/operator.js';
import { Runtime } from '../src/runtime.js';
import { TopologyBuilder } from '../src/topology.js';
import { chunksBySize, kafkaSink, deadLetterHeaders } from '../src/kafka/sink.js';
import { memorySource } from '../src/sources.js';
import { kafkaSource } from '../src/kafka/source.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { parse } from '../operators/parse.js';
import { createTopics, readTopic, testBrokers, topicName } from './kafka/broker.js';

let brokers: string[] = [];
test.before(async () => { brokers = await testBrokers(); });

async function produce(topic: string, messages: { key: string; value: string; headers?: Record<string, string>; timestamp?: string }[]) {
  const p = new Kafka({ brokers, clientId: 'sluice-test-producer', logLevel: logLevel.NOTHING }).producer({ createPartitioner: Partitioners.DefaultPartitioner });
  await p.connect();
  for (let i = 0; i < messages.length; i += 500) await p.send({ topic, messages: messages.slice(i, i + 500) });
  await p.disconnect();
}

const confluentInstalled = (() => { try { createRequire(import.meta.url)('@confluentinc/kafka-javascript'); return true; } catch { return false; } })();

for (const transport of ['kafkajs', 'confluent', 'platformatic'] as const) {
  if (transport === 'confluent' && !confluentInstalled) {
    test('confluent transport asked for but not installed: one log line, then the default transport does the work', () => {
      const src = kafkaSource({ brokers, transport: 'confluent', topics: ['x'], groupId: 'g' });
      assert.equal(createTransport({ brokers: ['127.0.0.1:1'], transport: 'confluent' }).name, DEFAULT_TRANSPORT);
      assert.equal(src.transportName(), DEFAULT_TRANSPORT);
      process.stdout.write('\n  note: @confluentinc/kafka-javascript is not installed (bash scripts/install-confluent.sh); its transport was not exercised\n');
    });
    continue;
  }
  test(`${transport}: events in → parsed events out in per-key order; malformed messages to the dead-letter topic with reasons and origin headers; offsets committed`, async () => {
  const [input, output, dlq] = [topicName('orders'), topicName('orders-out'), topicName('orders-dlq')];
  await createTopics(brokers, [{ topic: input, numPartitions: 3 }, { topic: output, numPartitions: 3 }, { topic: dlq, numPartitions: 1 }]);
  const good = orderFlowLines({ events: 3000, seed: 21 });
  // each good record carries a header and a record time that must reach its output
  const t0 = Date.UTC(2026, 0, 2);
  const msgs: { key: string; value: string; headers?: Record<string, string>; timestamp?: string }[] = good.map((value) => {
    const o = JSON.parse(value);
    return { key: o.symbol as string, value, headers: { 'trace-id': `t${o.seq}` }, timestamp: String(t0 + (o.seq as number)) };
  });
  const bad = Array.from({ length: 30 }, (_, i) => ({ key: 'BAD', value: i % 2 ? '{"ts": "soon"' : JSON.stringify({ ts: 1, symbol: 'X' }) }));
  for (let i = 0; i < bad.length; i++) msgs.splice(i * 100, 0, bad[i]);
  await produce(input, msgs);

  const groupId = topicName('sluice');
  const conn = { brokers, transport };
  const t = new TopologyBuilder('kafka-pass');
  const source = kafkaSource({ ...conn, topics: [input], groupId });
  const parsed = t.source('orders', source).via('parse', parse({ format: 'json', contract: 'order-event' }));
  parsed.side('dead').to('dlq', kafkaSink(DeadLetterSchema, { ...conn, topic: dlq, key: () => null, headers: deadLetterHeaders }));
  parsed.to('out', kafkaSink(OrderSchema, { ...conn, topic: output, key: (b, i) => b.columns.symbol[i] }));
  const rt = new Runtime(t.build(), { checkpointIntervalMs: 200 });
  const running = rt.run();
  await new Promise((r) => setTimeout(r, 0));
  const out = await readTopic(brokers, output, good.length, 60_000);
  const dead = await readTopic(brokers, dlq, bad.length, 30_000);
  rt.stop();
  await running;
  assert.equal(source.transportName(), transport, 'the transport asked for is the one used');

  assert.equal(out.length, good.length, 'every good event came out');
  // per key (symbol → one input partition, one output partition): the same order as produced
  const bySymbol = (rows: string[]) => { const m = new Map<string, string[]>(); for (const r of rows) { const o = JSON.parse(r); m.set(o.symbol, [...(m.get(o.symbol) ?? []), `${o.orderId}/${o.type}/${o.seq}`]); } return m; };
  const want = bySymbol(good);
  const got = bySymbol(out.sort((a, b) => a.partition - b.partition || Number(a.offset) - Number(b.offset)).map((r) => r.value));
  for (const [sym, seq] of want) assert.equal(got.get(sym), seq, `order of ${sym}`);
  assert.ok(out.every((r) => r.key === JSON.parse(r.value).symbol), 'output key = symbol, as the contract says');
  for (const r of out) {
    const seq = JSON.parse(r.value).seq;
    assert.equal(r.headers['trace-id'], `t${seq}`, 'input headers carried through');
    assert.equal(r.timestamp, String(t0 + seq), 'input record time carried through');
  }

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
}

for (const transport of confluentInstalled ? ['kafkajs', 'confluent', 'platformatic'] as const : ['kafkajs', 'platformatic'] as const) {
  test(`${transport}: a slow sink pushes back to the consumer: bounded buffers, no rebalance, nothing lost`, async () => {
    const [input] = [topicName('bp-in')];
    await createTopics(brokers, [{ topic: input, numPartitions: 2 }]);
    const lines = orderFlowLines({ events: 6000, seed: 31 });
    await produce(input, lines.map((value) => ({ key: JSON.parse(value).symbol, value })));
    const source = kafkaSource({ brokers, transport, topics: [input], groupId: topicName('bp'), maxBufferedPerPartition: 200, sessionTimeoutMs: 6000, heartbeatIntervalMs: 500 });
    const t = new TopologyBuilder('slow');
    let seen = 0;
    t.source('in', source).to('slow', {
      kind: 'slow-sink',
      // 6,000 records at ~100 per 60 ms: about 4 s, most of a session timeout of 6 s
      async open() { return { write: (b) => { seen += b.length; return new Promise<void>((r) => setTimeout(r, 60)); }, close: async () => {} }; },
    });
    const rt = new Runtime(t.build(), { queueCapacity: 100, sourceBatchSize: 100, checkpointIntervalMs: 500 });
    const running = rt.run();
    const deadline = Date.now() + 60_000;
    while (seen < lines.length && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    rt.stop();
    await running;
    // the rebalance check first: after one, at-least-once redelivers what was not yet committed,
    // and the count below would fail without saying why (seen once in CI: 6,100 of 6,000)
    assert.equal(source.stats.assignments, 1, `no rebalance while the sink was slow (assignments ${source.stats.assignments}, ${seen} records seen)`);
    assert.equal(seen, lines.length, 'every record reached the slow sink, once');
    assert.ok(source.stats.backpressureEvents > 0, 'the consumer was pushed back');
    // a fetch may land on a full buffer once: bounded by the cap plus one fetch (256 KiB of records)
    const bound = 200 + Math.ceil((256 * 1024) / Math.min(...lines.map((l) => l.length)));
    assert.ok(source.stats.maxBuffered <= bound, `buffered at most ${source.stats.maxBuffered} (bound ${bound})`);
  });
}

for (const transport of ['kafkajs', ...(confluentInstalled ? ['confluent' as const] : []), 'platformatic'] as const) {
  test(`${transport}: writes that add up to more than the broker takes in one request are split, in order, none lost`, async () => {
    // 2,500 records of ~2 KiB to one partition: 5 MiB coalesced, against message.max.bytes 1 MiB
    const topic = topicName('big-out');
    await createTopics(brokers, [{ topic, numPartitions: 1 }]);
    const S = { n: 'i32', text: 'str' } as const;
    const rows = Array.from({ length: 2500 }, (_, n) => ({ n, text: `“${'x'.repeat(2000)}” ${n}` }));
    const t = new TopologyBuilder('big');
    t.source('rows', memorySource(S, [rows], { batchSize: 1250 })).to('out', kafkaSink(S, { brokers, transport, topic, key: () => 'k' }));
    await new Runtime(t.build()).run();
    const out = await readTopic(brokers, topic, rows.length, 60_000);
    assert.equal(out.length, rows.length);
    assert.equal(out.map((r) => (JSON.parse(r.value) as { n: number }).n), rows.map((r) => r.n), 'all of them, in order');
  });
}

test('platformatic and kafkajs put a key on the same partition (Java\'s murmur2)', () => {
  const kafkajs = Partitioners.DefaultPartitioner();
  for (const n of [1, 3, 7, 12]) {
    const partitionMetadata = Array.from({ length: n }, (_, partitionId) => ({ partitionId, leader: 0, partitionErrorCode: 0, replicas: [0], isr: [0] }));
    for (const k of ['AAPL', 'GOOG', 'u-1', 'u-42', 'P17|MSFT', 'k0', 'k63', 'ünïcode']) {
      const want = kafkajs({ topic: 't', partitionMetadata, message: { key: k, value: null } });
      // the producer takes the partitioner's figure modulo the partition count
      assert.equal(compatibilityPartitioner({} as never, Buffer.from(k)) % n, want, `${k} over ${n} partitions`);
    }
  }
});

test('chunksBySize keeps order and never passes the bound but for a single oversized message', () => {
  const m = (n: number) => ({ key: null, value: 'v'.repeat(n) });
  const parts = chunksBySize([m(300), m(300), m(300), m(5000), m(10)], 1024);
  assert.equal(parts.map((p) => p.map((x) => x.value.length)), [[300, 300], [300], [5000], [10]]);
});

test('CLI: sluice run demo --brokers reads a topic, writes windows to a topic, and stops cleanly on SIGTERM', async () => {
  const [input, output, dlq] = [topicName('cli-in'), topicName('cli-out'), topicName('cli-dlq')];
  await createTopics(brokers, [{ topic: input, numPartitions: 2 }, { topic: output, numPartitions: 2 }, { topic: dlq, numPartitions: 1 }]);
  const lines = orderFlowLines({ events: 12000, seed: 12 }); // ~6 s of event time: windows close while it runs
  await produce(input, [...lines.map((value) => ({ key: JSON.parse(value).symbol, value })), { key: 'x', value: 'not json' }]);
  const { spawn } = await import('node:child_process');
  const child = spawn(process.execPath, [new URL('../bin/sluice.js', import.meta.url).pathname, 'run', 'demo', '--brokers', brokers.join(','), '--input-topic', input, '--output-topic', output, '--dead-letter-topic', dlq, '--group-id', topicName('cli'), '--metrics-port', '0'], { stdio: ['ignore', 'pipe', 'pipe'] });
  let stdout = '', stderr = '';
  child.stdout.on('data', (d) => { stdout += d; });
  child.stderr.on('data', (d) => { stderr += d; });
  const dead = await readTopic(brokers, dlq, 1, 60_000);
  const windows = await readTopic(brokers, output, 50, 60_000);
  // Kafka metrics from the live endpoint: lag per partition, commit round trips, paused partitions
  const url = /metrics at (http:\/\/127\.0\.0\.1:\d+\/metrics)/.exec(stderr)?.[1];
  assert.ok(url, `metrics address in: ${stderr}`);
  let text = '';
  for (let i = 0; i < 50 && !/^sluice_kafka_commit_seconds_count\{[^}]*result="ok"\} [1-9]/m.test(text); i++) { await new Promise((r) => setTimeout(r, 200)); text = await (await fetch(url!)).text(); }
  const lags = [...text.matchAll(new RegExp(`^sluice_kafka_consumer_lag_records\\{topology="demo",stage="orders",topic="${input}",partition="(\\d)"\\} (\\d+)$`, 'gm'))];
  assert.equal(lags.map((m) => m[1]).sort().join(','), '0,1', 'lag for both input partitions');
  assert.match(text, /^sluice_kafka_commit_seconds_count\{topology="demo",stage="orders",result="ok"\} [1-9]/m);
  assert.match(text, /^sluice_kafka_paused_partitions\{topology="demo",stage="orders"\} \d+$/m);
  child.kill('SIGTERM');
  const code = await new Promise((r) => child.once('exit', r));
  assert.equal(code, 0);
  assert.equal(dead.length, 1);
  assert.equal(dead[0].headers['sluice-error-code'], 'SLUICE_ERR_MALFORMED_JSON');
  assert.ok(windows.length >= 50, `windows out: ${windows.length}`);
  const w = JSON.parse(windows[0].value);
  assert.type(w.key, 'string');
  assert.equal(w.windowEnd - w.windowStart, 10_000_000);
  assert.ok(w.events > 0, `events in the first window: ${w.events}`);
  assert.match(stdout, /stopped\s+by signal \(state saved, offsets committed\)/);
  assert.match(stdout, /keyed state\s+changelog /);
});

test.run();
