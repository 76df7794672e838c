#!/usr/bin/env node
/**
 * sluice — command line.
 *
 *   sluice run <topology> [--input FILE ...] [--format json|csv|lobster] [--output FILE|-|none]
 *              [--dead-letters FILE|-|none] [--speed N|max] [--events N] [--seed N]
 *              [--brokers HOST:PORT,...] [--metrics-port N]
 */
import type { StateBounds } from '../src/state.js';
import { closeSync, mkdirSync, openSync, statSync } from 'node:fs';
import { dirname } from 'node:path';
import { parseArgs } from 'node:util';
import { ConfigError, IoError, SluiceError } from '../src/errors.js';
import { checkTopics } from '../src/kafka/topics.js';
import { DEFAULT_TRANSPORT, TRANSPORTS, type TransportName } from '../src/kafka/config.js';
import { Runtime } from '../src/runtime.js';
import { formatSummary } from '../src/summary.js';
import { SluiceMetrics } from '../src/metrics.js';
import { topologies, topologiesTaking, type RunOptions, type TopologyOption } from '../apps/index.js';

const HELP = `sluice — typed stream processing with in-process model inference

Usage:
  sluice run <topology> [options]
  sluice --help

Topologies:
${Object.entries(topologies).map(([n, t]) => `  ${n.padEnd(16)} ${t.summary}`).join('\n')}

Options:
  --input FILE        input file (repeat for several partitions; '-' = stdin).
                      Default: generated input (surveillance: simulated order flow with
                      labelled episodes; demo: generated order flow; personalization:
                      MovieLens 100K when present; timeseries: a generated metric)
  --format F          json (default) | csv | lobster
  --symbol S          LOBSTER: symbol (default: from the file name)
  --date YYYY-MM-DD   LOBSTER: trading day (default: from the file name)
  --output FILE       where results go: a file, '-' (stdout) or 'none' (count only).
                      FILE ending .arrow/.feather/.ipc: Arrow IPC file; .arrows: Arrow stream.
                      Default: out/<topology>-output.jsonl (.csv for timeseries)
  --dead-letters FILE where rejected records go: a file, '-' (stdout) or 'none' (count only).
                      Default: out/<topology>-dead-letters.jsonl
  --max-dead-letter-rate R  fail (exit 3) when more than this share of the input (0..1)
                      was dead-lettered; above 0.1 the summary warns either way
  --speed N|max       replay at N × real time, or as fast as possible (default: max)
  --events N          generated input (no --input): events to generate (default 300000)
  --seed N            generated input (no --input): generator seed (default 1)
  --feedback FILE     surveillance: analyst verdicts, JSON lines
                      {"participant","symbol","verdict":"true_positive"|"false_positive"};
                      personalization: behaviour on pushed items (impressions, clicks)
  --catalogue FILE    personalization: item catalogue, JSON lines (item-catalogue contract)
  --profiles FILE     personalization: user profiles, JSON lines (user-profile contract)
  --alert-rate R      surveillance: the alert budget, a share of the scored events (default
                      0.0001, at most 0.01); scores at the ceiling alert beyond it while rare
  --model NAME[@V]    surveillance: the detector from models/ (default surveillance-detector,
                      its newest version); e.g. surveillance-pattern (pattern features)
  --evidence-hold-ms N  surveillance: how long an alert waits for its pattern's evidence in
                      the participant's flow (default 10000 ms of event time; 0 sends every
                      thresholded alert at once, without evidence)
  --shed-after-ms N   personalization: load shedding (off by default): drop events more
                      than N ms behind the clock before the model; counted in
                      sluice_dropped_records_total{reason="shed"} and the summary
  --state-ttl-hours H surveillance, personalization: forget a key (participant×symbol,
                      user) idle for H hours of event time (default 192; 720 for users)
  --state-max-keys N  surveillance, personalization: keys held per stage and partition;
                      past it the least recently seen go (default 100000; 1000000 users).
                      Both counted in sluice_state_evictions_total, held in sluice_state_keys
  --epoch-unit U      timeseries: epoch timestamps are s, ms or us (default auto: by digit
                      count, 9-11 s, 12-14 ms, 15-17 us; other lengths are dead letters)
Kafka (instead of files; demo, surveillance, personalization):
  --brokers LIST      bootstrap servers, host:port[,host:port] (or KAFKA_BROKERS when no
                      --input is given)
  --input-topic T     topic to read (default: orders); it must exist
  --output-topic T    topic for results (default: <topology>-out)
  --dead-letter-topic T  topic for rejected records (default: <topology>-dead-letters)
  --create-topics     create missing output and dead-letter topics (else a missing one
                      fails the run at start, naming it)
  --group-id G        consumer group: run more processes with the same group to scale out
                      (default: sluice-<topology>); keyed state: topic <group>-changelog
  --transport T       platformatic (@platformatic/kafka, default) | kafkajs | confluent (librdkafka; falls
                      back to the default if absent)
  --transactional-id ID  exactly-once through Kafka transactions (stable per process slot)
  --feedback-topic T  surveillance / personalization: topic of feedback (as --feedback)
  --catalogue-topic T, --profiles-topic T   personalization: catalogue and profile topics

  --metrics-port N    serve Prometheus metrics at http://127.0.0.1:N/metrics
  --metrics-host H    address for the metrics endpoint (default 127.0.0.1: local only)
  -h, --help          this help

Signals: SIGINT or SIGTERM stops cleanly (files: flush; Kafka: state saved, offsets
committed); a second signal, or a stop still running after 30 s, exits at once.
Exit codes: 0 done; 1 the job failed (broker, file system, internal); 2 usage or
configuration error; 3 dead-letter rate over --max-dead-letter-rate; 130 second signal.
`;

function fail(msg: string): never {
  process.stderr.write(`sluice: ${msg}\nTry 'sluice --help'.\n`);
  process.exit(2);
}

function stateBounds(ttlHours: string | undefined, maxKeys: string | undefined): StateBounds {
  const out: StateBounds = {};
  if (ttlHours !== undefined) {
    const h = Number(ttlHours);
    if (!(h > 0 && Number.isFinite(h))) throw new ConfigError(`--state-ttl-hours must be a number of hours > 0, got '${ttlHours}'`);
    out.ttlUs = h * 3600e6;
  }
  if (maxKeys !== undefined) out.maxKeys = positiveInt('state-max-keys', maxKeys, 0);
  return out;
}

function epochUnit(v: string): 'auto' | 's' | 'ms' | 'us' {
  if (v === 'auto' || v === 's' || v === 'ms' || v === 'us') return v;
  throw new ConfigError(`--epoch-unit must be auto, s, ms or us, got '${v}'`);
}

/** --model NAME[@VERSION]: a registry folder name (no path), optionally a version number */
function modelRef(v: string): { name: string; version?: string } {
  const m = /^([a-z0-9][a-z0-9-]*)(?:@([0-9]+))?$/.exec(v);
  if (!m) throw new ConfigError(`--model must be a model name from models/, optionally @VERSION (e.g. surveillance-pattern@1), got '${v}'`);
  return m[2] ? { name: m[1], version: m[2] } : { name: m[1] };
}

/** --evidence-hold-ms: whole milliseconds in [0, 60000] (0: no evidence gate) */
function holdMs(v: string): number {
  const n = Number(v);
  if (!Number.isInteger(n) || n < 0 || n > 60_000) throw new ConfigError(`--evidence-hold-ms must be whole milliseconds in [0, 60000] (0 sends alerts without waiting for evidence), got '${v}'`);
  return n;
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
        'alert-rate': { type: 'string' },
        'evidence-hold-ms': { type: 'string' },
        model: { type: 'string' },
        'epoch-unit': { type: 'string' },
        'state-ttl-hours': { type: 'string' },
        'state-max-keys': { type: 'string' },
        'metrics-port': { type: 'string' },
        'metrics-host': { type: 'string' },
        'create-topics': { type: 'boolean' },
        'max-dead-letter-rate': { type: 'string' },
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
    // KAFKA_BROKERS makes a run a Kafka run only when no --input names files to read
    const brokers = v.brokers ?? (v.input?.length ? undefined : process.env.KAFKA_BROKERS);
    let kafka: RunOptions['kafka'];
    if (brokers) {
      const list = brokers.split(',').map((b) => b.trim()).filter(Boolean);
      // the value is not echoed: a user who put credentials in it must not find them in a log
      if (list.some((b) => b.includes('@'))) throw new ConfigError('--brokers entries are host:port; credentials never go in the broker list (use SASL options); the value is not shown');
      if (list.length === 0 || !list.every((b) => /^([A-Za-z0-9._-]+|\[[0-9A-Fa-f:.]+\]):\d{1,5}$/.test(b))) throw new ConfigError(`--brokers must be host:port[,host:port], got '${brokers}'`);
      if (v.input?.length) throw new ConfigError('--input and --brokers exclude each other: read files or Kafka');
      const transport = (v.transport ?? DEFAULT_TRANSPORT) as TransportName;
      if (!TRANSPORTS.includes(transport)) throw new ConfigError(`--transport must be one of ${TRANSPORTS.join(', ')}, got '${transport}'`);
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
      for (const k of ['input-topic', 'output-topic', 'dead-letter-topic', 'group-id', 'transport', 'transactional-id', 'feedback-topic', 'catalogue-topic', 'profiles-topic', 'create-topics'] as const) {
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
    let maxDeadRate: number | undefined;
    if (v['max-dead-letter-rate'] !== undefined) {
      maxDeadRate = Number(v['max-dead-letter-rate']);
      if (!(maxDeadRate >= 0 && maxDeadRate <= 1)) throw new ConfigError(`--max-dead-letter-rate must be a share between 0 and 1, got '${v['max-dead-letter-rate']}'`);
    }
    for (const p of v.input ?? []) checkInput(p);
    for (const p of [v.feedback, v.catalogue, v.profiles]) if (p !== undefined) checkInput(p);
    const output = v.output ?? `out/${name}-output.${entry.outputExt}`;
    const deadLetters = v['dead-letters'] ?? `out/${name}-dead-letters.jsonl`;
    if (!kafka) for (const p of [output, deadLetters]) if (p !== '-' && p !== 'none') checkOutput(p);
    const opts: RunOptions = {
      ...(kafka ? { kafka } : {}),
      input: v.input ?? [], format, output, deadLetters, speed,
      events: positiveInt('events', v.events, 300_000), seed: positiveInt('seed', v.seed, 1),
      ...(v.symbol ? { symbol: v.symbol } : {}), ...(v.date ? { date: v.date } : {}),
      ...(v.feedback ? { feedback: v.feedback } : {}),
      ...(v.catalogue ? { catalogue: v.catalogue } : {}),
      ...(v.profiles ? { profiles: v.profiles } : {}),
      ...(v['shed-after-ms'] !== undefined ? { shedAfterMs: positiveInt('shed-after-ms', v['shed-after-ms'], 0) } : {}),
      ...(v['alert-rate'] !== undefined ? { alertRate: Number(v['alert-rate']) } : {}),
      ...(v['evidence-hold-ms'] !== undefined ? { evidenceHoldMs: holdMs(v['evidence-hold-ms']) } : {}),
      ...(v.model !== undefined ? { model: modelRef(v.model) } : {}),
      ...(v['epoch-unit'] !== undefined ? { epochUnit: epochUnit(v['epoch-unit']) } : {}),
      ...(v['state-ttl-hours'] !== undefined || v['state-max-keys'] !== undefined ? { state: stateBounds(v['state-ttl-hours'], v['state-max-keys']) } : {}),
    };
    // each topology says which options it takes (apps/index.ts); the others are refused for it
    const given: [TopologyOption, boolean, string][] = [
      ['state', v['state-ttl-hours'] !== undefined || v['state-max-keys'] !== undefined, '--state-ttl-hours and --state-max-keys'],
      ['shed', v['shed-after-ms'] !== undefined, '--shed-after-ms'],
      ['budget', v['alert-rate'] !== undefined, '--alert-rate'],
      ['evidence', v['evidence-hold-ms'] !== undefined, '--evidence-hold-ms'],
      ['model', v.model !== undefined, '--model'],
      ['epoch', v['epoch-unit'] !== undefined, '--epoch-unit'],
      ['feedback', Boolean(v.feedback || v['feedback-topic']), '--feedback and --feedback-topic'],
      ['catalogue', Boolean(v.catalogue || v['catalogue-topic']), '--catalogue and --catalogue-topic'],
      ['profiles', Boolean(v.profiles || v['profiles-topic']), '--profiles and --profiles-topic'],
    ];
    for (const [option, used, flags] of given) {
      if (used && !entry.options.includes(option)) throw new ConfigError(`${flags} ${flags.includes(' and ') ? 'apply' : 'applies'} to the ${topologiesTaking(option).join(' and ')} topolog${topologiesTaking(option).length > 1 ? 'ies' : 'y'}, not to ${name}${option === 'shed' ? ' (surveillance never sheds: a dropped order can hide manipulation)' : ''}`);
    }
    if (kafka) {
      // every topic the job reads or writes is there before it starts (or made, with --create-topics)
      const inputs = [kafka.inputTopic, kafka.feedbackTopic, kafka.catalogueTopic, kafka.profilesTopic].filter((t): t is string => !!t);
      const { created } = await checkTopics({ brokers: kafka.brokers }, { inputs, outputs: [kafka.outputTopic, kafka.deadLetterTopic], create: v['create-topics'] === true });
      if (created.length) process.stderr.write(`sluice: created topic(s) ${created.join(', ')}\n`);
    }
    const run = await entry.prepare(opts);
    const metrics = metricsPort !== undefined ? new SluiceMetrics(run.topology.name) : undefined;
    // a failed job ends the process within seconds: one line, a bounded best-effort close, exit
    const runtime = new Runtime(run.topology, { ...(run.runtime ?? {}), ...(metrics ? { observer: metrics } : {}), onFailure: (err) => fatal(err, run.close) });
    if (metrics) {
      metrics.attach(runtime);
      run.registerMetrics?.(metrics.registry);
      let server;
      try { server = await metrics.serve(metricsPort!, v['metrics-host'] ?? '127.0.0.1'); } catch (e) {
        await run.close?.();
        const code = (e as NodeJS.ErrnoException).code;
        throw new SluiceError('SLUICE_ERR_METRICS_PORT', code === 'EADDRINUSE' ? `--metrics-port ${metricsPort} is already in use (choose another, or 0 for any free port)` : `cannot serve metrics on ${v['metrics-host'] ?? '127.0.0.1'}:${metricsPort}: ${(e as Error).message}`);
      }
      const a = server.address() as { address: string; port: number };
      process.stderr.write(`sluice: metrics at http://${a.address}:${a.port}/metrics\n`);
    }
    let interrupted = false;
    // first SIGINT/SIGTERM: stop cleanly (Kafka: state saved, offsets committed); a second one,
    // or a clean stop that takes longer than STOP_GRACE_MS, ends the process at once
    const onSignal = (sig: NodeJS.Signals) => {
      if (interrupted) { process.stderr.write(`sluice: second ${sig}: exiting now\n`); process.exit(EXIT.SIGNAL); }
      interrupted = true;
      process.stderr.write(`sluice: ${sig}: stopping (send it again to exit at once)\n`);
      runtime.stop({ drain: run.drainOnStop });
      setTimeout(() => { process.stderr.write(`sluice: stop did not finish within ${STOP_GRACE_MS / 1000} s: exiting\n`); process.exit(EXIT.SIGNAL); }, STOP_GRACE_MS).unref();
    };
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
    const summary = await runtime.run().finally(() => run.close?.());
    const log = output === '-' ? process.stderr : process.stdout;
    log.write(formatSummary(summary, { ...run.describe(), 'peak RSS': `${(process.resourceUsage().maxRSS / 1024).toFixed(0)} MiB`, ...(interrupted ? { stopped: run.drainOnStop ? 'by signal (drained)' : 'by signal (state saved, offsets committed)' } : {}) }) + '\n');
    return deadLetterVerdict(summary, maxDeadRate);
  } catch (e) {
    if (e instanceof SluiceError) { process.stderr.write(`sluice: ${e.code}: ${e.message}\n`); return e.domain === 'user' ? EXIT.USAGE : EXIT.FAILED; }
    throw e;
  }
}

/**
 * Exit codes: 0 done; 1 the job failed (broker, file system, a bug); 2 a usage or
 * configuration error; 3 more input was dead-lettered than --max-dead-letter-rate allows;
 * 130 ended by a second signal or a stop that outlasted its grace period.
 */
export const EXIT = { OK: 0, FAILED: 1, USAGE: 2, DEAD_LETTERS: 3, SIGNAL: 130 } as const;
const STOP_GRACE_MS = 30_000;
/** share of input dead-lettered above which the summary warns (--max-dead-letter-rate makes it fail) */
const WARN_DEAD_RATE = 0.1;

function deadLetterVerdict(summary: Awaited<ReturnType<Runtime['run']>>, max: number | undefined): number {
  const input = summary.stages.filter((st) => st.kind.endsWith('source')).reduce((n, st) => n + st.recordsOut, 0);
  const dead = summary.stages.reduce((n, st) => n + (st.sideOut.dead ?? 0), 0);
  if (input === 0) return EXIT.OK;
  const rate = dead / input;
  if (max !== undefined && rate > max) {
    process.stderr.write(`sluice: SLUICE_ERR_DEAD_LETTER_RATE: ${dead} of ${input} input records (${(rate * 100).toFixed(1)}%) were dead-lettered, over --max-dead-letter-rate ${max}\n`);
    return EXIT.DEAD_LETTERS;
  }
  if (rate > WARN_DEAD_RATE) process.stderr.write(`sluice: warning: ${dead} of ${input} input records (${(rate * 100).toFixed(1)}%) were dead-lettered; see the dead letters for why (--max-dead-letter-rate R makes this a failure)\n`);
  return EXIT.OK;
}

/** an input file must be a readable regular file ('-' is stdin) */
function checkInput(p: string): void {
  if (p === '-') return;
  let st;
  try { st = statSync(p); } catch (e) {
    // a path that is not there is the operator's mistake (exit 2); anything else is the file system's (exit 1)
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') throw new ConfigError(`cannot read input '${p}': no such file`);
    throw new IoError(`cannot read input '${p}': ${(e as Error).message}`, e);
  }
  if (!st.isFile()) throw new ConfigError(`input '${p}' is ${st.isDirectory() ? 'a directory' : 'not a regular file'}; give a file (or '-' for stdin)`);
}

/** an output file must be creatable: its folder is made, and the file opened for appending once */
function checkOutput(p: string): void {
  try {
    mkdirSync(dirname(p), { recursive: true });
    closeSync(openSync(p, 'a'));
  } catch (e) {
    throw new IoError(`cannot write '${p}': ${(e as NodeJS.ErrnoException).code === 'EEXIST' || (e as NodeJS.ErrnoException).code === 'ENOTDIR' ? 'a part of its path is a file, not a folder' : (e as Error).message}`, e);
  }
}

let ending = false;
/** one line (code, stage, cause), a best-effort close bounded to a few seconds, then exit non-zero */
function fatal(err: unknown, close?: () => Promise<void>): void {
  if (ending) return;
  ending = true;
  process.stderr.write(`sluice: fatal: ${describeError(err)}\n`);
  const exit = () => process.exit(EXIT.FAILED);
  setTimeout(exit, 3000).unref();
  Promise.resolve(close?.()).catch(() => undefined).finally(() => setTimeout(exit, 100));
}

function describeError(err: unknown): string {
  if (err instanceof SluiceError) {
    const cause = err.cause instanceof Error ? err.cause : undefined;
    return `${err.code}${err.stage ? ` in stage '${err.stage}'` : ''}: ${err.message}${cause && !err.message.includes(cause.message) ? ` (cause: ${cause.message})` : ''}`;
  }
  const e = err as Error;
  return `SLUICE_ERR_INTERNAL: ${e?.message ?? String(err)}${process.env.SLUICE_DEBUG ? `\n${e?.stack}` : ' (SLUICE_DEBUG=1 prints the stack)'}`;
}

main(process.argv.slice(2)).then((code) => {
  process.exitCode = code;
  // everything is closed by now; a client handle that lingers must not keep the process up
  setTimeout(() => process.exit(code), 5000).unref();
}, (e) => fatal(e));
