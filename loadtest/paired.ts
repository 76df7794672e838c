/**
 * Paired load-test runs: the same contender steps run with and without one setting,
 * alternating (A B, B A, A B …) so the machine's drift falls on both sides, and the report
 * gives each pair's figures and their ratio. On a 2-core machine shared with the broker,
 * run-to-run spread is larger than most changes (loadtest/NOTES.md): only ratios within a
 * pair, and how many pairs agree, say anything.
 *
 *   node dist/loadtest/paired.js --env LOADTEST_INLINE_SMALL=off --name inline-small
 *       [--pairs 3] [--rates 100,200,400,800] [--seconds 10] [--transports platformatic]
 *       [--only sluice-surveillance]
 *
 * Side A runs with the environment variable set (the contender reads it), side B without
 * (the default). Writes loadtest/RESULTS-<name>.md; each run's own report stays under
 * loadtest/results/.
 */
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { cpus, loadavg } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import type { StepResult } from './run.js';

const { values } = parseArgs({ options: {
  env: { type: 'string' }, name: { type: 'string' }, pairs: { type: 'string', default: '3' }, rates: { type: 'string', default: '100,200,400,800' },
  seconds: { type: 'string', default: '10' }, transports: { type: 'string', default: 'platformatic' }, only: { type: 'string', default: 'sluice-surveillance' },
} });
const m = /^([A-Z_][A-Z0-9_]*)=(.*)$/.exec(values.env ?? '');
if (!m) throw new Error('--env NAME=VALUE is required: the setting side A runs with');
if (!values.name || !/^[a-z0-9-]+$/.test(values.name)) throw new Error('--name is required (lowercase letters, digits, dashes): the report is loadtest/RESULTS-<name>.md');
const pairs = Number(values.pairs);
if (!Number.isInteger(pairs) || pairs < 1) throw new Error(`--pairs must be a positive integer, got ${values.pairs}`);
const [envName, envValue] = [m[1], m[2]];
const root = new URL('../../loadtest/', import.meta.url).pathname;
const stamp = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
const load0 = loadavg()[0];

/** one run of run.js: its step results */
function runSide(side: 'A' | 'B', pair: number): StepResult[] {
  const out = join(root, 'results', `paired-${values.name}-${stamp.replace(/:/g, '')}`, `${pair}${side}`);
  const env = { ...process.env };
  if (side === 'A') env[envName] = envValue; else delete env[envName];
  const args = [new URL('./run.js', import.meta.url).pathname, '--only', values.only!, '--transports', values.transports!, '--rates', values.rates!, '--seconds', values.seconds!, '--out', out];
  process.stdout.write(`pair ${pair} side ${side}${side === 'A' ? ` (${envName}=${envValue})` : ' (default)'}\n`);
  const r = spawnSync(process.execPath, args, { env, stdio: ['ignore', 'inherit', 'inherit'] });
  if (r.status !== 0) throw new Error(`run.js exited ${r.status} on pair ${pair} side ${side}`);
  return JSON.parse(readFileSync(join(out, 'results.json'), 'utf8')) as StepResult[];
}

const results: { pair: number; A: StepResult[]; B: StepResult[] }[] = [];
for (let p = 1; p <= pairs; p++) {
  // alternate which side goes first, so a machine that drifts over the run weighs on both
  const order: ('A' | 'B')[] = p % 2 === 1 ? ['A', 'B'] : ['B', 'A'];
  const got: Partial<Record<'A' | 'B', StepResult[]>> = {};
  for (const side of order) got[side] = runSide(side, p);
  results.push({ pair: p, A: got.A!, B: got.B! });
}

const f = (x: number | undefined) => (x === undefined || !Number.isFinite(x) ? '–' : x.toFixed(1));
const key = (r: StepResult) => `${r.contender}/${r.transport}@${r.rate}`;
const steps = [...new Set(results.flatMap((r) => [...r.A, ...r.B].map(key)))];
const lines: string[] = [];
const summary: string[] = [];
for (const k of steps) {
  const [label, rate] = k.split('@');
  const rows = results.map(({ pair, A, B }) => ({ pair, a: A.find((r) => key(r) === k), b: B.find((r) => key(r) === k) }));
  for (const { pair, a, b } of rows) {
    lines.push(`| ${label} | ${Number(rate).toLocaleString('en-US')} | ${pair} | ${f(a?.e2e.p50)} / ${f(b?.e2e.p50)} | ${f(a?.e2e.p99)} / ${f(b?.e2e.p99)} | ${a && b ? (b.e2e.p99 / a.e2e.p99).toFixed(2) : '–'} | ${f(a?.inEngine?.p99)} / ${f(b?.inEngine?.p99)} | ${a?.inEngine && b?.inEngine ? (b.inEngine.p99 / a.inEngine.p99).toFixed(2) : '–'} | ${[a?.saturated ? 'A saturated' : '', b?.saturated ? 'B saturated' : ''].filter(Boolean).join(', ')} |`);
  }
  const both = rows.filter((r) => r.a && r.b && !r.a.saturated && !r.b.saturated) as { pair: number; a: StepResult; b: StepResult }[];
  if (both.length === 0) { summary.push(`- ${label} at ${Number(rate).toLocaleString('en-US')}/s: no pair where both sides kept up.`); continue; }
  const med = (xs: number[]) => { const s = [...xs].sort((x, y) => x - y); return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2; };
  const e2eWins = both.filter((r) => r.b.e2e.p99 < r.a.e2e.p99).length;
  const engine = both.filter((r) => r.a.inEngine && r.b.inEngine);
  const engWins = engine.filter((r) => r.b.inEngine!.p99 < r.a.inEngine!.p99).length;
  summary.push(`- ${label} at ${Number(rate).toLocaleString('en-US')}/s: end-to-end p99 B/A median ${med(both.map((r) => r.b.e2e.p99 / r.a.e2e.p99)).toFixed(2)}, B lower in ${e2eWins} of ${both.length} pairs; in-engine p99 B/A median ${engine.length ? med(engine.map((r) => r.b.inEngine!.p99 / r.a.inEngine!.p99)).toFixed(2) : '–'}, B lower in ${engWins} of ${engine.length}.`);
}

const md = [
  `# Paired load test: ${values.name}`, '',
  `Run ${stamp} on ${cpus().length} × ${cpus()[0]?.model ?? '?'} (load average before ${load0.toFixed(2)}), broker on the same machine. ${pairs} pairs of \`node dist/loadtest/run.js --only ${values.only} --transports ${values.transports} --rates ${values.rates} --seconds ${values.seconds}\`, side A with \`${envName}=${envValue}\`, side B without it (the default), alternating which side runs first. Latency in ms; a ratio below 1 means B is faster.`, '',
  '## Summary (pairs where neither side saturated)', '', ...summary, '',
  '## Every pair', '',
  '| contender | offered /s | pair | e2e p50 A / B | e2e p99 A / B | e2e p99 B/A | in-engine p99 A / B | in-engine p99 B/A | |',
  '|---|---:|---:|---:|---:|---:|---:|---:|---|',
  ...lines, '',
  'Generated by `loadtest/paired.ts`; the runs\' own reports are under `loadtest/results/` (not committed).', '',
].join('\n');
writeFileSync(join(root, `RESULTS-${values.name}.md`), md);
process.stdout.write(`\n${summary.join('\n')}\n\nreport: loadtest/RESULTS-${values.name}.md\n`);
