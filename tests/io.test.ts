import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { ManualClock, systemClock } from '../src/clock.js';
import type { SourceDef } from '../src/io.js';
import { batchOf } from '../src/batch.js';
import type { OperatorDef } from '../src/operator.js';
import { OperatorHarness } from '../src/harness.js';
import { Runtime } from '../src/runtime.js';
import { collectSink } from '../src/sinks.js';
import { linesSource, timeOfJsonTs } from '../src/sources.js';
import { TopologyBuilder } from '../src/topology.js';

const dir = mkdtempSync(join(tmpdir(), 'sluice-io-'));

test('line files: one partition per file, CRLF stripped, offsets are line numbers, restore skips what was read', async () => {
  writeFileSync(join(dir, 'a.txt'), 'a0\r\na1\r\na2\r\n');
  writeFileSync(join(dir, 'b.txt'), 'b0\nb1'); // no final newline
  const src = linesSource({ paths: [join(dir, 'a.txt'), join(dir, 'b.txt')], batchSize: 2 });
  const reader = await src.open({ name: 'f', clock: systemClock });
  const got: string[] = [];
  for (;;) {
    const r = await reader.read(100);
    for (const b of r.batches) for (let i = 0; i < b.length; i++) got.push(`${b.meta.partition}:${b.columns.offset[i]}:${b.columns.value[i]}`);
    if (r.done) break;
  }
  assert.equal(got.sort(), ['0:0:a0', '0:1:a1', '0:2:a2', '1:0:b0', '1:1:b1']);
  const again = await src.open({ name: 'f', clock: systemClock, restoreFrom: { offsets: [2, 1], next: 0 } });
  const rest: string[] = [];
  for (;;) { const r = await again.read(100); for (const b of r.batches) rest.push(...b.columns.value); if (r.done) break; }
  assert.equal(rest.sort(), ['a2', 'b1']);
  try {
    await linesSource({ paths: [join(dir, 'missing')] }).open({ name: 'x', clock: systemClock });
    assert.unreachable('a missing file must be refused');
  } catch (e) {
    assert.equal((e as { code: string }).code, 'SLUICE_ERR_IO');
  }
});

test('paced replay follows event time × speedup', async () => {
  const lines = [0, 100_000, 200_000, 300_000].map((ts) => JSON.stringify({ ts }));
  writeFileSync(join(dir, 'paced.jsonl'), lines.join('\n'));
  const src = linesSource({ paths: [join(dir, 'paced.jsonl')], pace: { speedup: 2, timeOf: timeOfJsonTs } });
  const reader = await src.open({ name: 'p', clock: systemClock });
  const t0 = performance.now();
  const at: number[] = [];
  for (;;) { const r = await reader.read(100); for (const b of r.batches) for (let i = 0; i < b.length; i++) at.push(performance.now() - t0); if (r.done) break; }
  assert.equal(at.length, 4);
  // 300 ms of event time at 2× takes about 150 ms
  assert.ok(at[3] >= 140 && at[3] < 400, `last line after ${at[3].toFixed(0)} ms`);
  assert.ok(at[0] < 50);
});

test('processing-time timers fire through the harness and the runtime', async () => {
  const T = { ts: 'f64' } as const;
  const timerOp: OperatorDef<typeof T, typeof T> & { keyed: false } = {
    kind: 'timer', output: T, sides: {}, keyed: false,
    create: () => ({
      process(b, ctx) { ctx.registerTimer(ctx.clock.now() + 1000); ctx.emit(b); },
      onTimer(time, ctx) { ctx.emit(batchOf(T, [{ ts: -time }])); },
    }),
  };
  const h = new OperatorHarness(timerOp, { input: T, clock: new ManualClock(5000) });
  h.push([{ ts: 1 }]);
  h.advanceClock(999);
  assert.equal(h.output().length, 1, 'not due yet');
  h.advanceClock(1);
  assert.equal(h.output().map((r) => r.ts), [1, -6000]);

  // a source that delivers one record and then stays open until stopped
  const openSource: SourceDef<typeof T> = {
    kind: 'open', output: T,
    async open() {
      let sent = false;
      return {
        partitions: () => [0], position: () => null, close: async () => {},
        async read() {
          if (!sent) { sent = true; return { batches: [batchOf(T, [{ ts: 1 }])], done: false }; }
          await new Promise((r) => setTimeout(r, 2));
          return { batches: [], done: false };
        },
      };
    },
  };
  const t = new TopologyBuilder('timers');
  const out = collectSink<typeof T>();
  t.source('in', openSource).via('timer', timerOp).to('out', out);
  const rt = new Runtime(t.build(), { tickMs: 1 });
  const done = rt.run();
  await new Promise((r) => setTimeout(r, 60));
  rt.stop();
  await done;
  assert.equal(out.rows().length, 2, 'the record and the timer\'s output');
  assert.ok((out.rows()[1].ts as number) < 0);
});

test('CLI: --help, and clear errors with exit code 2 for bad usage', () => {
  const cli = (args: string[]) => spawnSync(process.execPath, [new URL('../bin/sluice.js', import.meta.url).pathname, ...args], { encoding: 'utf8' });
  const help = cli(['--help']);
  assert.equal(help.status, 0);
  assert.match(help.stdout, /sluice run <topology>/);
  writeFileSync(join(dir, 'msg.csv'), '34200.0,1,1,100,1000000,1\n'); // a LOBSTER message row
  for (const [args, msg] of [
    [['run', 'demo', '--events=-3'], /--events must be a positive integer/],
    [['run', 'demo', '--events', '0'], /--events must be a positive integer/],
    [['run', 'demo', '--speed', 'fast'], /--speed must be a number > 0 or 'max'/],
    [['run', 'demo', '--whatever'], /Unknown option '--whatever'/],
    [['run', 'nope'], /unknown topology 'nope'/],
    [['run', 'demo', '--input', join(dir, 'msg.csv'), '--format', 'lobster'], /needs --symbol and --date/],
    [['run', 'demo', '--input', join(dir, 'none.csv')], /cannot read input .*none\.csv.*no such file/],
  ] as [string[], RegExp][]) {
    const r = cli(args);
    assert.equal(r.status, 2, args.join(' '));
    assert.match(r.stderr, msg);
  }
});

test('CLI: runs the demo on a small generated input and reports it', () => {
  const r = spawnSync(process.execPath, [new URL('../bin/sluice.js', import.meta.url).pathname, 'run', 'demo', '--events', '20000', '--seed', '3', '--output', join(dir, 'w.jsonl'), '--dead-letters', join(dir, 'd.jsonl')], { encoding: 'utf8' });
  assert.equal(r.status, 0, r.stderr);
  assert.match(r.stdout, /events in\s+20\.0k/);
  assert.match(r.stdout, /ingest → sink latency/);
});

test.run();
