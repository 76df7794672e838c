/**
 * The Kafka Streams contender scores what Sluice scores (issue #20): the load test's own
 * order flow (the templates loadtest/run.ts sends, with the surveillance simulator's
 * episodes for variety) through the Java port of the sequence encoder and ONNX Runtime for
 * Java (`StreamsContender check`), against apps/surveillance/order-sequence.ts and
 * onnxruntime-node on the same model file. A contender that scored something else would
 * make the load test's comparison meaningless, so run.ts runs this first and stops on a
 * difference above 1e-4.
 *
 * The windowed contender (`WindowedContender check`, the same Kafka Streams topology in
 * TopologyTestDriver) is checked the same way against Sluice's demo topology: every window
 * (participant x symbol, end) with all 14 aggregates, on the load test's order flow and on
 * the simulator's (spoofing, layering and wash-trade episodes: replaces, self-trades).
 *
 *   node dist/loadtest/streams-parity.js CLASSPATH_FILE   (exit 1 on a difference)
 */
import { execFileSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import ort from 'onnxruntime-node';
import { encodeOne } from './encode-one.js';
import { ModelRegistry } from '../src/inference/registry.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { simulate } from '../apps/surveillance/sim/market.js';
import { OrderSequenceEncoder } from '../apps/surveillance/order-sequence.js';
import { RawSchema } from '../src/io.js';
import { Runtime } from '../src/runtime.js';
import { collectSink, countSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { DemoAggregates, demoTopology, type DemoWindow } from '../apps/demo/topology.js';
import type { Row } from '../src/batch.js';

export async function streamsParity(classpathFile: string, events = 4000): Promise<{ events: number; worst: number }> {
  const model = new ModelRegistry().load('surveillance-detector');
  const lines = [
    ...orderFlowLines({ events: events / 2, seed: 77 }),
    ...simulate({ seed: 9, events: events / 2 }).events.map((e) => JSON.stringify(e)),
  ];
  // Sluice's side, as the naive contender encodes: raw JSON fields into one-row batches
  const encoder = new OrderSequenceEncoder();
  const session = await ort.InferenceSession.create(model.path, { intraOpNumThreads: 1 });
  const width = encoder.widths[0];
  const expected: number[] = [];
  for (const line of lines) {
    const buf = encodeOne(encoder, JSON.parse(line) as Record<string, unknown>);
    const r = await session.run({ events: new ort.Tensor('float32', buf, [1, encoder.length, width / encoder.length]) });
    expected.push((r.score.data as Float32Array)[0]);
  }
  const classpath = readFileSync(classpathFile, 'utf8').trim();
  const out = execFileSync('java', ['-cp', classpath, 'sluice.loadtest.StreamsContender', 'check', model.path], { input: lines.join('\n') + '\n', maxBuffer: 64 << 20 }).toString().trim().split('\n').map(Number);
  if (out.length !== expected.length) throw new Error(`streams parity: ${out.length} scores from Java for ${expected.length} events`);
  let worst = 0;
  for (let i = 0; i < out.length; i++) worst = Math.max(worst, Math.abs(out[i] - expected[i]));
  return { events: lines.length, worst };
}

export interface WindowsParity { windows: number; onlySluice: number; onlyStreams: number; worst: number; worstAt: string }

/** the demo's windows from Sluice and from the Kafka Streams contender on the same events */
export async function windowsParity(classpathFile: string, lines: string[]): Promise<WindowsParity> {
  const out = collectSink<DemoWindow>();
  const topology = demoTopology({ source: memorySource(RawSchema, [lines.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }))]), parse: { format: 'json', contract: 'order-event' }, output: out, deadLetters: countSink() });
  await new Runtime(topology).run();
  const names = ['count', ...Object.keys(DemoAggregates)];
  const sluice = new Map<string, Row<DemoWindow>>();
  for (const r of out.rows()) sluice.set(`${r.key}@${r.windowEnd}`, r);
  const classpath = readFileSync(classpathFile, 'utf8').trim();
  const java = execFileSync('java', ['-cp', classpath, 'sluice.loadtest.WindowedContender', 'check'], { input: lines.join('\n') + '\n', maxBuffer: 256 << 20 })
    .toString().trim().split('\n').filter(Boolean).map((l) => JSON.parse(l) as Record<string, number | string | null>);
  let onlyStreams = 0, worst = 0, worstAt = '', matched = 0;
  for (const w of java) {
    const r = sluice.get(`${w.key}@${w.windowEnd}`) as Record<string, unknown> | undefined;
    if (!r) { onlyStreams++; continue; }
    matched++;
    for (const n of names) {
      const a = Number(r[n]), b = w[n] === null ? NaN : Number(w[n]);
      // relative difference: sums over panes (Sluice) and over records (Kafka Streams) round differently
      const d = Number.isNaN(a) && Number.isNaN(b) ? 0 : Number.isNaN(a) !== Number.isNaN(b) ? Infinity : Math.abs(a - b) / Math.max(1, Math.abs(a));
      if (d > worst) { worst = d; worstAt = `${w.key} ending ${w.windowEnd}: ${n} ${a} vs ${b}`; }
    }
  }
  return { windows: sluice.size, onlySluice: sluice.size - matched, onlyStreams, worst, worstAt };
}

/** the order flows both parity checks use */
export function parityFlows(events = 4000): { name: string; lines: string[] }[] {
  return [
    { name: 'load-test flow', lines: orderFlowLines({ events, seed: 77 }) },
    { name: 'simulator with episodes', lines: simulate({ seed: 9, events }).events.map((e) => JSON.stringify(e)) },
  ];
}

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const r = await streamsParity(process.argv[2] ?? 'loadtest/streams/target/classpath');
  process.stdout.write(`streams parity: ${r.events} events, largest score difference ${r.worst.toExponential(2)}\n`);
  let bad = !(r.worst <= 1e-4);
  for (const f of parityFlows(20_000)) {
    const w = await windowsParity(process.argv[2] ?? 'loadtest/streams/target/classpath', f.lines);
    process.stdout.write(`windows parity (${f.name}): ${w.windows} windows from Sluice, ${w.onlySluice} only in Sluice, ${w.onlyStreams} only in Kafka Streams, largest relative difference ${w.worst.toExponential(2)}${w.worstAt ? ` (${w.worstAt})` : ''}\n`);
    if (w.onlySluice || w.onlyStreams || !(w.worst <= 1e-9)) bad = true;
  }
  if (bad) process.exit(1);
}
