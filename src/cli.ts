#!/usr/bin/env node
/**
 * sluice — command line.
 *
 *   sluice run <topology> [--input FILE ...] [--format json|csv|lobster] [--output FILE|-|none]
 *              [--dead-letters FILE|-|none] [--speed N|max] [--events N] [--seed N]
 *              [--brokers HOST:PORT,...] [--metrics-port N]
 */
import { mkdirSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, SluiceError } from './errors.js';
import { Runtime } from './runtime.js';
import { formatSummary } from './summary.js';
import { SluiceMetrics } from './metrics.js';
import { topologies, type RunOptions } from '../topologies/index.js';

const HELP = `sluice — typed stream processing with in-process model inference

Usage:
  sluice run <topology> [options]
  sluice --help

Topologies:
${Object.entries(topologies).map(([n, t]) => `  ${n.padEnd(16)} ${t.summary}`).join('\n')}

Options:
  --input FILE        input file (repeat for several partitions; '-' = stdin).
                      Default for 'demo': generated order flow (--events, --seed)
  --format F          json (default) | csv | lobster
  --symbol S          LOBSTER: symbol (default: from the file name)
  --date YYYY-MM-DD   LOBSTER: trading day (default: from the file name)
  --output FILE       where results go: a file, '-' (stdout) or 'none' (count only).
                      Default: out/<topology>-output.jsonl (.csv for timeseries)
  --dead-letters FILE where rejected records go (default: out/<topology>-dead-letters.jsonl)
  --speed N|max       replay at N × real time, or as fast as possible (default: max)
  --events N          demo: generated events (default 300000)
  --seed N            demo: generator seed (default 1)
  --feedback FILE     surveillance: analyst verdicts, JSON lines;
                      personalization: behaviour on pushed items (impressions, clicks)
  --catalogue FILE    personalization: item catalogue, JSON lines (item-catalogue contract)
  --profiles FILE     personalization: user profiles, JSON lines (user-profile contract)
  --shed-after-ms N   personalization: load shedding (off by default): drop events more
                      than N ms behind the clock before the model; counted in
                      sluice_dropped_records_total{reason="shed"} and the summary
                      {"participant","symbol","verdict":"true_positive"|"false_positive"}
Kafka (instead of files):
  --brokers LIST      bootstrap servers, host:port[,host:port] (or KAFKA_BROKERS)
  --input-topic T     topic to read (default: orders)
  --output-topic T    topic for results (default: <topology>-out)
  --dead-letter-topic T  topic for rejected records (default: <topology>-dead-letters)
  --group-id G        consumer group: run more processes with the same group to scale out
                      (default: sluice-<topology>)
  --transport T       kafkajs (default) | confluent (librdkafka; falls back to kafkajs if absent)
  --transactional-id ID  exactly-once through Kafka transactions (stable per process slot)
  --feedback-topic T  surveillance / personalization: topic of feedback (as --feedback)
  --catalogue-topic T, --profiles-topic T   personalization: catalogue and profile topics

  --metrics-port N    serve Prometheus metrics at http://127.0.0.1:N/metrics
  --metrics-host H    address for the metrics endpoint (default 127.0.0.1: local only)
  -h, --help          this help
`;

function fail(msg: string): never {
  process.stderr.write(`sluice: ${msg}\nTry 'sluice --help'.\n`);
  process.exit(2);
}

function positiveInt(name: string, v: string | undefined, dflt: number): number {
  if (v === undefined) return dflt;
  const n = Number(v);
  if (!Number.isInteger(n) || n <= 0) throw new ConfigError(`--${name} must be a positive integer, got '${v}'`);
  return n;
}

export async function main(argv: string[]): Promise<number> {
  let parsed;
  try {
    parsed = parseArgs({
      args: argv,
      allowPositionals: true,
      strict: true,
      options: {
        input: { type: 'string', multiple: true },
        format: { type: 'string' },
        symbol: { type: 'string' },
        date: { type: 'string' },
        output: { type: 'string' },
        'dead-letters': { type: 'string' },
        speed: { type: 'string' },
        events: { type: 'string' },
        seed: { type: 'string' },
        brokers: { type: 'string' },
        'input-topic': { type: 'string' },
        'output-topic': { type: 'string' },
        'dead-letter-topic': { type: 'string' },
        'group-id': { type: 'string' },
        transport: { type: 'string' },
        'transactional-id': { type: 'string' },
        feedback: { type: 'string' },
        'feedback-topic': { type: 'string' },
        catalogue: { type: 'string' },
        'catalogue-topic': { type: 'string' },
        profiles: { type: 'string' },
        'profiles-topic': { type: 'string' },
        'shed-after-ms': { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        help: { type: 'boolean', short: 'h' },
      },
    });
  } catch (e) {
    fail((e as Error).message);
  }
  const { values: v, positionals } = parsed;
  if (v.help || positionals.length === 0) { process.stdout.write(HELP); return 0; }
  const [command, name, ...rest] = positionals;
  if (command !== 'run') fail(`unknown command '${command}'`);
  if (!name) fail('run needs a topology name');
  if (rest.length) fail(`unexpected argument '${rest[0]}'`);
  const entry = topologies[name];
  if (!entry) fail(`unknown topology '${name}'; known: ${Object.keys(topologies).join(', ')}`);
  try {
    const brokers = v.brokers ?? process.env.KAFKA_BROKERS;
    let kafka: RunOptions['kafka'];
    if (brokers) {
      const list = brokers.split(',').map((b) => b.trim()).filter(Boolean);
      if (!list.every((b) => /^[^:\s]+:\d+$/.test(b))) throw new ConfigError(`--brokers must be host:port[,host:port], got '${brokers}'`);
      if (v.input?.length) throw new ConfigError('--input and --brokers exclude each other: read files or Kafka');
      const transport = v.transport ?? 'kafkajs';
      if (transport !== 'kafkajs' && transport !== 'confluent') throw new ConfigError(`--transport must be kafkajs or confluent, got '${transport}'`);
      kafka = {
        brokers: list, transport,
        inputTopic: v['input-topic'] ?? 'orders', outputTopic: v['output-topic'] ?? `${name}-out`,
        deadLetterTopic: v['dead-letter-topic'] ?? `${name}-dead-letters`, groupId: v['group-id'] ?? `sluice-${name}`,
        ...(v['transactional-id'] ? { transactionalId: v['transactional-id'] } : {}),
        ...(v['feedback-topic'] ? { feedbackTopic: v['feedback-topic'] } : {}),
        ...(v['catalogue-topic'] ? { catalogueTopic: v['catalogue-topic'] } : {}),
        ...(v['profiles-topic'] ? { profilesTopic: v['profiles-topic'] } : {}),
      };
      if (v.feedback) throw new ConfigError('--feedback reads a file; with --brokers use --feedback-topic');
      if (v.catalogue || v.profiles) throw new ConfigError('--catalogue and --profiles read files; with --brokers use --catalogue-topic / --profiles-topic');
    } else {
      for (const k of ['input-topic', 'output-topic', 'dead-letter-topic', 'group-id', 'transport', 'transactional-id', 'feedback-topic', 'catalogue-topic', 'profiles-topic'] as const) {
        if (v[k] !== undefined) throw new ConfigError(`--${k} needs --brokers (or KAFKA_BROKERS)`);
      }
    }
    let metricsPort: number | undefined;
    if (v['metrics-port'] !== undefined) {
      metricsPort = Number(v['metrics-port']);
      if (!Number.isInteger(metricsPort) || metricsPort < 0 || metricsPort > 65535) throw new ConfigError(`--metrics-port must be a port number 0..65535, got '${v['metrics-port']}'`);
    } else if (v['metrics-host'] !== undefined) throw new ConfigError('--metrics-host needs --metrics-port');
    const format = (v.format ?? 'json') as RunOptions['format'];
    if (!['json', 'csv', 'lobster'].includes(format)) throw new ConfigError(`--format must be json, csv or lobster, got '${format}'`);
    let speed: number | 'max' = 'max';
    if (v.speed !== undefined && v.speed !== 'max') {
      speed = Number(v.speed);
      if (!(speed > 0)) throw new ConfigError(`--speed must be a number > 0 or 'max', got '${v.speed}'`);
    }
    const output = v.output ?? `out/${name}-output.${name === 'timeseries' ? 'csv' : 'jsonl'}`;
    const deadLetters = v['dead-letters'] ?? `out/${name}-dead-letters.jsonl`;
    for (const p of [output, deadLetters]) if (p !== '-' && p !== 'none') mkdirSync(dirname(p), { recursive: true });
    const opts: RunOptions = {
      ...(kafka ? { kafka } : {}),
      input: v.input ?? [], format, output, deadLetters, speed,
      events: positiveInt('events', v.events, 300_000), seed: positiveInt('seed', v.seed, 1),
      ...(v.symbol ? { symbol: v.symbol } : {}), ...(v.date ? { date: v.date } : {}),
      ...(v.feedback ? { feedback: v.feedback } : {}),
      ...(v.catalogue ? { catalogue: v.catalogue } : {}),
      ...(v.profiles ? { profiles: v.profiles } : {}),
      ...(v['shed-after-ms'] !== undefined ? { shedAfterMs: positiveInt('shed-after-ms', v['shed-after-ms'], 0) } : {}),
    };
    if (v['shed-after-ms'] !== undefined && name !== 'personalization') throw new ConfigError('--shed-after-ms applies to the personalization topology only (surveillance never sheds: a dropped order can hide manipulation)');
    if ((v.feedback || v['feedback-topic']) && name !== 'surveillance' && name !== 'personalization') throw new ConfigError('--feedback and --feedback-topic apply to the surveillance and personalization topologies');
    if ((v.catalogue || v['catalogue-topic'] || v.profiles || v['profiles-topic']) && name !== 'personalization') throw new ConfigError('--catalogue and --profiles (and their topics) apply to the personalization topology');
    const run = await entry.prepare(opts);
    const metrics = metricsPort !== undefined ? new SluiceMetrics(run.topology.name) : undefined;
    const runtime = new Runtime(run.topology, { ...(run.runtime ?? {}), ...(metrics ? { observer: metrics } : {}) });
    if (metrics) {
      metrics.attach(runtime);
      run.registerMetrics?.(metrics.registry);
      const server = await metrics.serve(metricsPort!, v['metrics-host'] ?? '127.0.0.1');
      const a = server.address() as { address: string; port: number };
      process.stderr.write(`sluice: metrics at http://${a.address}:${a.port}/metrics\n`);
    }
    let interrupted = false;
    const stop = () => { interrupted = true; runtime.stop({ drain: run.drainOnStop }); };
    process.once('SIGINT', stop);
    process.once('SIGTERM', stop);
    const summary = await runtime.run().finally(() => run.close?.());
    const log = output === '-' ? process.stderr : process.stdout;
    log.write(formatSummary(summary, { ...run.describe(), 'peak RSS': `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`, ...(interrupted ? { stopped: run.drainOnStop ? 'by signal (drained)' : 'by signal (state saved, offsets committed)' } : {}) }) + '\n');
    return 0;
  } catch (e) {
    if (e instanceof SluiceError) { process.stderr.write(`sluice: ${e.code}: ${e.message}\n`); return e.domain === 'user' ? 2 : 1; }
    throw e;
  }
}

main(process.argv.slice(2)).then((code) => { process.exitCode = code; }, (e) => { process.stderr.write(`sluice: internal error: ${(e as Error).stack ?? e}\n`); process.exitCode = 1; });
