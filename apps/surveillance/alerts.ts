/**
 * Alerts that explain themselves: turns scored, thresholded order events (score,
 * threshold, alert, label, model) into alert records (schemas/alert.schema.json) for
 * the rows with alert = 1, each with its window (first and last event time of the
 * key's recent events the model saw) and the features of that window that indicate
 * the pattern, most indicative first.
 *
 * Keep the stream keyed by participant × symbol: the operator keeps, per key, the
 * times and kinds of the last `length` events (the model's window).
 */
import { rejectUnknown } from '../../src/config.js';
import { checkBounds, entriesOf, keyedEntries, KeyedStore, type StateBounds } from '../../src/state.js';
import { BatchBuilder, type Batch, type Schema } from '../../src/batch.js';
import type { NoSides, OperatorDef } from '../../src/operator.js';
import { KeyedEventWindows } from './event-window.js';

export const AlertSchema = {
  ts: 'f64', emittedAt: 'f64', symbol: 'str', participant: 'str', venue: 'str', score: 'f64', threshold: 'f64', pattern: 'str',
  windowStart: 'f64', windowEnd: 'f64', modelVersion: 'str',
  // window features (serialized into the contract's `features` array)
  events: 'f64', newOrders: 'f64', cancels: 'f64', executions: 'f64', selfTrades: 'f64', aggressive: 'f64', darkOrders: 'f64', eventsPerSec: 'f64', cancelRatio: 'f64', maxQty: 'f64',
} as const satisfies Schema;
export type AlertSchema = typeof AlertSchema;

export const AlertFeatureNames = ['events', 'newOrders', 'cancels', 'executions', 'selfTrades', 'aggressive', 'darkOrders', 'eventsPerSec', 'cancelRatio', 'maxQty'] as const;
/** which window features indicate each pattern, in order of importance */
const PatternFeatures: Record<string, readonly (typeof AlertFeatureNames)[number][]> = {
  spoofing: ['cancelRatio', 'maxQty', 'cancels', 'executions'],
  layering: ['cancels', 'cancelRatio', 'newOrders', 'maxQty'],
  wash_trade: ['selfTrades', 'executions'],
  quote_stuffing: ['eventsPerSec', 'cancels', 'newOrders'],
  momentum_ignition: ['aggressive', 'executions', 'maxQty'],
  pinging: ['darkOrders', 'cancels', 'aggressive'],
  marking_the_close: ['aggressive', 'executions', 'maxQty'],
};

type In = { ts: 'f64'; symbol: 'str'; participant: 'str'; venue: 'str'; type: 'str'; orderType: 'str'; qty: 'f64'; counterparty: 'str'; score: 'f64'; threshold: 'f64'; alert: 'f64'; label: 'str'; model: 'str' };


export interface AlertsConfig {
  /** events in the window described (the model's sequence length; default 32) */
  length?: number;
  /**
   * after an alert, further alerts for the same key and pattern within this much event
   * time are folded into it (default 5 s): an analyst gets one alert per burst, not one
   * per order of a quote-stuffing episode
   */
  cooldownUs?: number;
  /** wall clock for emittedAt, µs (default Date.now) */
  clock?: () => number;
  /** alerts emitted per pattern, for metrics */
  counts?: Map<string, number>;
  /** bounds on the per-key windows and cooldowns, per partition (default: unbounded) */
  state?: StateBounds;
}

export function alerts(cfg: AlertsConfig = {}): OperatorDef<In, AlertSchema, NoSides> & { keyed: true } {
  rejectUnknown('alerts', cfg, ['length', 'cooldownUs', 'clock', 'counts', 'state']);
  const L = cfg.length ?? 32;
  const cooldown = cfg.cooldownUs ?? 5e6;
  const wall = cfg.clock ?? (() => Date.now() * 1000);
  const bounds = checkBounds('alerts', cfg.state);
  return {
    kind: 'alerts',
    output: AlertSchema,
    sides: {},
    keyed: true,
    create() {
      const windows = new KeyedEventWindows(L, bounds);
      const last = new KeyedStore<{ at: number; pattern: string }>(bounds);
      return {
        process(batch: Batch<In>, ctx) {
          const c = batch.columns, keys = batch.meta.keys!;
          let out: BatchBuilder<AlertSchema> | undefined;
          const outKeys: string[] = [];
          windows.expire(ctx.watermark); last.expire(ctx.watermark);
          for (let i = 0; i < batch.length; i++) {
            windows.push(keys[i], batch, i);
            if (c.alert[i] !== 1) continue;
            const pattern = c.label[i] && c.label[i] !== 'normal' ? c.label[i] : 'unknown';
            const prev = last.use(keys[i], c.ts[i], () => ({ at: -Infinity, pattern: '' }));
            if (pattern === prev.pattern && c.ts[i] - prev.at < cooldown) continue;
            prev.at = c.ts[i]; prev.pattern = pattern;
            cfg.counts?.set(pattern, (cfg.counts.get(pattern) ?? 0) + 1);
            const w = windows.summary(keys[i]);
            out ??= new BatchBuilder(AlertSchema, 8);
            out.push({
              ts: c.ts[i], emittedAt: wall(), symbol: c.symbol[i], participant: c.participant[i], venue: c.venue[i], score: Math.min(1, Math.max(0, c.score[i])), threshold: c.threshold[i],
              pattern, windowStart: w.start, windowEnd: w.end, modelVersion: c.model[i],
              events: w.events, newOrders: w.newOrders, cancels: w.cancels, executions: w.executions, selfTrades: w.selfTrades / 2, aggressive: w.aggressive, darkOrders: w.darkOrders,
              eventsPerSec: w.end > w.start ? (w.events - 1) / ((w.end - w.start) / 1e6) : w.events, cancelRatio: w.cancels / Math.max(1, w.newOrders), maxQty: w.maxQty,
            });
            outKeys.push(keys[i]);
          }
          if (out) ctx.emit(out.finish({ ...batch.meta, keys: outKeys, headers: undefined, timestamps: undefined }));
        },
        // the windows and the cooldown move with the key's partition: a restart neither loses a
        // window's history nor repeats an alert the cooldown had folded
        stateStats: () => windows.stateStats(), // the cooldowns are a subset of the windows' keys, under the same bounds
        snapshot: () => ({ windows: windows.snapshot(), last: keyedEntries(last) }),
        restore(s: unknown) {
          const st = s as { windows: Parameters<KeyedEventWindows['restore']>[0]; last: Parameters<typeof entriesOf<{ at: number; pattern: string }>>[0] };
          windows.restore(st.windows);
          last.clear();
          for (const [k, v] of entriesOf(st.last)) last.set(k, v);
        },
      };
    },
  };
}

/** JSON for one alert row, per the alert contract (features as an array, pattern's own first). */
export function alertJson(b: Batch<AlertSchema>, i: number): string {
  const c = b.columns;
  const first = PatternFeatures[c.pattern[i]] ?? [];
  const order = [...first, ...AlertFeatureNames.filter((f) => !first.includes(f))];
  return JSON.stringify({
    ts: Math.round(c.ts[i]), emittedAt: Math.round(c.emittedAt[i]), symbol: c.symbol[i], participant: c.participant[i], venue: c.venue[i],
    score: c.score[i], threshold: c.threshold[i], pattern: c.pattern[i], windowStart: Math.round(c.windowStart[i]), windowEnd: Math.round(c.windowEnd[i]),
    features: order.map((name) => ({ name, value: Number.isFinite(c[name][i]) ? Math.round(c[name][i] * 1000) / 1000 : 0 })),
    modelVersion: c.modelVersion[i],
  });
}
