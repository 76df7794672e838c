/**
 * The ready topologies the CLI can run, by name. Each takes the validated CLI options
 * and returns what to run plus how to describe its outcome.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { basename, join } from 'node:path';
import { ConfigError } from '../src/errors.js';
import { contractValidator } from '../src/contracts.js';
import { linesSource, timeOfJsonTs } from '../src/sources.js';
import { orderFlowLines } from './demo/orderflow.js';
import type { ParseConfig } from '../operators/parse.js';
import { demoTopology, DemoWindowSchema } from './demo/topology.js';
import { simulate } from './surveillance/sim/market.js';
import { defaultMovieLensDir, readMovieLens } from './personalization/movielens.js';
import { PushFeedback, registerPushFeedbackMetrics } from './personalization/feedback.js';
import type { Registry } from 'prom-client';
import { openRecommender, PersonalizationStateBounds, personalizationTopology } from './personalization/topology.js';
import { PushSchema, pushLine } from './personalization/rank.js';
import { rng } from './demo/orderflow.js';
import { seriesCsv, SeriesOutSchema, timeseriesTopology } from './timeseries/topology.js';
import { AlertSchema, alertJson } from './surveillance/alerts.js';
import { alertBudgetThresholds, openSurveillanceModel, registerSurveillanceMetrics, SurveillanceStateBounds, SurveillanceStats, surveillanceTopology } from './surveillance/topology.js';
import type { KafkaRunOptions, PreparedRun, RunOptions } from './run-options.js';
import { cachedInput, fileOutputs, kafkaIo } from './io.js';

export type { KafkaRunOptions, PreparedRun, RunOptions } from './run-options.js';



/**
 * How a Kafka run delivers: keyed state (windows, rolling statistics, thresholds, user
 * sequences) moves with its partition through the compacted topic <group>-changelog;
 * with a transactional id, outputs, offsets and that state commit in one transaction.
 */



/** LOBSTER files are named SYMBOL_YYYY-MM-DD_start_end_message_N.csv */
export function lobsterMeta(path: string): { symbol: string; date: string } | null {
  const m = /^([A-Z.]+)_(\d{4}-\d{2}-\d{2})_\d+_\d+_message_\d+\.csv$/.exec(basename(path));
  return m ? { symbol: m[1], date: m[2] } : null;
}

function demo(o: RunOptions): PreparedRun {
  const paths = o.input.length || o.kafka ? o.input : [cachedInput(`orders-seed${o.seed}-${o.events}.jsonl`, () => orderFlowLines({ events: o.events, seed: o.seed }).join('\n') + '\n')];
  // as surveillance: a record more than a day from its partition's time is held until 8 agree (a weekend) or dead-lettered,
  // one more than a day ahead of this machine's clock at once, so one bad clock cannot make every later event late
  const guard = { maxEventTimeSkewUs: 86_400e6, maxAheadOfClockUs: 86_400e6 } as const;
  let parseCfg: ParseConfig<'order-event'>;
  if (o.format === 'lobster') {
    const meta = lobsterMeta(paths[0]);
    const symbol = o.symbol ?? meta?.symbol;
    const date = o.date ?? meta?.date;
    if (!symbol || !date) throw new ConfigError('--format lobster needs --symbol and --date (or LOBSTER file names, which carry both)');
    if (paths.length > 1) throw new ConfigError('--format lobster reads one file at a time (one symbol and day)');
    const dateUs = Date.parse(`${date}T00:00:00Z`) * 1000;
    if (!Number.isFinite(dateUs)) throw new ConfigError(`--date must be YYYY-MM-DD, got '${date}'`);
    parseCfg = { format: 'lobster', symbol, dateUs, maxEventTimeSkewUs: guard.maxEventTimeSkewUs };
  } else if (o.format === 'csv') parseCfg = { format: 'csv', contract: 'order-event', header: true, ...guard };
  else parseCfg = { format: 'json', contract: 'order-event', ...guard };
  if (o.kafka) {
    const io = kafkaIo(o.kafka, DemoWindowSchema);
    const topology = demoTopology({ source: io.source, parse: parseCfg, output: io.output, deadLetters: io.deadLetters });
    return { topology, drainOnStop: false, runtime: io.runtime, describe: () => io.describe('windows out') };
  }
  const pace = o.speed === 'max' ? undefined : {
    speedup: o.speed,
    timeOf: o.format === 'lobster' ? (l: string) => Number(l.slice(0, l.indexOf(','))) * 1e6 : timeOfJsonTs,
  };
  const { out, dead, describeOut } = fileOutputs(o, DemoWindowSchema);
  const topology = demoTopology({ source: linesSource({ paths, ...(pace ? { pace } : {}) }), parse: parseCfg, output: out, deadLetters: dead });
  return { topology, drainOnStop: true, describe: () => ({ input: paths.join(', '), 'windows out': describeOut(), 'dead letters': o.deadLetters }) };
}

async function surveillance(o: RunOptions): Promise<PreparedRun> {
  if (o.format !== 'json') throw new ConfigError('surveillance reads order events as JSON lines (--format json)');
  // checked before any worker thread starts
  const budget = {
    ...(o.alertRate !== undefined ? { threshold: alertBudgetThresholds(o.alertRate) } : {}),
    ...(o.evidenceHoldMs !== undefined ? { evidence: o.evidenceHoldMs === 0 ? false : { holdUs: o.evidenceHoldMs * 1000 } } : {}),
  };
  let paths = o.input;
  let episodesNote = '';
  if (paths.length === 0 && !o.kafka) {
    // simulated flow with labelled episodes (ground truth written beside it)
    let sim: ReturnType<typeof simulate> | undefined;
    const made = () => (sim ??= simulate({ seed: o.seed, events: o.events }));
    episodesNote = cachedInput(`surveillance-seed${o.seed}-${o.events}.episodes.jsonl`, () => made().episodes.map((e) => JSON.stringify(e)).join('\n') + '\n');
    paths = [cachedInput(`surveillance-seed${o.seed}-${o.events}.jsonl`, () => made().events.map((e) => JSON.stringify(e)).join('\n') + '\n')];
  }
  const slot = await openSurveillanceModel(o.model ?? {});
  // order events are ~250 B: a 64 KiB message is hostile. An event time more than a day from its
  // partition's is held until 8 records agree (a weekend) or dead-lettered (a bogus clock); one
  // more than a day ahead of this machine's clock cannot be live flow and is dead-lettered at once
  const parseCfg = { format: 'json', contract: 'order-event', maxLineBytes: 65_536, maxEventTimeSkewUs: 86_400e6, maxAheadOfClockUs: 86_400e6 } as const;
  const stats = new SurveillanceStats();
  const state = { ...SurveillanceStateBounds, ...o.state };
  const metrics = (name: string) => (r: Registry) => registerSurveillanceMetrics(r, stats, name);
  if (o.kafka) {
    const k = o.kafka;
    const io = kafkaIo(k, AlertSchema, { key: (b, i) => b.columns.symbol[i], serialize: alertJson });
    const topology = surveillanceTopology({
      source: io.source, parse: parseCfg, slot, stats, state, alerts: io.output, deadLetters: io.deadLetters, ...budget,
      // every instance reads every verdict
      ...(k.feedbackTopic ? { feedback: io.sharedSource(k.feedbackTopic, 'feedback') } : {}),
    });
    return { topology, drainOnStop: false, runtime: io.runtime, close: () => slot.close(), registerMetrics: metrics(topology.name), describe: () => ({ ...io.describe('alerts out'), model: slot.version }) };
  }
  const pace = o.speed === 'max' ? undefined : { speedup: o.speed, timeOf: timeOfJsonTs };
  const { out, dead, describeOut } = fileOutputs(o, AlertSchema, alertJson);
  const topology = surveillanceTopology({ source: linesSource({ paths, maxLineBytes: parseCfg.maxLineBytes, ...(pace ? { pace } : {}) }), parse: parseCfg, slot, stats, state, alerts: out, deadLetters: dead, ...budget, ...(o.feedback ? { feedback: linesSource({ paths: [o.feedback] }) } : {}) });
  return {
    topology, drainOnStop: true, close: () => slot.close(), registerMetrics: metrics(topology.name),
    describe: () => ({ input: paths.join(', '), ...(episodesNote ? { 'ground truth': episodesNote } : {}), model: `${slot.version} on ${slot.live.workers} worker thread(s)`, ...(o.alertRate !== undefined ? { 'alert budget': `${o.alertRate} of scored events` } : {}), ...(o.evidenceHoldMs !== undefined ? { 'evidence hold': o.evidenceHoldMs === 0 ? 'off (alerts sent without evidence)' : `${o.evidenceHoldMs} ms` } : {}), 'alerts out': describeOut(), 'dead letters': o.deadLetters }),
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
  const paths = o.input.length ? o.input : [cachedInput(`series-seed${o.seed}.csv`, () => demoSeries(o.seed, 20_000).join('\n') + '\n')];
  const { out, dead, describeOut } = fileOutputs(o, SeriesOutSchema, seriesCsv());
  return {
    topology: timeseriesTopology({ source: linesSource({ paths, maxLineBytes: 65_536 }), output: out, deadLetters: dead, ...(o.epochUnit ? { epochUnit: o.epochUnit } : {}) }),
    drainOnStop: true,
    describe: () => ({ input: paths.join(', '), 'scored rows out': describeOut(), 'dead letters': o.deadLetters }),
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
    const state = { ...PersonalizationStateBounds, ...o.state };
    const metrics = (name: string) => (r: Registry) => registerPushFeedbackMetrics(r, stats, name);
    if (o.kafka) {
      const k = o.kafka;
      const io = kafkaIo(k, PushSchema, { key: (b, i) => b.columns.userId[i], serialize: pushLine });
      // catalogue, profiles and feedback are shared state: every instance reads all of each
      const topology = personalizationTopology({
        events: io.source, recommender: rec, feedbackStats: stats, ...shed, state, pushes: io.output, deadLetters: io.deadLetters,
        ...(k.catalogueTopic ? { catalogue: io.sharedSource(k.catalogueTopic, 'catalogue') } : {}),
        ...(k.profilesTopic ? { profiles: io.sharedSource(k.profilesTopic, 'profiles') } : {}),
        ...(k.feedbackTopic ? { feedback: io.sharedSource(k.feedbackTopic, 'feedback') } : {}),
      });
      return { topology, drainOnStop: false, runtime: io.runtime, close: () => rec.close(), registerMetrics: metrics(topology.name), describe: () => ({ ...io.describe('pushes out'), model: rec.slot.version, catalogue: `${rec.catalogue.size} items` }) };
    }
    const pace = o.speed === 'max' ? undefined : { speedup: o.speed, timeOf: timeOfJsonTs };
    const { out, dead, describeOut } = fileOutputs(o, PushSchema, pushLine);
    // the valid catalogue and profile records are loaded before the events start, so the first
    // events see them; the files also run through the topology, where bad lines become dead letters
    if (catalogue) await rec.catalogue.upsert(validLines(catalogue, 'item-catalogue', (it) => !Array.isArray(it.vector) || it.vector.length === rec.catalogue.extraWidth) as never);
    if (profiles) for (const p of validLines(profiles, 'user-profile')) rec.profiles.put(p as never);
    const topology = personalizationTopology({
      events: linesSource({ paths, maxLineBytes: 65_536, ...(pace ? { pace } : {}) }), recommender: rec, pushes: out, deadLetters: dead, feedbackStats: stats, ...shed, state,
      ...(catalogue ? { catalogue: linesSource({ paths: [catalogue] }) } : {}),
      ...(profiles ? { profiles: linesSource({ paths: [profiles] }) } : {}),
      ...(o.feedback ? { feedback: linesSource({ paths: [o.feedback] }) } : {}),
    });
    return {
      topology, drainOnStop: true, close: () => rec.close(), registerMetrics: metrics(topology.name),
      describe: () => ({ input: note || paths.join(', '), model: `${rec.slot.version} on ${rec.slot.live.workers} worker thread(s)`, catalogue: `${rec.catalogue.size} items`, profiles: rec.profiles.size, 'pushes out': describeOut(), 'dead letters': o.deadLetters }),
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
export type TopologyOption = 'feedback' | 'catalogue' | 'profiles' | 'shed' | 'state' | 'epoch' | 'budget' | 'evidence' | 'model';

export interface TopologyEntry {
  summary: string;
  /** file extension of its default output (out/<name>-output.<ext>) */
  outputExt: 'jsonl' | 'csv';
  options: readonly TopologyOption[];
  prepare(o: RunOptions): PreparedRun | Promise<PreparedRun>;
}

export const topologies: Record<string, TopologyEntry> = {
  demo: { summary: 'order flow → parse → normalize → featurize → sliding windows per participant×symbol (files or Kafka; no model)', outputExt: 'jsonl', options: [], prepare: demo },
  timeseries: { summary: 'CSV timestamp,value rows → per-series detector (calibrated novelty) → adaptive threshold → the same rows with anomaly_score,label', outputExt: 'csv', options: ['epoch'], prepare: timeseries },
  personalization: { summary: 'behaviour events → user encoder on worker threads → retrieval over the catalogue → ranked pushes with reasons (MovieLens 100K when present)', outputExt: 'jsonl', options: ['feedback', 'catalogue', 'profiles', 'shed', 'state'], prepare: personalization },
  surveillance: { summary: 'order flow → transformer detector on worker threads → adaptive thresholds → alerts (simulated flow with labelled episodes by default)', outputExt: 'jsonl', options: ['feedback', 'state', 'budget', 'evidence', 'model'], prepare: surveillance },
};

/** the topologies that take an option, for messages */
export function topologiesTaking(option: TopologyOption): string[] {
  return Object.entries(topologies).filter(([, t]) => t.options.includes(option)).map(([n]) => n);
}
