import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { RawSchema } from '../src/io.js';
import { SluiceMetrics } from '../src/metrics.js';
import { Runtime } from '../src/runtime.js';
import { countSink } from '../src/sinks.js';
import { memorySource } from '../src/sources.js';
import { orderFlowLines } from '../apps/demo/orderflow.js';
import { demoTopology } from '../apps/demo/topology.js';
import { simulate } from '../apps/surveillance/sim/market.js';
import type { AlertSchema } from '../apps/surveillance/alerts.js';
import { registerSurveillanceMetrics, SurveillanceStats, surveillanceTopology } from '../apps/surveillance/topology.js';

test('metrics: /metrics on 127.0.0.1 exports stage counters, queues, watermark lag, latency and dead letters by code', async () => {
  const lines = [...orderFlowLines({ events: 5000, seed: 2 }), 'not json', '{"ts": 1}'];
  const topology = demoTopology({ source: memorySource(RawSchema, [lines.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 }))]), parse: { format: 'json', contract: 'order-event' }, output: countSink(), deadLetters: countSink() });
  const metrics = new SluiceMetrics(topology.name);
  const rt = new Runtime(topology, { observer: metrics });
  metrics.attach(rt);
  const server = await metrics.serve(0);
  const addr = server.address() as { address: string; port: number };
  assert.equal(addr.address, '127.0.0.1', 'local only by default');
  await rt.run();
  const res = await fetch(`http://127.0.0.1:${addr.port}/metrics`);
  assert.equal(res.status, 200);
  const text = await res.text();
  server.close();
  const value = (re: RegExp) => { const m = re.exec(text); assert.ok(m, `metric matching ${re}`); return Number(m![1]); };
  assert.equal(value(/^sluice_stage_records_in_total\{topology="demo",stage="parse",kind="parse"\} (\d+)/m), 5002);
  assert.equal(value(/^sluice_dead_letters_total\{topology="demo",stage="parse",code="SLUICE_ERR_MALFORMED_JSON"\} (\d+)/m), 1);
  assert.equal(value(/^sluice_dead_letters_total\{topology="demo",stage="parse",code="SLUICE_ERR_SCHEMA"\} (\d+)/m), 1);
  assert.ok(value(/^sluice_ingest_to_output_seconds_count\{topology="demo",sink="windows-out"\} (\d+)/m) > 0);
  assert.ok(value(/^sluice_stage_busy_seconds_total\{topology="demo",stage="featurize",kind="featurize"\} ([\d.e-]+)/m) > 0);
  assert.match(text, /^sluice_edge_queued_records\{topology="demo",from="parse",to="watermarks"\} 0$/m);
  assert.match(text, /^# TYPE sluice_watermark_lag_seconds gauge$/m);
  assert.match(text, /^sluice_process_resident_memory_bytes \d+/m);
  // per-operator processing latency, idle time, source partitions
  assert.ok(value(/^sluice_stage_processing_seconds_count\{topology="demo",stage="parse"\} (\d+)/m) >= 5);
  assert.ok(value(/^sluice_stage_idle_seconds_total\{topology="demo",stage="parse",kind="parse"\} ([\d.e-]+)/m) >= 0);
  assert.equal(value(/^sluice_source_partitions\{topology="demo",stage="orders"\} (\d+)/m), 1);
  assert.equal(value(/^sluice_source_idle_partitions\{topology="demo",stage="orders"\} (\d+)/m), 0);
  // bounded keyed state: keys held per stage, and evictions by reason (none on this small input)
  assert.ok(value(/^sluice_state_keys\{topology="demo",stage="featurize"\} (\d+)/m) > 0);
  assert.equal(value(/^sluice_state_evictions_total\{topology="demo",stage="normalize",reason="max-keys"\} (\d+)/m), 0);
  const notFound = await metrics.serve(0).then(async (s) => { const r = await fetch(`http://127.0.0.1:${(s.address() as { port: number }).port}/nope`); s.close(); return r.status; });
  assert.equal(notFound, 404);
});

test('metrics: surveillance exports alerts by pattern, the thresholds in force and event-time-to-output', async () => {
  const sim = simulate({ seed: 11, events: 20_000 });
  const stats = new SurveillanceStats();
  const alertsOut = countSink<AlertSchema>();
  const topology = surveillanceTopology({
    source: memorySource(RawSchema, [sim.events.map((e, i) => ({ key: '', value: JSON.stringify(e), offset: i, timestamp: 0 }))]),
    parse: { format: 'json', contract: 'order-event' }, alerts: alertsOut, deadLetters: countSink(), stats,
  });
  const metrics = new SluiceMetrics(topology.name);
  registerSurveillanceMetrics(metrics.registry, stats, topology.name);
  const rt = new Runtime(topology, { observer: metrics });
  metrics.attach(rt);
  await rt.run();
  const text = await metrics.registry.metrics();
  const alerts = [...text.matchAll(/^sluice_alerts_total\{topology="surveillance",pattern="([a-z_]+)"\} (\d+)$/gm)];
  assert.ok(alerts.length > 0, 'alerts counted by pattern');
  assert.equal(alerts.reduce((n, m) => n + Number(m[2]), 0), alertsOut.count, 'the counts add up to the alerts emitted');
  const stat = (s: string) => Number(new RegExp(`^sluice_threshold\\{topology="surveillance",stat="${s}"\\} ([\\d.e-]+)$`, 'm').exec(text)?.[1]);
  assert.ok(stat('min') <= stat('p50') && stat('p50') <= stat('p90') && stat('p90') <= stat('max'), 'threshold summary ordered');
  assert.ok(Number(/^sluice_threshold_keys\{topology="surveillance"\} (\d+)$/m.exec(text)?.[1]) > 10, 'one threshold per participant × symbol');
  // simulated event times are in the past: every alert counted, each at least its age
  assert.equal(Number(/^sluice_event_time_to_output_seconds_count\{topology="surveillance",sink="alerts-out"\} (\d+)$/m.exec(text)?.[1]), alertsOut.count);
});

test.run();
