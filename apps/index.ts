/**
 * The ready topologies the CLI can run, by name. Each takes the validated CLI options
 * and returns what to run plus how to describe its outcome.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ConfigError } from '../src/errors.js';
import { contractValidator } from '../src/contracts.js';
import type { SinkDef } from '../src/io.js';
import { countSink, jsonLinesSink } from '../src/sinks.js';
import { linesSource, timeOfJsonTs } from '../src/sources.js';
import type { Topology } from '../src/topology.js';
import { orderFlowLines } from './demo/orderflow.js';
import { DeadLetterSchema } from '../src/operator.js';
import type { ParseConfig } from '../operators/parse.js';
import { demoTopology, DemoWindowSchema, type DemoWindow } from './demo/topology.js';
import { kafkaSource } from '../src/kafka/source.js';
import { deadLetterHeaders, kafkaSink } from '../src/kafka/sink.js';
import { kafkaTransactions, type KafkaTransactions } from '../src/kafka/exactly-once.js';
import { kafkaChangelog } from '../src/kafka/changelog.js';
import type { PartitionStateStore } from '../src/partitioned.js';
import { simulate } from './surveillance/sim/market.js';
import { defaultMovieLensDir, readMovieLens } from './personalization/movielens.js';
import { PushFeedback, registerPushFeedbackMetrics } from './personalization/feedback.js';
import type { Registry } from 'prom-client';
import { openRecommender, PersonalizationStateBounds, personalizationTopology } from './personalization/topology.js';
import { PushSchema, pushLine } from './personalization/rank.js';
import { rng } from './demo/orderflow.js';
import { seriesCsv, SeriesOutSchema, timeseriesTopology, type SeriesOut } from './timeseries/topology.js';
import { AlertSchema, alertJson } from './surveillance/alerts.js';
import { openSurveillanceModel, registerSurveillanceMetrics, SurveillanceStateBounds, SurveillanceStats, surveillanceTopology } from './surveillance/topology.js';
import type { StateBounds } from '../src/state.js';

export interface KafkaRunOptions {
  brokers: string[];
  transport: 'kafkajs' | 'confluent';
  inputTopic: string;
  outputTopic: string;
  deadLetterTopic: string;
  groupId: string;
  /** transactional id for exactly-once; absent = at-least-once */
  transactionalId?: string;
  /** surveillance: topic of analyst verdicts; personalization: behaviour on pushes */
  feedbackTopic?: string;
  /** personalization: item catalogue and user profile topics */
  catalogueTopic?: string;
  profilesTopic?: string;
}

export interface RunOptions {
  /** set: read and write Kafka topics instead of files */
  kafka?: KafkaRunOptions;
  input: string[];
  format: 'json' | 'csv' | 'lobster';
  output: string;
  deadLetters: string;
  speed: number | 'max';
  events: number;
  seed: number;
  symbol?: string;
  date?: string;
  /** surveillance: file of analyst verdicts; personalization: behaviour on pushes */
  feedback?: string;
  /** personalization: item catalogue and user profiles (JSON lines) */
  catalogue?: string;
  profiles?: string;
  /** personalization: load shedding, events more than this behind processing time are dropped (ms; off when unset) */
  shedAfterMs?: number;
  /** surveillance, personalization: bounds on keyed state (unset fields: the topology's defaults) */
  state?: StateBounds;
}

/**
 * How a Kafka run delivers: keyed state (windows, rolling statistics, thresholds, user
 * sequences) moves with its partition through the compacted topic <group>-changelog;
 * with a transactional id, outputs, offsets and that state commit in one transaction.
 */
function kafkaDelivery(k: KafkaRunOptions): { eos: { exactlyOnce?: KafkaTransactions }; stateStore: PartitionStateStore; delivery: Record<string, string> } {
  const conn = { brokers: k.brokers, transport: k.transport };
  const eos = k.transactionalId ? { exactlyOnce: kafkaTransactions({ ...conn, transactionalId: k.transactionalId }) } : {};
  const stateStore = kafkaChangelog({ ...conn, topic: `${k.groupId}-changelog`, ...eos });
  return { eos, stateStore, delivery: { delivery: k.transactionalId ? `exactly-once (transactional id ${k.transactionalId})` : 'at-least-once', 'keyed state': `changelog ${k.groupId}-changelog` } };
}

export interface PreparedRun {
  topology: Topology;
  describe(): Record<string, string | number>;
  /** runtime settings this run needs (Kafka: checkpoints, partition state store) */
  runtime?: { checkpointIntervalMs?: number; stateStore?: PartitionStateStore };
  /** stopping by signal flushes windows (files: end of input) or keeps state for the next process (Kafka) */
  drainOnStop: boolean;
  /** release what prepare opened (inference worker pools) */
  close?(): Promise<void>;
  /** topology-specific Prometheus metrics (personalization: feedback on pushes) */
  registerMetrics?(registry: Registry): void;
}


/** LOBSTER files are named SYMBOL_YYYY-MM-DD_start_end_message_N.csv */
export function lobsterMeta(path: string): { symbol: string; date: string } | null {
  const m = /^([A-Z.]+)_(\d{4}-\d{2}-\d{2})_\d+_\d+_message_\d+\.csv$/.exec(basename(path));
  return m ? { symbol: m[1], date: m[2] } : null;
}

function demo(o: RunOptions): PreparedRun {
  let paths = o.input;
  if (paths.length === 0 && !o.kafka) {
    // generated order flow, cached by seed and size
    const dir = join(tmpdir(), 'sluice');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `orders-seed${o.seed}-${o.events}.jsonl`);
    if (!existsSync(file)) writeFileSync(file, orderFlowLines({ events: o.events, seed: o.seed }).join('\n') + '\n');
    paths = [file];
  }
  let parseCfg: ParseConfig<'order-event'>;
  if (o.format === 'lobster') {
    const meta = lobsterMeta(paths[0]);
    const symbol = o.symbol ?? meta?.symbol;
    const date = o.date ?? meta?.date;
    if (!symbol || !date) throw new ConfigError('--format lobster needs --symbol and --date (or LOBSTER file names, which carry both)');
    if (paths.length > 1) throw new ConfigError('--format lobster reads one file at a time (one symbol and day)');
    const dateUs = Date.parse(`${date}T00:00:00Z`) * 1000;
    if (!Number.isFinite(dateUs)) throw new ConfigError(`--date must be YYYY-MM-DD, got '${date}'`);
    parseCfg = { format: 'lobster', symbol, dateUs };
  } else if (o.format === 'csv') parseCfg = { format: 'csv', contract: 'order-event', header: true };
  else parseCfg = { format: 'json', contract: 'order-event' };
  const pace = o.speed === 'max' ? undefined : {
    speedup: o.speed,
    timeOf: o.format === 'lobster' ? (l: string) => Number(l.slice(0, l.indexOf(','))) * 1e6 : timeOfJsonTs,
  };
  if (o.kafka) {
    const k = o.kafka;
    const conn = { brokers: k.brokers, transport: k.transport };
    const { eos, stateStore, delivery } = kafkaDelivery(k);
    const topology = demoTopology({
      source: kafkaSource({ ...conn, topics: [k.inputTopic], groupId: k.groupId, ...eos }),
      parse: parseCfg,
      output: kafkaSink(DemoWindowSchema, { ...conn, topic: k.outputTopic, ...eos }),
      deadLetters: kafkaSink(DeadLetterSchema, { ...conn, topic: k.deadLetterTopic, key: () => null, headers: deadLetterHeaders, ...eos }),
    });
    return { topology, drainOnStop: false, runtime: { checkpointIntervalMs: 1000, stateStore }, describe: () => ({ input: `kafka ${k.inputTopic} (group ${k.groupId}, ${k.transport})`, 'windows out': `kafka ${k.outputTopic}`, 'dead letters': `kafka ${k.deadLetterTopic}`, ...delivery }) };
  }
  const out: SinkDef<DemoWindow> & { count?: number } = o.output === 'none' ? countSink<DemoWindow>() : jsonLinesSink(DemoWindowSchema, { path: o.output });
  const dead = o.deadLetters === 'none' ? countSink<DeadLetterSchema>() : jsonLinesSink(DeadLetterSchema, { path: o.deadLetters });
  const topology = demoTopology({ source: linesSource({ paths, ...(pace ? { pace } : {}) }), parse: parseCfg, output: out, deadLetters: dead });
  return {
    topology,
    drainOnStop: true,
    describe: () => ({ input: paths.join(', '), 'windows out': o.output === 'none' ? `${(out as { count: number }).count} (not written)` : o.output, 'dead letters': o.deadLetters }),
  };
}

async function surveillance(o: RunOptions): Promise<PreparedRun> {
  if (o.format !== 'json') throw new ConfigError('surveillance reads order events as JSON lines (--format json)');
  let paths = o.input;
  let episodesNote = '';
  if (paths.length === 0 && !o.kafka) {
    // simulated flow with labelled episodes (ground truth written beside it)
    const dir = join(tmpdir(), 'sluice');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `surveillance-seed${o.seed}-${o.events}.jsonl`);
    const episodes = join(dir, `surveillance-seed${o.seed}-${o.events}.episodes.jsonl`);
    if (!existsSync(file) || !existsSync(episodes)) {
      const sim = simulate({ seed: o.seed, events: o.events });
      writeFileSync(file, sim.events.map((e) => JSON.stringify(e)).join('\n') + '\n');
      writeFileSync(episodes, sim.episodes.map((e) => JSON.stringify(e)).join('\n') + '\n');
    }
    paths = [file];
    episodesNote = episodes;
  }
  const slot = await openSurveillanceModel();
  // order events are ~250 B: a 64 KiB message is hostile. An event time more than a day from its
  // partition's is held until 8 records agree (a weekend) or dead-lettered (a bogus clock); one
  // more than a day ahead of this machine's clock cannot be live flow and is dead-lettered at once
  const parseCfg = { format: 'json', contract: 'order-event', maxLineBytes: 65_536, maxEventTimeSkewUs: 86_400e6, maxAheadOfClockUs: 86_400e6 } as const;
  const stats = new SurveillanceStats();
  if (o.kafka) {
    const k = o.kafka;
    const conn = { brokers: k.brokers, transport: k.transport };
    const { eos, stateStore, delivery } = kafkaDelivery(k);
    const topology = surveillanceTopology({
      source: kafkaSource({ ...conn, topics: [k.inputTopic], groupId: k.groupId, ...eos }),
      parse: parseCfg, slot, stats, state: { ...SurveillanceStateBounds, ...o.state },
      // every instance reads every verdict: its own group per process
      ...(k.feedbackTopic ? { feedback: kafkaSource({ ...conn, topics: [k.feedbackTopic], groupId: `${k.groupId}-feedback-${process.pid}-${Date.now()}` }) } : {}),
      alerts: kafkaSink(AlertSchema, { ...conn, topic: k.outputTopic, key: (b, i) => b.columns.symbol[i], serialize: alertJson, ...eos }),
      deadLetters: kafkaSink(DeadLetterSchema, { ...conn, topic: k.deadLetterTopic, key: () => null, headers: deadLetterHeaders, ...eos }),
    });
    return { topology, drainOnStop: false, runtime: { checkpointIntervalMs: 1000, stateStore }, close: () => slot.close(), registerMetrics: (r) => registerSurveillanceMetrics(r, stats, topology.name), describe: () => ({ input: `kafka ${k.inputTopic}`, 'alerts out': `kafka ${k.outputTopic}`, 'dead letters': `kafka ${k.deadLetterTopic}`, model: slot.version, ...delivery }) };
  }
  const pace = o.speed === 'max' ? undefined : { speedup: o.speed, timeOf: timeOfJsonTs };
  const out: SinkDef<AlertSchema> & { count?: number } = o.output === 'none' ? countSink<AlertSchema>() : jsonLinesSink(AlertSchema, { path: o.output, serialize: alertJson });
  const dead = o.deadLetters === 'none' ? countSink<DeadLetterSchema>() : jsonLinesSink(DeadLetterSchema, { path: o.deadLetters });
  const topology = surveillanceTopology({ source: linesSource({ paths, maxLineBytes: parseCfg.maxLineBytes, ...(pace ? { pace } : {}) }), parse: parseCfg, slot, stats, state: { ...SurveillanceStateBounds, ...o.state }, alerts: out, deadLetters: dead, ...(o.feedback ? { feedback: linesSource({ paths: [o.feedback] }) } : {}) });
  return {
    topology, drainOnStop: true, close: () => slot.close(), registerMetrics: (r) => registerSurveillanceMetrics(r, stats, topology.name),
    describe: () => ({ input: paths.join(', '), ...(episodesNote ? { 'ground truth': episodesNote } : {}), model: `${slot.version} on ${slot.live.workers} worker thread(s)`, 'alerts out': o.output === 'none' ? `${(out as { count: number }).count} (not written)` : o.output, 'dead letters': o.deadLetters }),
  };
}

/** a demo metric: daily cycle + noise, with spikes and a level shift (seeded) */
function demoSeries(seed: number, n: number): string[] {
  const r = rng(seed);
  const lines = ['timestamp,value'];
  const t0 = Date.UTC(2026, 10, 1) * 1000;
  for (let i = 0; i < n; i++) {
    const ts = t0 + i * 60e6;
    let v = 100 + 20 * Math.sin((2 * Math.PI * i) / 1440) + (r() - 0.5) * 4;
    if (i > n * 0.7) v += 30; // level shift
    if (r() < 0.002) v += (r() < 0.5 ? -1 : 1) * (25 + r() * 25); // spikes
    lines.push(`${new Date(ts / 1000).toISOString().slice(0, 19).replace('T', ' ')},${v.toFixed(3)}`);
  }
  return lines;
}

function timeseries(o: RunOptions): PreparedRun {
  if (o.kafka) throw new ConfigError('timeseries runs on files for now (--input series.csv)');
  let paths = o.input;
  if (paths.length === 0) {
    const dir = join(tmpdir(), 'sluice');
    mkdirSync(dir, { recursive: true });
    const file = join(dir, `series-seed${o.seed}.csv`);
    if (!existsSync(file)) writeFileSync(file, demoSeries(o.seed, 20_000).join('\n') + '\n');
    paths = [file];
  }
  const out: SinkDef<SeriesOut> = o.output === 'none' ? countSink<SeriesOut>() : jsonLinesSink(SeriesOutSchema, { path: o.output, serialize: seriesCsv() });
  const dead = o.deadLetters === 'none' ? countSink<DeadLetterSchema>() : jsonLinesSink(DeadLetterSchema, { path: o.deadLetters });
  return {
    topology: timeseriesTopology({ source: linesSource({ paths }), output: out, deadLetters: dead }),
    drainOnStop: true,
    describe: () => ({ input: paths.join(', '), 'scored rows out': o.output, 'dead letters': o.deadLetters }),
  };
}

/**
 * Personalization. Default input: MovieLens 100K from ../shared/data when present
 * (events, catalogue and profiles converted to the contracts), else a synthetic stream
 * over a synthetic catalogue (clearly named as such) so the job runs anywhere.
 */
async function personalization(o: RunOptions): Promise<PreparedRun> {
  if (o.format !== 'json') throw new ConfigError('personalization reads behaviour events as JSON lines (--format json)');
  let paths = o.input, catalogue = o.catalogue, profiles = o.profiles, note = '';
  const dir = join(tmpdir(), 'sluice');
  if (paths.length === 0 && !o.kafka) {
    mkdirSync(dir, { recursive: true });
    const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
    if (existsSync(join(defaultMovieLensDir, 'u.data'))) {
      const ml = readMovieLens();
      const n = Math.min(o.events, ml.events.length);
      paths = [join(dir, `movielens-events-${n}.jsonl`)];
      writeFileSync(paths[0], jsonl(ml.events.slice(0, n)));
      catalogue ??= join(dir, 'movielens-catalogue.jsonl'); writeFileSync(catalogue, jsonl(ml.catalogue));
      profiles ??= join(dir, 'movielens-profiles.jsonl'); writeFileSync(profiles, jsonl(ml.profiles));
      note = `MovieLens 100K from ${defaultMovieLensDir} (first ${n} ratings in time order)`;
    } else {
      const r = rng(o.seed);
      const genres = ['Action', 'Comedy', 'Drama', 'Horror', 'Romance', 'Sci-Fi', 'Thriller', 'Animation'];
      const n = Math.min(o.events, 200_000);
      paths = [join(dir, `synthetic-behaviour-seed${o.seed}-${n}.jsonl`)];
      const events = Array.from({ length: n }, (_, i) => ({ ts: 1.7e15 + i * 1e5, userId: `user${1 + Math.floor(r() * 500)}`, itemId: String(1 + Math.floor(r() ** 2 * 1000)), action: r() < 0.7 ? 'rate' : 'view', value: r() < 0.7 ? 1 + Math.floor(r() * 5) : r() }));
      writeFileSync(paths[0], jsonl(events));
      catalogue ??= join(dir, 'synthetic-catalogue.jsonl');
      writeFileSync(catalogue, jsonl(Array.from({ length: 1000 }, (_, k) => ({ itemId: String(k + 1), text: `Synthetic title ${k + 1} | ${genres[k % genres.length]}`, tags: [genres[k % genres.length]] }))));
      note = 'synthetic behaviour stream and catalogue (MovieLens not found at ' + defaultMovieLensDir + ')';
    }
  }
  const rec = await openRecommender({ family: 'movielens' });
  const stats = new PushFeedback();
  const shed = o.shedAfterMs !== undefined ? { shed: { maxAgeMs: o.shedAfterMs } } : {};
  try {
    if (o.kafka) {
      const k = o.kafka;
      const conn = { brokers: k.brokers, transport: k.transport };
      // catalogue, profiles and feedback are shared state: every instance reads all of each (its own group)
      const side = (topic: string, what: string) => kafkaSource({ ...conn, topics: [topic], groupId: `${k.groupId}-${what}-${process.pid}-${Date.now()}` });
      const { eos, stateStore, delivery } = kafkaDelivery(k);
      const topology = personalizationTopology({
        events: kafkaSource({ ...conn, topics: [k.inputTopic], groupId: k.groupId, ...eos }), recommender: rec, feedbackStats: stats, ...shed, state: { ...PersonalizationStateBounds, ...o.state },
        ...(k.catalogueTopic ? { catalogue: side(k.catalogueTopic, 'catalogue') } : {}),
        ...(k.profilesTopic ? { profiles: side(k.profilesTopic, 'profiles') } : {}),
        ...(k.feedbackTopic ? { feedback: side(k.feedbackTopic, 'feedback') } : {}),
        pushes: kafkaSink(PushSchema, { ...conn, topic: k.outputTopic, key: (b, i) => b.columns.userId[i], serialize: pushLine, ...eos }),
        deadLetters: kafkaSink(DeadLetterSchema, { ...conn, topic: k.deadLetterTopic, key: () => null, headers: deadLetterHeaders, ...eos }),
      });
      return { topology, drainOnStop: false, runtime: { checkpointIntervalMs: 1000, stateStore }, close: () => rec.close(), registerMetrics: (r) => registerPushFeedbackMetrics(r, stats, topology.name), describe: () => ({ input: `kafka ${k.inputTopic}`, 'pushes out': `kafka ${k.outputTopic}`, 'dead letters': `kafka ${k.deadLetterTopic}`, model: rec.slot.version, catalogue: `${rec.catalogue.size} items`, ...delivery }) };
    }
    const pace = o.speed === 'max' ? undefined : { speedup: o.speed, timeOf: timeOfJsonTs };
    const out: SinkDef<PushSchema> = o.output === 'none' ? countSink<PushSchema>() : jsonLinesSink(PushSchema, { path: o.output, serialize: pushLine });
    const dead = o.deadLetters === 'none' ? countSink<DeadLetterSchema>() : jsonLinesSink(DeadLetterSchema, { path: o.deadLetters });
    // the valid catalogue and profile records are loaded before the events start, so the first
    // events see them; the files also run through the topology, where bad lines become dead letters
    if (catalogue) await rec.catalogue.upsert(validLines(catalogue, 'item-catalogue', (it) => !Array.isArray(it.vector) || it.vector.length === rec.catalogue.extraWidth) as never);
    if (profiles) for (const p of validLines(profiles, 'user-profile')) rec.profiles.put(p as never);
    const topology = personalizationTopology({
      events: linesSource({ paths, ...(pace ? { pace } : {}) }), recommender: rec, pushes: out, deadLetters: dead, feedbackStats: stats, ...shed, state: { ...PersonalizationStateBounds, ...o.state },
      ...(catalogue ? { catalogue: linesSource({ paths: [catalogue] }) } : {}),
      ...(profiles ? { profiles: linesSource({ paths: [profiles] }) } : {}),
      ...(o.feedback ? { feedback: linesSource({ paths: [o.feedback] }) } : {}),
    });
    return {
      topology, drainOnStop: true, close: () => rec.close(), registerMetrics: (r) => registerPushFeedbackMetrics(r, stats, topology.name),
      describe: () => ({ input: note || paths.join(', '), model: `${rec.slot.version} on ${rec.slot.live.workers} worker thread(s)`, catalogue: `${rec.catalogue.size} items`, profiles: rec.profiles.size, 'pushes out': o.output, 'dead letters': o.deadLetters }),
    };
  } catch (e) { await rec.close(); throw e; }
}

/** the records of a side file (catalogue, profiles) that are JSON and meet the contract (the others become dead letters in the run) */
function validLines(path: string, contract: 'item-catalogue' | 'user-profile', check: (o: Record<string, unknown>) => boolean = () => true): Record<string, unknown>[] {
  const valid = contractValidator(contract);
  const out: Record<string, unknown>[] = [];
  for (const l of readFileSync(path, 'utf8').split('\n')) {
    if (!l.trim()) continue;
    try { const o = JSON.parse(l) as Record<string, unknown>; if (valid(o) && check(o)) out.push(o); } catch { /* dead-lettered by the topology */ }
  }
  return out;
}

/** the options a topology takes beyond input, output and Kafka: the CLI refuses the others for it */
export type TopologyOption = 'feedback' | 'catalogue' | 'profiles' | 'shed' | 'state';

export interface TopologyEntry {
  summary: string;
  /** file extension of its default output (out/<name>-output.<ext>) */
  outputExt: 'jsonl' | 'csv';
  options: readonly TopologyOption[];
  prepare(o: RunOptions): PreparedRun | Promise<PreparedRun>;
}

export const topologies: Record<string, TopologyEntry> = {
  demo: { summary: 'order flow → parse → normalize → featurize → sliding windows per participant×symbol (files or Kafka; no model)', outputExt: 'jsonl', options: [], prepare: demo },
  timeseries: { summary: 'CSV timestamp,value rows → robust z-scores → adaptive threshold → the same rows with anomaly_score,label', outputExt: 'csv', options: [], prepare: timeseries },
  personalization: { summary: 'behaviour events → user encoder on worker threads → retrieval over the catalogue → ranked pushes with reasons (MovieLens 100K when present)', outputExt: 'jsonl', options: ['feedback', 'catalogue', 'profiles', 'shed', 'state'], prepare: personalization },
  surveillance: { summary: 'order flow → transformer detector on worker threads → adaptive thresholds → alerts (simulated flow with labelled episodes by default)', outputExt: 'jsonl', options: ['feedback', 'state'], prepare: surveillance },
};

/** the topologies that take an option, for messages */
export function topologiesTaking(option: TopologyOption): string[] {
  return Object.entries(topologies).filter(([, t]) => t.options.includes(option)).map(([n]) => n);
}
