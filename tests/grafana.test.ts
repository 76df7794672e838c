/**
 * The Grafana dashboards query only metrics Sluice exports, with labels those metrics
 * carry, and the committed JSON is what scripts/grafana-dashboards.ts generates.
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
      used.push({ labels: [...info!.labels, ...extra], histogram: info!.histogram });
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

test('committed dashboards are the generated ones', () => {
  for (const b of boards) {
    const onDisk = JSON.parse(readFileSync(new URL(`../../grafana/dashboards/${b.uid}.json`, import.meta.url), 'utf8')) as unknown;
    assert.equal(onDisk, dashboard(b), `grafana/dashboards/${b.uid}.json is stale: run node dist/scripts/grafana-dashboards.js`);
  }
});

test.run();
