/**
 * Issue #15, file and operator cases, run through the CLI as a user runs it. The inputs are built
 * here the way ../shared/repro/ builds them (that folder is not part of a clone): one record, or
 * 600, with a far-future `ts` must not steer event time; a 65-hour weekend gap is not an error;
 * valid U+FFFD and a BOM are accepted; SIGTERM stops a job whose stdin is open and idle; time-series
 * rows with impossible dates, hex values or an unterminated quote are dead-lettered; operator
 * mistakes (a port in use, a directory as input, credentials in --brokers) are one typed line and
 * a non-zero exit, never a hang.
 */
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { createServer } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { test } from 'uvu';
import * as assert from 'uvu/assert';

const root = new URL('../../', import.meta.url).pathname;
const cli = join(root, 'dist/bin/sluice.js');
const dir = mkdtempSync(join(tmpdir(), 'sluice-repro-'));
const MON_0930 = 1_795_444_200_000_000; // a Monday 09:30 UTC, in µs

interface Run { code: number | null; signal: NodeJS.Signals | null; stdout: string; stderr: string; ms: number }

/** runs the CLI; `feed` writes stdin (and may keep it open), `signalAfterMs` sends SIGTERM */
function sluice(args: string[], opts: { feed?: (w: NodeJS.WritableStream) => void; signalAfterMs?: number; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): Promise<Run & { signalledAt?: number; exitedAt: number }> {
  return new Promise((resolve) => {
    const t0 = Date.now();
    const child = spawn(process.execPath, [cli, ...args], { cwd: dir, env: { ...process.env, KAFKA_BROKERS: '', ...opts.env }, stdio: ['pipe', 'pipe', 'pipe'] });
    let stdout = '', stderr = '', signalledAt: number | undefined;
    child.stdout.on('data', (d) => { stdout += d; });
    child.stderr.on('data', (d) => { stderr += d; });
    child.stdin.on('error', () => { /* the job may exit before stdin is drained */ });
    if (opts.feed) opts.feed(child.stdin); else child.stdin.end();
    if (opts.signalAfterMs) setTimeout(() => { signalledAt = Date.now(); child.kill('SIGTERM'); }, opts.signalAfterMs);
    const kill = setTimeout(() => child.kill('SIGKILL'), opts.timeoutMs ?? 120_000);
    child.on('exit', (code, signal) => { clearTimeout(kill); resolve({ code, signal, stdout, stderr, ms: Date.now() - t0, signalledAt, exitedAt: Date.now() }); });
  });
}

const lines = (file: string) => readFileSync(file, 'utf8').split('\n').filter((l) => l !== '');
const deadCodes = (file: string) => lines(file).reduce((m, l) => { const c = JSON.parse(l).code as string; m[c] = (m[c] ?? 0) + 1; return m; }, {} as Record<string, number>);

function order(i: number, ts: number, extra: Record<string, unknown> = {}) {
  return { ...extra, ts, venue: 'XLIT', symbol: `S${i % 7}`, orderId: `O${i}`, participant: `P${i % 11}`, side: i % 2 ? 'B' : 'S', type: 'NEW', orderType: 'LIMIT', price: 100.5 + (i % 5) * 0.01, qty: 100, displayQty: 100 };
}
const jsonl = (rows: unknown[]) => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';
const write = (name: string, text: string | Buffer) => { const f = join(dir, name); writeFileSync(f, text); return f; };

/** surveillance over a file: output rows are alerts (few), so count what was scored from the summary */
async function surveil(input: string, extra: string[] = []) {
  const out = join(dir, `${input}.out.jsonl`), dead = join(dir, `${input}.dead.jsonl`);
  const r = await sluice(['run', 'surveillance', '--input', join(dir, input), '--output', out, '--dead-letters', dead, ...extra]);
  const parsed = Number(/\n\s+detector\s+score\s+(\d+)/.exec(r.stdout)?.[1] ?? NaN); // records that reached the model
  return { ...r, dead: lines(dead).length, codes: deadCodes(dead), parsed };
}

test('skewA: 600 invalid lines with a far-future ts first do not steer event time: 3,000 valid scored, 600 dead letters', async () => {
  const bad = Array.from({ length: 600 }, (_, i) => { const o = order(i, 9e15) as Record<string, unknown>; delete o.venue; return o; });
  const good = Array.from({ length: 3000 }, (_, i) => order(600 + i, MON_0930 + (600 + i) * 1000));
  write('skewA.jsonl', jsonl([...bad, ...good]));
  const r = await surveil('skewA.jsonl');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.parsed, 3000, r.stdout);
  assert.is(r.dead, 600);
  assert.equal(Object.keys(r.codes), ['SLUICE_ERR_SCHEMA']);
});

test('skewB and poison: a nested "ts", or one valid-looking record far ahead, steers nothing', async () => {
  const rows = Array.from({ length: 3600 }, (_, i) => order(i, MON_0930 + i * 1000, i < 600 ? { meta: { ts: 9e15 } } : {}));
  write('skewB.jsonl', jsonl(rows));
  const b = await surveil('skewB.jsonl');
  assert.is(b.code, 0, b.stderr);
  assert.is(b.dead, 0, JSON.stringify(b.codes));
  assert.is(b.parsed, 3600);
  // one schema-valid record 250 years ahead, then 2,000 valid: only the one is rejected
  write('poison.jsonl', jsonl([order(0, 9e15), ...Array.from({ length: 2000 }, (_, i) => order(1 + i, MON_0930 + i * 1000))]));
  const p = await surveil('poison.jsonl');
  assert.is(p.code, 0, p.stderr);
  assert.is(p.parsed, 2000, p.stdout);
  assert.equal(p.codes, { SLUICE_ERR_EVENT_TIME: 1 });
});

test('weekend: 2,000 Friday events then 2,000 Monday events 65 h later are all scored', async () => {
  const fri = MON_0930 - 65 * 3600e6;
  write('weekend.jsonl', jsonl([...Array.from({ length: 2000 }, (_, i) => order(i, fri + i * 1000)), ...Array.from({ length: 2000 }, (_, i) => order(2000 + i, MON_0930 + i * 1000))]));
  const r = await surveil('weekend.jsonl');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.dead, 0, JSON.stringify(r.codes));
  assert.is(r.parsed, 4000);
});

test('valid U+FFFD in a field and a BOM on the first line are accepted; invalid UTF-8 is dead-lettered with its bytes', async () => {
  const first = '\ufeff' + JSON.stringify(order(0, MON_0930, { note: 'caf\ufffd' }));
  const invalid = Buffer.concat([Buffer.from('{"ts":1795444200000001,"note":"'), Buffer.from([0xc3, 0x28]), Buffer.from('"}\n')]);
  write('text.jsonl', Buffer.concat([Buffer.from(first + '\n' + jsonl(Array.from({ length: 50 }, (_, i) => order(1 + i, MON_0930 + i)))), invalid]));
  const r = await surveil('text.jsonl');
  assert.is(r.code, 0, r.stderr);
  assert.is(r.parsed, 51);
  const dl = lines(join(dir, 'text.jsonl.dead.jsonl')).map((l) => JSON.parse(l));
  assert.is(dl.length, 1);
  assert.is(dl[0].code, 'SLUICE_ERR_ENCODING');
  assert.is(dl[0].payloadEncoding, 'base64');
  assert.ok(Buffer.from(dl[0].payload, 'base64').equals(invalid.subarray(0, invalid.length - 1)), 'the original bytes come back');
});

test('SIGTERM stops a job promptly while stdin is still open and idle, with its summary', async () => {
  const body = jsonl(Array.from({ length: 3000 }, (_, i) => order(i, MON_0930 + i * 1000)));
  let keepOpen: NodeJS.Timeout | undefined;
  const r = await sluice(['run', 'surveillance', '--input', '-', '--output', 'none', '--dead-letters', 'none'], {
    feed: (w) => { w.write(body); keepOpen = setTimeout(() => w.end(), 60_000); }, // stdin stays open a minute
    signalAfterMs: 8000,
  });
  clearTimeout(keepOpen);
  assert.ok(r.signalledAt !== undefined);
  const afterSignal = r.exitedAt - r.signalledAt!;
  assert.ok(afterSignal < 10_000, `exited ${afterSignal} ms after SIGTERM`);
  assert.is(r.code, 0, r.stderr);
  assert.match(r.stdout, /finished in/);
});

test('time series: impossible dates, 24:00:00, hex/binary/octal values and an unterminated quote are dead-lettered', async () => {
  const csv = ['timestamp,value', '2026-11-01 00:00:00,1', '2026-13-45 99:99:99,5', '2026-02-30 00:00:00,5', '2026-11-01 24:00:00,5',
    '2026-11-01 00:01:00,0x10', '2026-11-01 00:01:00,0b1', '2026-11-01 00:01:00,0o7', '2026-11-01 00:01:00,Infinity', '2024-02-29 00:02:00,"2.5"', '"2026-11-01 00:02:00,5'].join('\n') + '\n';
  write('series.csv', csv);
  const out = join(dir, 'series.out.csv'), dead = join(dir, 'series.dead.jsonl');
  const r = await sluice(['run', 'timeseries', '--input', join(dir, 'series.csv'), '--output', out, '--dead-letters', dead]);
  assert.is(r.code, 0, r.stderr);
  const rows = lines(out);
  assert.equal(rows.slice(1).map((l) => l.split(',')[0]), ['2026-11-01 00:00:00', '2024-02-29 00:02:00'], 'a leap day and a quoted decimal are fine');
  assert.equal(deadCodes(dead), { SLUICE_ERR_MALFORMED_CSV: 8 });
  assert.ok(lines(dead).some((l) => JSON.parse(l).reason.includes('unterminated quote')));
});

test('operator mistakes: one typed line and a non-zero exit, at once', async () => {
  write('ok.jsonl', jsonl([order(0, MON_0930)]));
  // a metrics port already in use
  const srv = createServer().listen(0, '127.0.0.1');
  await new Promise((r) => srv.once('listening', r));
  const port = (srv.address() as { port: number }).port;
  const m = await sluice(['run', 'demo', '--input', join(dir, 'ok.jsonl'), '--output', 'none', '--metrics-port', String(port)]);
  srv.close();
  assert.is(m.code, 2, m.stderr);
  assert.match(m.stderr, /SLUICE_ERR_METRICS_PORT/);
  assert.not.match(m.stderr, /\n\s+at /, 'no stack trace');
  // a directory as input; an output whose parent is a file
  mkdirSync(join(dir, 'adir'), { recursive: true });
  const d = await sluice(['run', 'demo', '--input', join(dir, 'adir'), '--output', 'none']);
  assert.is(d.code, 2, d.stderr);
  assert.match(d.stderr, /directory/);
  const o = await sluice(['run', 'demo', '--input', join(dir, 'ok.jsonl'), '--output', join(dir, 'ok.jsonl', 'out.jsonl')]);
  assert.ok(o.code !== 0, 'an unwritable output fails');
  assert.ok(o.stderr.trim().split('\n').length <= 3, o.stderr);
  // credentials in --brokers: refused, and never echoed
  const c = await sluice(['run', 'demo', '--brokers', 'alice:Secret-PW@127.0.0.1:9092']);
  assert.is(c.code, 2);
  assert.not.match(c.stderr + c.stdout, /Secret-PW/);
  // more than --max-dead-letter-rate of the input dead-lettered: exit 3
  write('half.jsonl', jsonl([order(0, MON_0930), { ts: 'no' }]));
  const h = await sluice(['run', 'demo', '--input', join(dir, 'half.jsonl'), '--output', 'none', '--dead-letters', 'none', '--max-dead-letter-rate', '0.2']);
  assert.is(h.code, 3, h.stderr);
});

test('--alert-rate: surveillance runs on an alert budget; a rate out of range or another topology is refused at once', async () => {
  write('ok2.jsonl', jsonl([order(0, MON_0930)]));
  const bad = await sluice(['run', 'surveillance', '--input', join(dir, 'ok2.jsonl'), '--output', 'none', '--alert-rate', '0.5']);
  assert.is(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--alert-rate must be a share of scored events in \(0, 0\.01\]/);
  const other = await sluice(['run', 'demo', '--input', join(dir, 'ok2.jsonl'), '--output', 'none', '--alert-rate', '0.001']);
  assert.is(other.code, 2, other.stderr);
  assert.match(other.stderr, /--alert-rate applies to the surveillance topology/);
  const run = await sluice(['run', 'surveillance', '--input', join(dir, 'ok2.jsonl'), '--output', 'none', '--alert-rate', '0.001']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout + run.stderr, /alert budget\s+0\.001 of scored events/);
});

test('--model: surveillance runs another registered detector; a bad name, a missing model or another topology is refused', async () => {
  write('ok4.jsonl', jsonl([order(0, MON_0930), order(1, MON_0930)]));
  const run = await sluice(['run', 'surveillance', '--input', join(dir, 'ok4.jsonl'), '--output', 'none', '--model', 'surveillance-pattern@1']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout + run.stderr, /model\s+surveillance-pattern@1 on/);
  const bad = await sluice(['run', 'surveillance', '--input', join(dir, 'ok4.jsonl'), '--output', 'none', '--model', '../secrets']);
  assert.is(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--model must be a model name from models\//);
  const missing = await sluice(['run', 'surveillance', '--input', join(dir, 'ok4.jsonl'), '--output', 'none', '--model', 'no-such-model']);
  assert.ok(missing.code !== 0, missing.stderr);
  assert.match(missing.stderr, /no-such-model/);
  const other = await sluice(['run', 'demo', '--input', join(dir, 'ok4.jsonl'), '--output', 'none', '--model', 'surveillance-pattern']);
  assert.is(other.code, 2, other.stderr);
  assert.match(other.stderr, /--model applies to the surveillance topology/);
});

test('--evidence-hold-ms: 0 sends alerts without waiting for evidence; out of range or another topology is refused at once', async () => {
  write('ok3.jsonl', jsonl([order(0, MON_0930)]));
  const bad = await sluice(['run', 'surveillance', '--input', join(dir, 'ok3.jsonl'), '--output', 'none', '--evidence-hold-ms', '70000']);
  assert.is(bad.code, 2, bad.stderr);
  assert.match(bad.stderr, /--evidence-hold-ms must be whole milliseconds in \[0, 60000\]/);
  const other = await sluice(['run', 'demo', '--input', join(dir, 'ok3.jsonl'), '--output', 'none', '--evidence-hold-ms', '100']);
  assert.is(other.code, 2, other.stderr);
  assert.match(other.stderr, /--evidence-hold-ms applies to the surveillance topology/);
  const run = await sluice(['run', 'surveillance', '--input', join(dir, 'ok3.jsonl'), '--output', 'none', '--evidence-hold-ms', '0']);
  assert.is(run.code, 0, run.stderr);
  assert.match(run.stdout + run.stderr, /evidence hold\s+off/);
});

test.after(() => rmSync(dir, { recursive: true, force: true }));

test.run();
