/**
 * Writes the Grafana dashboards (grafana/dashboards/*.json) from the panel lists below,
 * so every panel is one readable line here rather than forty lines of JSON, and
 * tests/grafana.test.ts can check each query against the metrics Sluice exports.
 *
 *   npm run build && node dist/scripts/grafana-dashboards.js
 */
import { mkdirSync, writeFileSync } from 'node:fs';

export interface Panel { title: string; expr: string[]; unit?: string; legend?: string; type?: 'timeseries' | 'stat' | 'table' }
export interface Board { uid: string; title: string; panels: Panel[] }

const T = 'topology="$topology"';
const q = (p: number, metric: string, by: string, filter = T) => `histogram_quantile(${p}, sum by (le, ${by}) (rate(${metric}_bucket{${filter}}[1m])))`;

export const boards: Board[] = [
  {
    uid: 'sluice-overview', title: 'Sluice — engine overview',
    panels: [
      { title: 'Records out per second, by stage', expr: [`sum by (stage) (rate(sluice_stage_records_out_total{${T}}[1m]))`], unit: 'ops', legend: '{{stage}}' },
      { title: 'Ingest → output latency p50 / p99, by sink', expr: [q(0.5, 'sluice_ingest_to_output_seconds', 'sink'), q(0.99, 'sluice_ingest_to_output_seconds', 'sink')], unit: 's', legend: '{{sink}}' },
      { title: 'Event time → output latency p99, by sink', expr: [q(0.99, 'sluice_event_time_to_output_seconds', 'sink')], unit: 's', legend: '{{sink}}' },
      { title: 'Operator processing time per batch p99, by stage', expr: [q(0.99, 'sluice_stage_processing_seconds', 'stage')], unit: 's', legend: '{{stage}}' },
      { title: 'Busy fraction, by stage', expr: [`sum by (stage) (rate(sluice_stage_busy_seconds_total{${T}}[1m]))`], unit: 'percentunit', legend: '{{stage}}' },
      { title: 'Backpressured fraction, by stage', expr: [`sum by (stage) (rate(sluice_stage_backpressured_seconds_total{${T}}[1m]))`], unit: 'percentunit', legend: '{{stage}}' },
      { title: 'Idle fraction, by stage', expr: [`sum by (stage) (rate(sluice_stage_idle_seconds_total{${T}}[1m]))`], unit: 'percentunit', legend: '{{stage}}' },
      { title: 'Kafka consumer lag, by partition', expr: [`sum by (topic, partition) (sluice_kafka_consumer_lag_records{${T}})`], legend: '{{topic}}/{{partition}}' },
      { title: 'Kafka partitions paused for backpressure / idle', expr: [`sum by (stage) (sluice_kafka_paused_partitions{${T}})`, `sum by (stage) (sluice_source_idle_partitions{${T}})`], legend: '{{stage}}' },
      { title: 'Kafka offset commit p99', expr: [q(0.99, 'sluice_kafka_commit_seconds', 'result')], unit: 's', legend: '{{result}}' },
      { title: 'Kafka produce errors per second', expr: [`sum by (topic) (rate(sluice_kafka_produce_errors_total{${T}}[5m]))`], unit: 'ops', legend: '{{topic}}' },
      { title: 'Late and dropped records per second', expr: [`sum by (stage) (rate(sluice_late_records_total{${T}}[5m]))`, `sum by (stage, reason) (rate(sluice_dropped_records_total{${T}}[5m]))`], unit: 'ops', legend: '{{stage}} {{reason}}' },
      { title: 'Keyed state: keys held / evictions per second, by stage', expr: [`sum by (stage) (sluice_state_keys{${T}})`, `sum by (stage, reason) (rate(sluice_state_evictions_total{${T}}[5m]))`], legend: '{{stage}} {{reason}}' },
      { title: 'Edge queue fill', expr: [`sluice_edge_queued_records{${T}} / sluice_edge_capacity_records{${T}}`], unit: 'percentunit', legend: '{{from}} → {{to}}' },
      { title: 'Watermark lag, by stage', expr: [`sluice_watermark_lag_seconds{${T}}`], unit: 's', legend: '{{stage}}' },
      { title: 'Dead letters per second, by stage and code', expr: [`sum by (stage, code) (rate(sluice_dead_letters_total{${T}}[5m]))`], unit: 'ops', legend: '{{stage}} {{code}}' },
      { title: 'Inference compute p99 / queue p99, by model', expr: [q(0.99, 'sluice_inference_compute_seconds', 'model', ''), q(0.99, 'sluice_inference_queue_seconds', 'model', '')], unit: 's', legend: '{{model}}' },
      { title: 'Rows per inference batch (mean), by model', expr: ['sum by (model) (rate(sluice_inference_batch_rows_sum[1m])) / sum by (model) (rate(sluice_inference_batch_rows_count[1m]))'], legend: '{{model}}' },
      { title: 'Inference pool tasks in flight', expr: ['sluice_inference_pool_tasks'], legend: '{{model}}' },
      { title: 'Inference failures per second', expr: ['sum by (model) (rate(sluice_inference_failures_total[5m]))'], unit: 'ops', legend: '{{model}}' },
      { title: 'Models loaded', expr: ['sluice_model_info'], type: 'table' },
      { title: 'Checkpoints per minute', expr: [`rate(sluice_checkpoints_total{${T}}[5m]) * 60`] },
      { title: 'Event-loop delay p99', expr: ['sluice_nodejs_eventloop_lag_p99_seconds'], unit: 's' },
      { title: 'Resident memory', expr: ['sluice_process_resident_memory_bytes'], unit: 'bytes' },
    ],
  },
  {
    uid: 'sluice-surveillance', title: 'Sluice — market surveillance',
    panels: [
      { title: 'Order events per second', expr: ['sum(rate(sluice_stage_records_out_total{topology="surveillance",stage="parse"}[1m]))'], unit: 'ops' },
      { title: 'Alerts per minute, by pattern', expr: ['sum by (pattern) (rate(sluice_alerts_total{topology="surveillance"}[5m])) * 60'], legend: '{{pattern}}' },
      { title: 'Adaptive thresholds in force (over participant × symbol keys)', expr: ['sluice_threshold{topology="surveillance"}'], legend: '{{stat}}' },
      { title: 'Keys with a threshold', expr: ['sluice_threshold_keys{topology="surveillance"}'], type: 'stat' },
      { title: 'Event → alert decision latency p50 / p99', expr: [q(0.5, 'sluice_ingest_to_output_seconds', 'sink', 'topology="surveillance"'), q(0.99, 'sluice_ingest_to_output_seconds', 'sink', 'topology="surveillance"')], unit: 's', legend: '{{sink}}' },
      { title: 'Detector compute p99 / queue p99', expr: [q(0.99, 'sluice_inference_compute_seconds', 'model', 'model=~"surveillance-.*"'), q(0.99, 'sluice_inference_queue_seconds', 'model', 'model=~"surveillance-.*"')], unit: 's', legend: '{{model}}' },
      { title: 'Detector busy fraction (scoring stage)', expr: ['sum(rate(sluice_stage_busy_seconds_total{topology="surveillance",stage="detector"}[1m]))'], unit: 'percentunit' },
      { title: 'Dead letters by code', expr: ['sum by (code) (rate(sluice_dead_letters_total{topology="surveillance"}[5m]))'], unit: 'ops', legend: '{{code}}' },
      { title: 'Watermark lag', expr: ['max(sluice_watermark_lag_seconds{topology="surveillance"})'], unit: 's' },
      { title: 'Kafka consumer lag (all partitions)', expr: ['sum(sluice_kafka_consumer_lag_records{topology="surveillance"})'] },
    ],
  },
  {
    uid: 'sluice-personalization', title: 'Sluice — personalization',
    panels: [
      { title: 'Behaviour events per second', expr: ['sum(rate(sluice_stage_records_out_total{topology="personalization",stage="parse"}[1m]))'], unit: 'ops' },
      { title: 'Pushes per second', expr: ['sum(rate(sluice_stage_records_out_total{topology="personalization",stage="rank"}[1m]))'], unit: 'ops' },
      { title: 'Event → push latency p50 / p99', expr: [q(0.5, 'sluice_ingest_to_output_seconds', 'sink', 'topology="personalization",sink="pushes-out"'), q(0.99, 'sluice_ingest_to_output_seconds', 'sink', 'topology="personalization",sink="pushes-out"')], unit: 's' },
      { title: 'User encoder compute p99 / queue p99', expr: [q(0.99, 'sluice_inference_compute_seconds', 'model', 'model=~".*-user@.*"'), q(0.99, 'sluice_inference_queue_seconds', 'model', 'model=~".*-user@.*"')], unit: 's', legend: '{{model}}' },
      { title: 'Retrieval + ranking busy fraction', expr: ['sum by (stage) (rate(sluice_stage_busy_seconds_total{topology="personalization",stage=~"retrieve|rank"}[1m]))'], unit: 'percentunit', legend: '{{stage}}' },
      { title: 'Click-through on pushes, by model', expr: ['sluice_push_clicks / sluice_push_impressions'], unit: 'percentunit', legend: '{{model}}' },
      { title: 'Clicks on pushed items per impression, by model', expr: ['sluice_push_clicks_on_pushed / sluice_push_impressions'], unit: 'percentunit', legend: '{{model}}' },
      { title: 'Dead letters by stage and code', expr: ['sum by (stage, code) (rate(sluice_dead_letters_total{topology="personalization"}[5m]))'], unit: 'ops', legend: '{{stage}} {{code}}' },
      { title: 'Kafka consumer lag (all partitions)', expr: ['sum(sluice_kafka_consumer_lag_records{topology="personalization"})'] },
    ],
  },
];

export function dashboard(b: Board): unknown {
  return {
    uid: b.uid, title: b.title, schemaVersion: 39, version: 1, editable: true, refresh: '10s', time: { from: 'now-30m', to: 'now' },
    templating: { list: [{ name: 'topology', type: 'query', datasource: { type: 'prometheus', uid: 'prometheus' }, query: 'label_values(sluice_stage_records_in_total, topology)', refresh: 2, current: {} }] },
    panels: b.panels.map((p, i) => ({
      id: i + 1, type: p.type ?? 'timeseries', title: p.title, datasource: { type: 'prometheus', uid: 'prometheus' },
      gridPos: { h: 8, w: 12, x: (i % 2) * 12, y: Math.floor(i / 2) * 8 },
      fieldConfig: { defaults: { ...(p.unit ? { unit: p.unit } : {}) }, overrides: [] },
      targets: p.expr.map((expr, k) => ({ refId: String.fromCharCode(65 + k), expr, ...(p.legend ? { legendFormat: p.legend } : {}), ...(p.type === 'table' ? { format: 'table', instant: true } : {}) })),
    })),
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const dir = new URL('../../grafana/dashboards/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  for (const b of boards) writeFileSync(new URL(`${b.uid}.json`, dir), JSON.stringify(dashboard(b), null, 2) + '\n');
  console.log(`wrote ${boards.length} dashboards`);
}
