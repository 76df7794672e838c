/**
 * Writes the Grafana dashboards (grafana/dashboards/*.json) from the panel lists below,
 * so every panel is one readable line here rather than forty lines of JSON, and
 * tests/grafana.test.ts can check each query against the metrics Sluice exports.
 *
 *   npm run build && node dist/scripts/grafana-dashboards.js
 */
import { mkdirSync, writeFileSync } from 'node:fs';

/**
 * One panel. `legend` is one name per query (expr[k] ↔ legend[k]), so two queries on one
 * panel never share a name; `unit` is required (Grafana's unit ids: s, ops, percentunit,
 * bytes, short, none); 'heatmap' panels take one bucket-rate query (`sum by (le) (…_bucket)`).
 */
export interface Panel { title: string; expr: string[]; unit: string; legend?: string[]; type?: 'timeseries' | 'stat' | 'table' | 'heatmap'; width?: 6 | 8 | 12 | 24 }
export interface Board { uid: string; title: string; panels: Panel[]; /** the metric whose topology label values the $topology variable offers */ topologies: string }

/**
 * Every dashboard filters on its $topology variable. Per-stage time fractions (busy,
 * backpressured, idle) are per instance: summed over a consumer group's replicas they would
 * pass 1 and say nothing (Prometheus adds `instance` at scrape time).
 */
const T = 'topology=~"$topology"';
const q = (p: number, metric: string, by: string, filter = T) => `histogram_quantile(${p}, sum by (le, ${by}) (rate(${metric}_bucket{${filter}}[1m])))`;
const heat = (metric: string, filter = T) => `sum by (le) (rate(${metric}_bucket{${filter}}[1m]))`;
const fraction = (metric: string, filter = T) => `sum by (instance, stage) (rate(${metric}{${filter}}[1m]))`;

export const boards: Board[] = [
  {
    uid: 'sluice-overview', title: 'Sluice — engine overview', topologies: 'sluice_stage_records_in_total',
    panels: [
      { title: 'Records in per second (all sources)', type: 'stat', width: 6, expr: [`sum(rate(sluice_stage_records_out_total{${T},kind=~".*source"}[1m]))`], unit: 'ops' },
      { title: 'Ingest → output p99 (worst sink)', type: 'stat', width: 6, expr: [`max(${q(0.99, 'sluice_ingest_to_output_seconds', 'sink')})`], unit: 's' },
      { title: 'Dead letters per second', type: 'stat', width: 6, expr: [`sum(rate(sluice_dead_letters_total{${T}}[5m]))`], unit: 'ops' },
      { title: 'Kafka consumer lag (records)', type: 'stat', width: 6, expr: [`sum(sluice_kafka_consumer_lag_records{${T}})`], unit: 'short' },
      { title: 'Records out per second, by stage', expr: [`sum by (stage) (rate(sluice_stage_records_out_total{${T}}[1m]))`], unit: 'ops', legend: ['{{stage}}'] },
      { title: 'Ingest → output latency p50 / p99, by sink', expr: [q(0.5, 'sluice_ingest_to_output_seconds', 'sink'), q(0.99, 'sluice_ingest_to_output_seconds', 'sink')], unit: 's', legend: ['p50 {{sink}}', 'p99 {{sink}}'] },
      { title: 'Ingest → output latency distribution (all sinks)', type: 'heatmap', expr: [heat('sluice_ingest_to_output_seconds')], unit: 's', legend: ['{{le}}'] },
      { title: 'Event time → output latency p99, by sink', expr: [q(0.99, 'sluice_event_time_to_output_seconds', 'sink')], unit: 's', legend: ['p99 {{sink}}'] },
      { title: 'Operator processing time per batch p99, by stage', expr: [q(0.99, 'sluice_stage_processing_seconds', 'stage')], unit: 's', legend: ['p99 {{stage}}'] },
      { title: 'Operator processing time per batch (all stages)', type: 'heatmap', expr: [heat('sluice_stage_processing_seconds')], unit: 's', legend: ['{{le}}'] },
      { title: 'Busy fraction, by instance and stage', expr: [fraction('sluice_stage_busy_seconds_total')], unit: 'percentunit', legend: ['{{instance}} {{stage}}'] },
      { title: 'Backpressured fraction, by instance and stage', expr: [fraction('sluice_stage_backpressured_seconds_total')], unit: 'percentunit', legend: ['{{instance}} {{stage}}'] },
      { title: 'Idle fraction, by instance and stage', expr: [fraction('sluice_stage_idle_seconds_total')], unit: 'percentunit', legend: ['{{instance}} {{stage}}'] },
      { title: 'Kafka consumer lag, by partition', expr: [`sum by (topic, partition) (sluice_kafka_consumer_lag_records{${T}})`], unit: 'short', legend: ['{{topic}}/{{partition}}'] },
      { title: 'Kafka partitions paused for backpressure / idle', expr: [`sum by (instance, stage) (sluice_kafka_paused_partitions{${T}})`, `sum by (instance, stage) (sluice_source_idle_partitions{${T}})`], unit: 'short', legend: ['paused {{instance}} {{stage}}', 'idle {{instance}} {{stage}}'] },
      { title: 'Kafka offset commit p99', expr: [q(0.99, 'sluice_kafka_commit_seconds', 'result')], unit: 's', legend: ['p99 {{result}}'] },
      { title: 'Kafka produce errors per second', expr: [`sum by (topic) (rate(sluice_kafka_produce_errors_total{${T}}[5m]))`], unit: 'ops', legend: ['{{topic}}'] },
      { title: 'Late and dropped records per second', expr: [`sum by (stage) (rate(sluice_late_records_total{${T}}[5m]))`, `sum by (stage, reason) (rate(sluice_dropped_records_total{${T}}[5m]))`], unit: 'ops', legend: ['late {{stage}}', 'dropped {{stage}} {{reason}}'] },
      { title: 'Keyed state: keys held, by instance and stage', expr: [`sum by (instance, stage) (sluice_state_keys{${T}})`], unit: 'short', legend: ['{{instance}} {{stage}}'] },
      { title: 'Keyed state evictions per second', expr: [`sum by (stage, reason) (rate(sluice_state_evictions_total{${T}}[5m]))`], unit: 'ops', legend: ['{{stage}} {{reason}}'] },
      { title: 'Edge queue fill, by instance', expr: [`sluice_edge_queued_records{${T}} / sluice_edge_capacity_records{${T}}`], unit: 'percentunit', legend: ['{{instance}} {{from}} → {{to}}'] },
      { title: 'Watermark lag, by instance and stage', expr: [`sluice_watermark_lag_seconds{${T}}`], unit: 's', legend: ['{{instance}} {{stage}}'] },
      { title: 'Dead letters per second, by stage and code', expr: [`sum by (stage, code) (rate(sluice_dead_letters_total{${T}}[5m]))`], unit: 'ops', legend: ['{{stage}} {{code}}'] },
      // inference metrics are per model (a pool serves whichever topology loaded it): no topology label to filter on
      { title: 'Inference compute p99 / queue p99, by model (all topologies)', expr: [q(0.99, 'sluice_inference_compute_seconds', 'model', ''), q(0.99, 'sluice_inference_queue_seconds', 'model', '')], unit: 's', legend: ['compute p99 {{model}}', 'queue p99 {{model}}'] },
      { title: 'Rows per inference batch (mean), by model', expr: ['sum by (model) (rate(sluice_inference_batch_rows_sum[1m])) / sum by (model) (rate(sluice_inference_batch_rows_count[1m]))'], unit: 'short', legend: ['{{model}}'] },
      { title: 'Inference pool tasks in flight, by instance', expr: ['sluice_inference_pool_tasks'], unit: 'short', legend: ['{{instance}} {{model}}'] },
      { title: 'Inference failures per second', expr: ['sum by (model) (rate(sluice_inference_failures_total[5m]))'], unit: 'ops', legend: ['{{model}}'] },
      // incremental models: the step share falls when there are more live keys than state slots (keyedSlots)
      { title: 'Incremental models: rows stepped on cached state (share), by model', expr: ['sum by (model) (rate(sluice_inference_keyed_rows_total{path="step"}[5m])) / sum by (model) (rate(sluice_inference_keyed_rows_total[5m]))'], unit: 'percentunit', legend: ['{{model}}'] },
      // small batches on the event loop's own thread: near 1 at low rates, falling as load moves batches to the workers
      { title: 'Rows scored on the event loop, not a worker (share), by model', expr: ['sum by (model) (rate(sluice_inference_inline_rows_total[5m])) / sum by (model) (rate(sluice_inference_batch_rows_sum[5m]))'], unit: 'percentunit', legend: ['{{model}}'] },
      { title: 'Models loaded', expr: ['sluice_model_info'], unit: 'none', type: 'table' },
      { title: 'Checkpoints per minute, by instance', expr: [`rate(sluice_checkpoints_total{${T}}[5m]) * 60`], unit: 'short', legend: ['{{instance}}'] },
      { title: 'Event-loop delay p99, by instance', expr: ['sluice_nodejs_eventloop_lag_p99_seconds'], unit: 's', legend: ['{{instance}}'] },
      { title: 'Resident memory, by instance', expr: ['sluice_process_resident_memory_bytes'], unit: 'bytes', legend: ['{{instance}}'] },
    ],
  },
  {
    uid: 'sluice-surveillance', title: 'Sluice — market surveillance', topologies: 'sluice_alerts_total',
    panels: [
      { title: 'Order events per second', type: 'stat', width: 8, expr: [`sum(rate(sluice_stage_records_out_total{${T},stage="parse"}[1m]))`], unit: 'ops' },
      { title: 'Alerts per minute', type: 'stat', width: 8, expr: [`sum(rate(sluice_alerts_total{${T}}[5m])) * 60`], unit: 'short' },
      { title: 'Event → alert decision p99', type: 'stat', width: 8, expr: [`max(${q(0.99, 'sluice_ingest_to_output_seconds', 'sink')})`], unit: 's' },
      { title: 'Alerts per minute, by pattern', expr: [`sum by (pattern) (rate(sluice_alerts_total{${T}}[5m])) * 60`], unit: 'short', legend: ['{{pattern}}'] },
      // thresholded alerts whose pattern's evidence never came (apps/surveillance/evidence.ts): many means the detector fires on flow it does not know
      { title: 'Alerts let go without evidence per minute, by named pattern', expr: [`sum by (pattern) (rate(sluice_alerts_unconfirmed_total{${T}}[5m])) * 60`], unit: 'short', legend: ['{{pattern}}'] },
      { title: 'Adaptive thresholds in force (over participant × symbol keys)', expr: [`max by (stat) (sluice_threshold{${T}})`], unit: 'none', legend: ['{{stat}}'] },
      { title: 'Keys with a threshold', type: 'stat', expr: [`sum(sluice_threshold_keys{${T}})`], unit: 'short' },
      { title: 'Event → alert decision latency p50 / p99', expr: [q(0.5, 'sluice_ingest_to_output_seconds', 'sink'), q(0.99, 'sluice_ingest_to_output_seconds', 'sink')], unit: 's', legend: ['p50 {{sink}}', 'p99 {{sink}}'] },
      { title: 'Event → alert decision latency distribution', type: 'heatmap', expr: [heat('sluice_ingest_to_output_seconds')], unit: 's', legend: ['{{le}}'] },
      { title: 'Detector compute p99 / queue p99', expr: [q(0.99, 'sluice_inference_compute_seconds', 'model', 'model=~"surveillance-.*"'), q(0.99, 'sluice_inference_queue_seconds', 'model', 'model=~"surveillance-.*"')], unit: 's', legend: ['compute p99 {{model}}', 'queue p99 {{model}}'] },
      { title: 'Detector busy fraction, by instance', expr: [fraction('sluice_stage_busy_seconds_total', `${T},stage="detector"`)], unit: 'percentunit', legend: ['{{instance}} {{stage}}'] },
      { title: 'Dead letters by code', expr: [`sum by (code) (rate(sluice_dead_letters_total{${T}}[5m]))`], unit: 'ops', legend: ['{{code}}'] },
      { title: 'Watermark lag (worst stage), by instance', expr: [`max by (instance) (sluice_watermark_lag_seconds{${T}})`], unit: 's', legend: ['{{instance}}'] },
      { title: 'Kafka consumer lag (all partitions)', expr: [`sum(sluice_kafka_consumer_lag_records{${T}})`], unit: 'short', legend: ['lag'] },
    ],
  },
  {
    uid: 'sluice-personalization', title: 'Sluice — personalization', topologies: 'sluice_push_impressions',
    panels: [
      { title: 'Behaviour events per second', type: 'stat', width: 8, expr: [`sum(rate(sluice_stage_records_out_total{${T},stage="parse"}[1m]))`], unit: 'ops' },
      { title: 'Pushes per second', type: 'stat', width: 8, expr: [`sum(rate(sluice_stage_records_out_total{${T},stage="rank"}[1m]))`], unit: 'ops' },
      { title: 'Event → push p99', type: 'stat', width: 8, expr: [q(0.99, 'sluice_ingest_to_output_seconds', 'sink', `${T},sink="pushes-out"`)], unit: 's' },
      { title: 'Event → push latency p50 / p99', expr: [q(0.5, 'sluice_ingest_to_output_seconds', 'sink', `${T},sink="pushes-out"`), q(0.99, 'sluice_ingest_to_output_seconds', 'sink', `${T},sink="pushes-out"`)], unit: 's', legend: ['p50 {{sink}}', 'p99 {{sink}}'] },
      { title: 'Event → push latency distribution', type: 'heatmap', expr: [heat('sluice_ingest_to_output_seconds', `${T},sink="pushes-out"`)], unit: 's', legend: ['{{le}}'] },
      { title: 'User encoder compute p99 / queue p99', expr: [q(0.99, 'sluice_inference_compute_seconds', 'model', 'model=~".*-user@.*"'), q(0.99, 'sluice_inference_queue_seconds', 'model', 'model=~".*-user@.*"')], unit: 's', legend: ['compute p99 {{model}}', 'queue p99 {{model}}'] },
      { title: 'Retrieval + ranking busy fraction, by instance', expr: [fraction('sluice_stage_busy_seconds_total', `${T},stage=~"retrieve|rank"`)], unit: 'percentunit', legend: ['{{instance}} {{stage}}'] },
      { title: 'Click-through on pushes, by model', expr: [`sum by (model) (sluice_push_clicks{${T}}) / sum by (model) (sluice_push_impressions{${T}})`], unit: 'percentunit', legend: ['{{model}}'] },
      { title: 'Clicks on pushed items per impression, by model', expr: [`sum by (model) (sluice_push_clicks_on_pushed{${T}}) / sum by (model) (sluice_push_impressions{${T}})`], unit: 'percentunit', legend: ['{{model}}'] },
      { title: 'Dead letters by stage and code', expr: [`sum by (stage, code) (rate(sluice_dead_letters_total{${T}}[5m]))`], unit: 'ops', legend: ['{{stage}} {{code}}'] },
      { title: 'Kafka consumer lag (all partitions)', expr: [`sum(sluice_kafka_consumer_lag_records{${T}})`], unit: 'short', legend: ['lag'] },
    ],
  },
];

export function dashboard(b: Board): unknown {
  // panels flow left to right in rows; a panel's width (of Grafana's 24 columns) defaults to half
  let x = 0, y = 0, rowH = 0;
  const place = (w: number, h: number) => {
    if (x + w > 24) { x = 0; y += rowH; rowH = 0; }
    const pos = { h, w, x, y };
    x += w; rowH = Math.max(rowH, h);
    return pos;
  };
  return {
    uid: b.uid, title: b.title, schemaVersion: 39, version: 1, editable: true, refresh: '10s', time: { from: 'now-30m', to: 'now' },
    templating: { list: [{ name: 'topology', type: 'query', datasource: { type: 'prometheus', uid: 'prometheus' }, query: `label_values(${b.topologies}, topology)`, refresh: 2, includeAll: true, multi: true, current: {} }] },
    panels: b.panels.map((p, i) => {
      const type = p.type ?? 'timeseries';
      return {
        id: i + 1, type, title: p.title, datasource: { type: 'prometheus', uid: 'prometheus' },
        gridPos: place(p.width ?? 12, type === 'stat' ? 4 : 8),
        fieldConfig: { defaults: { unit: p.unit }, overrides: [] },
        ...(type === 'heatmap' ? { options: { calculate: false, yAxis: { unit: p.unit }, cellGap: 1, color: { scheme: 'Oranges', mode: 'scheme' } } } : {}),
        ...(type === 'stat' ? { options: { reduceOptions: { calcs: ['lastNotNull'] }, graphMode: 'area', colorMode: 'value' } } : {}),
        ...(type === 'timeseries' ? { options: { legend: { displayMode: 'table', placement: 'right', calcs: ['lastNotNull', 'max'] } } } : {}),
        targets: p.expr.map((expr, k) => ({
          refId: String.fromCharCode(65 + k), expr,
          ...(p.legend?.[k] ? { legendFormat: p.legend[k] } : {}),
          ...(type === 'table' ? { format: 'table', instant: true } : {}),
          ...(type === 'heatmap' ? { format: 'heatmap' } : {}),
        })),
      };
    }),
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const dir = new URL('../../grafana/dashboards/', import.meta.url);
  mkdirSync(dir, { recursive: true });
  for (const b of boards) writeFileSync(new URL(`${b.uid}.json`, dir), JSON.stringify(dashboard(b), null, 2) + '\n');
  console.log(`wrote ${boards.length} dashboards`);
}
