/**
 * Online metrics from feedback on pushes: a feedback stream of behaviour events
 * (impressions and clicks, or any later action) is matched with the last push each user
 * got. Counts impressions, clicks, clicks on a pushed item (and at which rank), so
 * click-through and hit rate per model version can be watched live.
 */
import type { Batch } from '../../src/batch.js';
import type { SinkDef } from '../../src/io.js';
import type { BehaviorSchema } from '../../src/contracts.js';
import type { PushSchema } from './rank.js';
import { Gauge, type Registry } from 'prom-client';

export interface FeedbackCounts { impressions: number; clicks: number; clicksOnPushed: number; actionsOnPushed: number; feedbackEvents: number; noPushYet: number }

export class PushFeedback {
  readonly #lastPush = new Map<string, { items: string[]; model: string }>();
  /** per model version */
  readonly counts = new Map<string, FeedbackCounts>();
  /** clicks on pushed items by rank (1-based index = rank) */
  readonly clickRanks: number[] = [];

  #of(model: string): FeedbackCounts {
    let c = this.counts.get(model);
    if (!c) { c = { impressions: 0, clicks: 0, clicksOnPushed: 0, actionsOnPushed: 0, feedbackEvents: 0, noPushYet: 0 }; this.counts.set(model, c); }
    return c;
  }

  recordPush(userId: string, itemIds: string[], model: string): void { this.#lastPush.set(userId, { items: itemIds, model }); }

  recordFeedback(userId: string, itemId: string, action: string): void {
    const p = this.#lastPush.get(userId);
    if (!p) { this.#of('').noPushYet++; return; }
    const c = this.#of(p.model);
    c.feedbackEvents++;
    if (action === 'impression') c.impressions++;
    if (action === 'click') c.clicks++;
    const at = p.items.indexOf(itemId);
    if (at < 0) return;
    c.actionsOnPushed++;
    if (action === 'click') { c.clicksOnPushed++; this.clickRanks[at + 1] = (this.clickRanks[at + 1] ?? 0) + 1; }
  }

  /** clicks ÷ impressions, per model */
  clickThrough(model: string): number { const c = this.counts.get(model); return c && c.impressions > 0 ? c.clicks / c.impressions : NaN; }

  /** a sink on the push stream: remembers each user's last push */
  pushSink(): SinkDef<PushSchema> {
    return {
      kind: 'push-log',
      open: async () => ({
        write: (b: Batch<PushSchema>) => {
          for (let i = 0; i < b.length; i++) this.recordPush(b.columns.userId[i], (JSON.parse(b.columns.items[i]) as { itemId: string }[]).map((x) => x.itemId), b.columns.modelVersion[i]);
        },
        close: async () => {},
      }),
    };
  }

  /** a sink on the parsed feedback stream */
  feedbackSink(): SinkDef<BehaviorSchema> {
    return {
      kind: 'push-feedback',
      open: async () => ({
        write: (b: Batch<BehaviorSchema>) => { for (let i = 0; i < b.length; i++) this.recordFeedback(b.columns.userId[i], b.columns.itemId[i], b.columns.action[i]); },
        close: async () => {},
      }),
    };
  }
}

/** Prometheus: feedback counts per model version (read at scrape time, nothing on the hot path). */
export function registerPushFeedbackMetrics(registry: Registry, stats: PushFeedback, topology: string): void {
  const g = (name: string, help: string, pick: (c: FeedbackCounts) => number) => new Gauge({
    name, help, labelNames: ['topology', 'model'], registers: [registry],
    collect() { this.reset(); for (const [model, c] of stats.counts) if (model) this.set({ topology, model }, pick(c)); },
  });
  g('sluice_push_impressions', 'Impressions reported on the feedback stream, by the model of the user\'s last push.', (c) => c.impressions);
  g('sluice_push_clicks', 'Clicks reported on the feedback stream.', (c) => c.clicks);
  g('sluice_push_clicks_on_pushed', 'Clicks on an item of the user\'s last push.', (c) => c.clicksOnPushed);
  g('sluice_push_actions_on_pushed', 'Any feedback action on an item of the user\'s last push.', (c) => c.actionsOnPushed);
}
