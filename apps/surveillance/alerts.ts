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
import { EvidenceMeasures, EvidencePatterns, KeyedEvidence, type EvidencePattern } from './evidence.js';

export const AlertSchema = {
  ts: 'f64', emittedAt: 'f64', symbol: 'str', participant: 'str', venue: 'str', score: 'f64', threshold: 'f64', pattern: 'str',
  windowStart: 'f64', windowEnd: 'f64', modelVersion: 'str',
  // the pattern's evidence in the participant's own flow, when the alert waited for it (apps/surveillance/evidence.ts): '' otherwise
  evidence: 'str', evidenceValue: 'f64',
  // the alerting score's rarity in the stream (operators/threshold.ts `rarity`): comparable across models and markets; NaN when not computed
  rarity: 'f64',
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

type In = {
  ts: 'f64'; symbol: 'str'; participant: 'str'; venue: 'str'; side: 'str'; type: 'str'; orderType: 'str'; orderId: 'str'; price: 'f64'; qty: 'f64'; displayQty: 'f64'; counterparty: 'str'; execId: 'str';
  score: 'f64'; threshold: 'f64'; alert: 'f64'; label: 'str'; model: 'str';
};

/** an alert waiting for its pattern's evidence (what the row said when it alerted) */
interface Held { at: number; pattern: string; score: number; threshold: number; model: string; venue: string; rarity: number }


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
  /**
   * Alert only where a pattern's defining act is in the key's own flow
   * (apps/surveillance/evidence.ts): the named pattern's, else another's (not marking the
   * close, the least specific), and then the alert carries that pattern's name. An alert without any is held for up to `holdUs` of the key's
   * event time (default 10 s) and sent, stamped with the event that completed the evidence,
   * or let go and counted in `unconfirmed`. Off by default; the surveillance topology turns
   * it on for the detector.
   */
  evidence?: { holdUs?: number; windowUs?: number };
  /** held alerts let go without their pattern's evidence, per pattern, for metrics */
  unconfirmed?: Map<string, number>;
}

export function alerts(cfg: AlertsConfig = {}): OperatorDef<In, AlertSchema, NoSides> & { keyed: true } {
  rejectUnknown('alerts', cfg, ['length', 'cooldownUs', 'clock', 'counts', 'state', 'evidence', 'unconfirmed']);
  if (cfg.evidence) rejectUnknown('alerts.evidence', cfg.evidence, ['holdUs', 'windowUs']);
  const holdUs = cfg.evidence?.holdUs ?? 10e6;
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
      const evidence = cfg.evidence ? new KeyedEvidence(cfg.evidence.windowUs ?? 30e6, bounds) : undefined;
      // a held alert leaves by its evidence or is let go and counted: when its key's later event,
      // or the watermark, passes the hold; when the state bounds drop its key; at end of input.
      // None vanishes uncounted
      const letGo = (a: Held) => cfg.unconfirmed?.set(a.pattern, (cfg.unconfirmed.get(a.pattern) ?? 0) + 1);
      const held = new KeyedStore<Held[]>(bounds, (_key, waiting) => { for (const a of waiting) letGo(a); });
      let swept = -Infinity;
      return {
        process(batch: Batch<In>, ctx) {
          const c = batch.columns, keys = batch.meta.keys!;
          const rarity = (c as unknown as { rarity?: Float64Array }).rarity;
          let out: BatchBuilder<AlertSchema> | undefined;
          const outKeys: string[] = [];
          windows.expire(ctx.watermark); last.expire(ctx.watermark); evidence?.expire(ctx.watermark); held.expire(ctx.watermark);
          const send = (i: number, a: Held, evidenceName = '', evidenceValue = 0) => {
            const prev = last.use(keys[i], c.ts[i], () => ({ at: -Infinity, pattern: '' }));
            if (a.pattern === prev.pattern && c.ts[i] - prev.at < cooldown) return;
            prev.at = c.ts[i]; prev.pattern = a.pattern;
            cfg.counts?.set(a.pattern, (cfg.counts.get(a.pattern) ?? 0) + 1);
            const w = windows.summary(keys[i]);
            out ??= new BatchBuilder(AlertSchema, 8);
            out.push({
              ts: c.ts[i], emittedAt: wall(), symbol: c.symbol[i], participant: c.participant[i], venue: a.venue, score: Math.min(1, Math.max(0, a.score)), threshold: a.threshold,
              pattern: a.pattern, windowStart: w.start, windowEnd: w.end, modelVersion: a.model, evidence: evidenceName, evidenceValue, rarity: a.rarity,
              events: w.events, newOrders: w.newOrders, cancels: w.cancels, executions: w.executions, selfTrades: w.selfTrades / 2, aggressive: w.aggressive, darkOrders: w.darkOrders,
              eventsPerSec: w.end > w.start ? (w.events - 1) / ((w.end - w.start) / 1e6) : w.events, cancelRatio: w.cancels / Math.max(1, w.newOrders), maxQty: w.maxQty,
            });
            outKeys.push(keys[i]);
          };
          for (let i = 0; i < batch.length; i++) {
            const key = keys[i];
            windows.push(key, batch, i);
            evidence?.push(key, batch, i);
            const alerting = c.alert[i] === 1;
            if (!evidence) {
              if (alerting) send(i, { at: c.ts[i], pattern: c.label[i] && c.label[i] !== 'normal' ? c.label[i] : 'unknown', score: c.score[i], threshold: c.threshold[i], model: c.model[i], venue: c.venue[i], rarity: rarity?.[i] ?? NaN });
              continue;
            }
            let waiting = held.get(key);
            if (alerting) {
              const pattern = c.label[i] && c.label[i] !== 'normal' ? c.label[i] : 'unknown';
              waiting ??= held.add(key, [], c.ts[i]);
              // one held alert per pattern: a later one of the same pattern keeps the first's clock
              if (!waiting.some((h) => h.pattern === pattern)) waiting.push({ at: c.ts[i], pattern, score: c.score[i], threshold: c.threshold[i], model: c.model[i], venue: c.venue[i], rarity: rarity?.[i] ?? NaN });
              else { const h = waiting.find((x) => x.pattern === pattern)!; if (c.score[i] > h.score) { h.score = c.score[i]; h.threshold = c.threshold[i]; h.rarity = rarity?.[i] ?? NaN; } }
            }
            if (!waiting?.length) continue;
            held.touch(key, c.ts[i]);
            const ev = evidence.evidence(key);
            for (let h = waiting.length - 1; h >= 0; h--) {
              const a = waiting[h];
              // the named pattern's evidence, else another pattern's: on flow unlike its training data a
              // detector's sense that something is wrong carries over better than its name for it
              // (bench/RESULTS-generalization-experiments.md). Not renamed to marking the close: without
              // the venue's closing time its evidence (a marketable run that moved the price) is the
              // least specific, and retail bursts on a matching engine show it too
              const found = ev[a.pattern as EvidencePattern] ? a.pattern : EvidencePatterns.find((p) => ev[p] && p !== 'marking_the_close');
              if (found) { waiting.splice(h, 1); a.pattern = found; send(i, a, EvidenceMeasures[found as EvidencePattern], evidence.measure[found as EvidencePattern]); }
              else if (c.ts[i] - a.at > holdUs) { waiting.splice(h, 1); letGo(a); }
            }
          }
          if (out) ctx.emit(out.finish({ ...batch.meta, keys: outKeys, headers: undefined, timestamps: undefined }));
        },
        // a key that went quiet: its held alerts are let go once event time passes their hold (no
        // later event of the key could confirm them in time). Swept at most once a second of event time
        onWatermark(wm) {
          if (!evidence || held.size === 0 || (wm - swept < 1e6 && wm !== Infinity)) return;
          swept = wm;
          for (const [key, waiting] of held) {
            for (let h = waiting.length - 1; h >= 0; h--) if (wm - waiting[h].at > holdUs) { letGo(waiting[h]); waiting.splice(h, 1); }
            if (waiting.length === 0) held.delete(key);
          }
        },
        close() {
          for (const [, waiting] of held) for (const a of waiting) letGo(a);
          held.clear();
        },
        // the windows, the evidence, the held alerts and the cooldown move with the key's
        // partition: a restart neither loses a window's history nor repeats an alert the
        // cooldown had folded
        stateStats: () => windows.stateStats(), // the rest are kept for the windows' keys, under the same bounds
        snapshot: () => ({ windows: windows.snapshot(), last: keyedEntries(last), ...(evidence ? { evidence: evidence.snapshot(), held: keyedEntries(held) } : {}) }),
        restore(s: unknown) {
          const st = s as { windows: Parameters<KeyedEventWindows['restore']>[0]; last: Parameters<typeof entriesOf<{ at: number; pattern: string }>>[0]; evidence?: Parameters<KeyedEvidence['restore']>[0]; held?: Parameters<typeof entriesOf<Held[]>>[0] };
          windows.restore(st.windows);
          last.clear();
          for (const [k, v] of entriesOf(st.last)) last.set(k, v);
          held.clear();
          if (evidence && st.evidence) evidence.restore(st.evidence);
          if (evidence && st.held) for (const [k, v] of entriesOf(st.held)) held.set(k, v);
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
    // the pattern's own evidence first (when the alert waited for it), then the window's features
    features: [...(c.evidence[i] ? [{ name: c.evidence[i], value: c.evidenceValue[i] }] : []), ...(Number.isFinite(c.rarity[i]) ? [{ name: 'streamRarity', value: c.rarity[i] }] : []), ...order.map((name) => ({ name, value: Number.isFinite(c[name][i]) ? Math.round(c[name][i] * 1000) / 1000 : 0 }))],
    modelVersion: c.modelVersion[i],
  });
}
