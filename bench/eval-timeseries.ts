/**
 * `npm run eval:timeseries`: the timeseries topology on the Numenta Anomaly Benchmark's dev split
 * (../shared/data/nab-dev, 35 of NAB's 58 series; data nobody here made), scored by our NAB
 * scorer (bench/nab-scorer.ts) the way NAB's scoreboard is made, and written to
 * bench/RESULTS-timeseries.md:
 *
 *  1. the scorer reproduces NAB's own figures for the shipped Numenta HTM results;
 *  2. every file runs through the engine (`sluice run timeseries`'s topology, in this process:
 *     file source, parse, detector per series, adaptive threshold); its `anomaly_score` column is
 *     scored per profile at the threshold NAB's optimizer picks, per category and overall,
 *     against the published board;
 *  3. the `label` column's achieved alert rate against the threshold's target, per
 *     artificialNoAnomaly file (no anomalies: any alert is a false one) and overall;
 *  4. throughput (rows/s, this process, one core) and memory per series.
 *
 * Options: NAB_DIR (default ../shared/data/nab-dev).
 */
import { existsSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { RawSchema } from '../src/io.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { linesSource } from '../src/sources.js';
import type { DeadLetterSchema } from '../src/operator.js';
import { timeseriesTopology, type SeriesOut } from '../apps/timeseries/topology.js';
import { SeriesDetector } from '../apps/timeseries/detector.js';
import { NabCorpus, PROFILES, readScoreCsv, readWindows, type ProfileName, type ScoredFile } from './nab-scorer.js';

const NAB = resolve(process.env.NAB_DIR ?? join(process.cwd(), '..', 'shared', 'data', 'nab-dev'));
const TARGET_RATE = 0.005;
/** NAB's shipped thresholds for the Numenta HTM detector and its published figures on these 35 files */
const HTM_THRESHOLDS: Record<ProfileName, number> = { standard: 0.5422, reward_low_FP_rate: 0.5752, reward_low_FN_rate: 0.5422 };
const HTM_PUBLISHED: Record<ProfileName, number> = { standard: 78.43, reward_low_FP_rate: 74.25, reward_low_FN_rate: 83.32 };
const TARGETS: Record<ProfileName, number> = { standard: 80, reward_low_FP_rate: 75, reward_low_FN_rate: 85 };
const PROFILE_NAMES = Object.keys(PROFILES) as ProfileName[];

interface FileRun { name: string; category: string; file: ScoredFile; alerts: number; rows: number }

async function runFile(path: string, name: string, windows: [number, number][]): Promise<FileRun> {
  const out = collectSink<SeriesOut>(), dead = collectSink<DeadLetterSchema>();
  await new Runtime(timeseriesTopology({ source: linesSource({ paths: [path], maxLineBytes: 65_536 }), output: out, deadLetters: dead })).run();
  if (dead.rows().length) throw new Error(`${name}: ${dead.rows().length} dead letters (first: ${dead.rows()[0].reason})`);
  const rows = out.rows();
  return {
    name, category: name.split('/')[0], rows: rows.length, alerts: rows.reduce((n, r) => n + r.alert, 0),
    file: { name, timestamps: rows.map((r) => r.ts / 1000), scores: rows.map((r) => r.score), windows },
  };
}

function memoryPerSeries(): { bytes: number; snapshotBytes: number } {
  const N = 200, ROWS = 5000;
  global.gc?.();
  const used = () => { const m = process.memoryUsage(); return m.heapUsed + m.arrayBuffers; };
  const before = used();
  const ds: SeriesDetector[] = [];
  for (let k = 0; k < N; k++) {
    const d = new SeriesDetector();
    for (let i = 0; i < ROWS; i++) d.update(i * 300_000, 50 + 10 * Math.sin(i / 40 + k) + ((i * 7919 + k * 104729) % 1000) / 100);
    ds.push(d);
  }
  global.gc?.();
  const bytes = (used() - before) / N;
  const snapshotBytes = JSON.stringify(ds[0].snapshot()).length;
  return { bytes, snapshotBytes };
}

async function main(): Promise<void> {
  if (!existsSync(join(NAB, 'combined_windows.json'))) { process.stderr.write(`eval-timeseries: no NAB data at ${NAB} (set NAB_DIR)\n`); process.exit(2); }
  const windows = readWindows(join(NAB, 'combined_windows.json'));

  // 1. the scorer against NAB's figures
  const htmFiles: ScoredFile[] = [...windows].map(([name, ws]) => {
    const [cat, f] = name.split('/');
    const r = readScoreCsv(join(NAB, 'reference-results', 'numenta', cat, `numenta_${f}`), 'anomaly_score');
    return { name, timestamps: r.timestamps, scores: r.values, windows: ws };
  });
  const htm = new NabCorpus(htmFiles, 'nab');
  const htmScores = Object.fromEntries(PROFILE_NAMES.map((p) => [p, htm.at(HTM_THRESHOLDS[p], PROFILES[p]).normalized])) as Record<ProfileName, number>;

  // 2. our detector through the engine
  const runs: FileRun[] = [];
  const t0 = performance.now();
  for (const [name, ws] of windows) runs.push(await runFile(join(NAB, 'data', name), name, ws));
  const seconds = (performance.now() - t0) / 1000;
  const totalRows = runs.reduce((n, r) => n + r.rows, 0);
  const ours = new NabCorpus(runs.map((r) => r.file), 'nab');
  const oursSelf = new NabCorpus(runs.map((r) => r.file), 'self');
  const best = Object.fromEntries(PROFILE_NAMES.map((p) => [p, ours.optimize(PROFILES[p])])) as Record<ProfileName, ReturnType<NabCorpus['optimize']>>;

  // per category at the corpus-wide thresholds ('self' baseline: a category alone has no NAB null file)
  const categories = [...new Set(runs.map((r) => r.category))];
  const perCategory = categories.map((cat) => {
    const files = runs.filter((r) => r.category === cat).map((r) => r.file);
    const c = new NabCorpus(files, 'self');
    const cells = PROFILE_NAMES.map((p) => (c.windowCount === 0 ? `${c.at(best[p].threshold, PROFILES[p]).raw.toFixed(2)} raw` : c.at(best[p].threshold, PROFILES[p]).normalized.toFixed(1)));
    return `| ${cat} | ${files.length} | ${c.windowCount} | ${cells.join(' | ')} |`;
  });

  // 3. alert rate held
  const noAnomaly = runs.filter((r) => r.category === 'artificialNoAnomaly');
  const rateRows = noAnomaly.map((r) => `| ${r.name} | ${r.rows} | ${r.alerts} | ${(r.alerts / r.rows * 100).toFixed(3)}% | ${(r.alerts / r.rows / TARGET_RATE).toFixed(2)}× |`);
  const allAlerts = runs.reduce((n, r) => n + r.alerts, 0);
  const naAlerts = noAnomaly.reduce((n, r) => n + r.alerts, 0), naRows = noAnomaly.reduce((n, r) => n + r.rows, 0);

  // 4. memory
  const mem = memoryPerSeries();

  const fmt = (x: number) => x.toFixed(2);
  /** thresholds near 1 print as 1 − ε: five decimals would show them all as 1.00000 */
  const thr = (t: number) => (t > 0.999 && t < 1 ? `1 − ${(1 - t).toExponential(1)}` : t.toFixed(5));
  const report = `# Timeseries anomaly detection on NAB (dev split)

Generated by \`npm run eval:timeseries\` (bench/eval-timeseries.ts) on ${new Date().toISOString().slice(0, 10)}, on this project's 2-core machine.
Data: ${windows.size} series of the Numenta Anomaly Benchmark (\`../shared/data/nab-dev\`, NAB at ea702d75), ${totalRows.toLocaleString('en-US')} rows, ${ours.windowCount} labelled windows; the other 23 series of NAB are withheld from this project.
Every file runs through the engine (file source → parse → per-series detector → adaptive threshold, the topology \`sluice run timeseries\` runs); its \`anomaly_score\` column is scored.

## 1. The scorer reproduces NAB's

bench/nab-scorer.ts, written from NAB's published rules. The shipped Numenta HTM results at NAB's shipped thresholds:

| profile | threshold | our scorer | NAB's figure | difference |
|---|---:|---:|---:|---:|
${PROFILE_NAMES.map((p) => `| ${p} | ${HTM_THRESHOLDS[p]} | ${fmt(htmScores[p])} | ${HTM_PUBLISHED[p]} | ${(htmScores[p] - HTM_PUBLISHED[p]).toFixed(2)} |`).join('\n')}

NAB normalises against its *shipped* null-detector results, which were scored on all 58 files (null = −116·fnWeight), while "perfect" counts the windows of the files scored. On a subset that mixes two corpora; it is what NAB prints, so it is the \`nab\` baseline here. The \`self\` baseline (the null detector on these 35 files: every window missed) is the normalisation NAB means; both are given below.

## 2. Our detector, threshold chosen by the optimizer

| profile | threshold | score (NAB baseline) | score (self baseline) | target | Numenta HTM | ARTime | TP rows | FP rows | windows missed |
|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|
${PROFILE_NAMES.map((p) => { const r = best[p]; return `| ${p} | ${thr(r.threshold)} | **${fmt(r.normalized)}** | ${fmt(oursSelf.normalize(r.raw, PROFILES[p]))} | ≥ ${TARGETS[p]} | ${HTM_PUBLISHED[p]} | ${({ standard: 67.5, reward_low_FP_rate: 56.6, reward_low_FN_rate: 73.5 })[p]} | ${r.tp} | ${r.fp} | ${r.fn} of ${ours.windowCount} |`; }).join('\n')}

Published board on the same 35 files (NAB's scorer, from the data README): Numenta HTM 78.43 / 74.25 / 83.32, ARTime 67.5 / 56.6 / 73.5, KNN CAD 53.0 / 40.1 / 59.6, random 47.6 / 38.9 / 59.0. On all 58: ARTime 74.9, Numenta HTM 70.1, CAD OSE 69.9, KNN CAD 58.0, Random Cut Forest 51.7, random 11–17. Before this detector (robust z-score, issue #19) the topology scored 0.0 on every profile of all 58.

Per category, at the corpus thresholds above (self baseline; a category without windows gives its raw FP cost):

| category | files | windows | ${PROFILE_NAMES.join(' | ')} |
|---|---:|---:|${PROFILE_NAMES.map(() => '---:').join('|')}|
${perCategory.join('\n')}

## 3. The adaptive threshold holds its rate

\`label\` is the topology's own alert decision (adaptive threshold, target rate ${TARGET_RATE * 100}% per series, surprise-scale histogram, no ceiling). On series with no anomaly every alert is false:

| file | rows | alerts | achieved | vs target |
|---|---:|---:|---:|---:|
${rateRows.join('\n')}
| all artificialNoAnomaly | ${naRows} | ${naAlerts} | ${(naAlerts / naRows * 100).toFixed(3)}% | ${(naAlerts / naRows / TARGET_RATE).toFixed(2)}× |
| all ${runs.length} series | ${totalRows} | ${allAlerts} | ${(allAlerts / totalRows * 100).toFixed(3)}% | ${(allAlerts / totalRows / TARGET_RATE).toFixed(2)}× |

## 4. Cost

- Throughput through the engine, this process (one core for the pipeline): ${totalRows.toLocaleString('en-US')} rows in ${seconds.toFixed(1)} s = **${Math.round(totalRows / seconds).toLocaleString('en-US')} rows/s** (file reading, parsing, detector, threshold, collecting).
- Memory per series (200 detectors after 5,000 rows each, heap and array buffers): **${(mem.bytes / 1024).toFixed(0)} KiB**; its checkpoint (JSON snapshot): ${(mem.snapshotBytes / 1024).toFixed(0)} KiB. Fixed-size: it does not grow with the series' length.

## What it does not reach yet

The detection targets (standard ≥ 80, low-FP ≥ 75, low-FN ≥ 85, ahead of Numenta HTM) do not hold; see section 2 for where it stands against HTM and ARTime. Where it loses (per-category table): windows missed on real AWS and known-cause series where HTM fires (slow level and noise changes, bursts in spiky network and disk series that look like earlier bursts), and false positives that grow with a series' length (machine temperature, 22,695 rows). Measured on this split while choosing the design (standard, NAB baseline): nearest-neighbour novelty alone 60.2; with sustained novelty and volatility, max-combined 64.9; adding the daily seasonal deviation and combining by Fisher's method 70.7; adding the weekly deviation and dropping volatility 72.5 (shipped). Also tried and not kept: context lengths 4/8/16, memory 300/600/1500, clock weight 0/1/4/10, value-level tail measures (57), calibration histories 500–2000 (1000 best), damping 0.5/0.2/0.1, refractory 100/300/600, 24/48/96 daily slots. Each figure is from the dev split, so the shipped choice is fitted to it; the withheld 23 series will say how much of it carries over. What it would take to go further: a forecasting model per series (seasonal, with trend) whose residual replaces the slot levels, and a likelihood over a sustained window in HTM's manner.
`;
  writeFileSync(join('bench', 'RESULTS-timeseries.md'), report);
  process.stdout.write(report);
}

main().catch((e) => { process.stderr.write(`eval-timeseries: ${(e as Error).stack}\n`); process.exit(1); });
