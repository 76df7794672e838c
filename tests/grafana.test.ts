/**
 * The Grafana dashboards query only metrics Sluice exports, with labels those metrics
 * carry (plus the ones Prometheus adds at scrape time), honour $topology wherever a metric
 * has a topology, never sum per-stage time fractions across replicas, give every query its
 * own legend and every panel a unit; the committed JSON is what scripts/grafana-dashboards.ts
 * generates.
 */
import { readFileSync } from 'node:fs';
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { SluiceMetrics } from '../src/metrics.js';
import { PushFeedback, registerPushFeedbackMetrics } from '../apps/personalization/feedback.js';
import { boards, dashboard } from '../scripts/grafana-dashboards.js';
import { registerSurveillanceMetrics, SurveillanceStats } from '../apps/surveillance/topology.js';

const metrics = new SluiceMetrics('personalization');
registerPushFeedbackMetrics(metrics.registry, new PushFeedback(), 'personalization');
registerSurveillanceMetrics(metrics.registry, new SurveillanceStats(), 'surveillance');

function labelsOf(name: string): { labels: string[]; histogram: boolean } | undefined {
  const m = metrics.registry.getSingleMetric(name) as unknown as { labelNames?: string[]; constructor: { name: string } } | undefined;
  if (!m) return undefined;
  return { labels: m.labelNames ?? [], histogram: m.constructor.name === 'Histogram' };
}

/** labels Prometheus attaches to every scraped series (grafana/prometheus.yml) */
const SCRAPE_LABELS = ['instance', 'job'];

test('every dashboard query names exported metrics and labels they carry', () => {
  let checked = 0;
  for (const b of boards) for (const p of b.panels) for (const expr of p.expr) {
    const used: { labels: string[]; histogram: boolean }[] = [];
    for (const m of expr.matchAll(/\b(sluice_[a-z0-9_]+)(\{([^}]*)\})?/g)) {
      let name = m[1];
      let info = labelsOf(name);
      if (!info) {
        const base = name.replace(/_(bucket|sum|count)$/, '');
        info = labelsOf(base);
        assert.ok(info?.histogram, `${b.uid} / ${p.title}: ${name} is not exported`);
        name = base;
      }
      const extra = /_bucket$/.test(m[1]) ? ['le'] : [];
      for (const sel of (m[3] ?? '').split(',').map((s) => s.trim()).filter(Boolean)) {
        const label = sel.split(/=~|!=|!~|=/)[0].trim();
        assert.ok([...info!.labels, ...extra].includes(label), `${b.uid} / ${p.title}: ${name} has no label '${label}' (has ${info!.labels.join(', ')})`);
      }
      used.push({ labels: [...info!.labels, ...extra, ...SCRAPE_LABELS], histogram: info!.histogram });
      if (info!.labels.includes('topology')) assert.match(m[3] ?? '', /topology=~"\$topology"/, `${b.uid} / ${p.title}: ${name} has a topology label but the query ignores $topology`);
      checked++;
    }
    assert.ok(used.length > 0, `${p.title}: no Sluice metric in ${expr}`);
    for (const by of expr.matchAll(/by \(([^)]*)\)/g)) {
      for (const label of by[1].split(',').map((s) => s.trim())) {
        assert.ok(used.some((u) => u.labels.includes(label)), `${b.uid} / ${p.title}: grouped by '${label}', which none of its metrics carries`);
      }
    }
  }
  assert.ok(checked >= 30, `${checked} metric references checked`);
});

test('per-stage time fractions stay per instance; every query has its own legend; heatmaps take bucket rates', () => {
  for (const b of boards) for (const p of b.panels) {
    for (const expr of p.expr) {
      if (/sluice_stage_(busy|backpressured|idle)_seconds_total/.test(expr)) {
        for (const by of expr.matchAll(/by \(([^)]*)\)/g)) assert.ok(by[1].split(',').map((x) => x.trim()).includes('instance'), `${b.uid} / ${p.title}: a time fraction summed across instances can pass 1: ${expr}`);
        assert.ok(/by \(/.test(expr), `${b.uid} / ${p.title}: a fraction needs 'by (instance, …)'`);
      }
    }
    if (p.type === 'heatmap') assert.match(p.expr[0], /^sum by \(le\) \(rate\(sluice_[a-z_]+_bucket/, `${b.uid} / ${p.title}`);
    if (p.type !== 'table' && p.type !== 'stat' && p.type !== 'heatmap') {
      assert.is(p.legend?.length, p.expr.length, `${b.uid} / ${p.title}: one legend per query`);
      assert.is(new Set(p.legend).size, p.expr.length, `${b.uid} / ${p.title}: two queries share a legend`);
    }
    assert.ok(p.unit, `${b.uid} / ${p.title}: no unit`);
  }
  for (const b of boards) {
    assert.ok(b.panels.some((p) => p.type === 'stat'), `${b.uid}: no headline stat panels`);
    assert.ok(b.panels.some((p) => p.type === 'heatmap'), `${b.uid}: no latency heatmap`);
    const d = dashboard(b) as { templating: { list: { name: string; query: string }[] } };
    assert.match(d.templating.list[0].query, new RegExp(`label_values\\(${b.topologies}, topology\\)`));
  }
});

test('committed dashboards are the generated ones', () => {
  for (const b of boards) {
    const onDisk = JSON.parse(readFileSync(new URL(`../../grafana/dashboards/${b.uid}.json`, import.meta.url), 'utf8')) as unknown;
    assert.equal(onDisk, dashboard(b), `grafana/dashboards/${b.uid}.json is stale: run node dist/scripts/grafana-dashboards.js`);
  }
});

test.run();
