/**
 * The Kafka Streams contender scores what Sluice scores (issue #20): the load test's own
 * order flow (the templates loadtest/run.ts sends, with the surveillance simulator's
 * episodes for variety) through the Java port of the sequence encoder and ONNX Runtime for
 * Java (`StreamsContender check`), against apps/surveillance/order-sequence.ts and
 * onnxruntime-node on the same model file. A contender that scored something else would
 * make the load test's comparison meaningless, so run.ts runs this first and stops on a
 * difference above 1e-4.
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

if (process.argv[1] && import.meta.url.endsWith(process.argv[1].split('/').pop()!)) {
  const r = await streamsParity(process.argv[2] ?? 'loadtest/streams/target/classpath');
  process.stdout.write(`streams parity: ${r.events} events, largest score difference ${r.worst.toExponential(2)}\n`);
  if (!(r.worst <= 1e-4)) process.exit(1);
}
