/**
 * The statistical surveillance baseline: per participant × symbol, features of its last
 * `length` events (event rate, cancel ratio, self-trades, aggressive and dark orders,
 * largest order) as rolling z-scores against the whole stream's running mean and
 * deviation; score = logistic(max z − zAlert), so 0.5 means "some feature is zAlert
 * deviations out". It writes the same columns as `score` (score, label, model …) so the
 * rest of the surveillance topology is unchanged; pair it with a static threshold.
 */
import { rejectUnknown } from '../../src/config.js';
import { BatchBuilder, type Batch, type Schema } from '../../src/batch.js';
import type { NoSides, OperatorDef } from '../../src/operator.js';
import { ScoreColumns, type Scored } from '../../operators/score.js';
import { KeyedEventWindows, type EventWindowInput } from './event-window.js';

type In = EventWindowInput;
const FEATURES = ['eventsPerSec', 'cancelRatio', 'selfTrades', 'aggressive', 'darkOrders', 'logMaxQty'] as const;
const PATTERN_OF: Record<(typeof FEATURES)[number], string> = {
  eventsPerSec: 'quote_stuffing', cancelRatio: 'spoofing', selfTrades: 'wash_trade', aggressive: 'momentum_ignition', darkOrders: 'pinging', logMaxQty: 'layering',
};

export function statisticalScore<I extends In>(cfg: { length?: number; zAlert?: number; alpha?: number } = {}): OperatorDef<I, Scored<I>, NoSides> & { keyed: true } {
  rejectUnknown('statisticalScore', cfg, ['length', 'zAlert', 'alpha']);
  const L = cfg.length ?? 32, zAlert = cfg.zAlert ?? 4, alpha = cfg.alpha ?? 1e-4;
  return {
    kind: 'statisticalScore',
    output: (input: Schema) => ({ ...input, ...ScoreColumns }) as Scored<I>,
    sides: {},
    keyed: true,
    create() {
      const windows = new KeyedEventWindows(L);
      const mean = new Float64Array(FEATURES.length), vr = new Float64Array(FEATURES.length);
      let seen = 0;
      const f = new Float64Array(FEATURES.length);
      return {
        process(batch: Batch<I>, ctx) {
          const keys = batch.meta.keys!;
          const n = batch.length;
          const out = new BatchBuilder({ ...batch.schema, ...ScoreColumns } as Scored<I>, n, batch.columns);
          const oc = out.columns as unknown as { score: Float64Array; label: string[]; labelProb: Float64Array; model: string[]; shadowScore: Float64Array; shadowModel: string[] };
          for (let i = 0; i < n; i++) {
            windows.push(keys[i], batch as unknown as Batch<In>, i);
            const w = windows.summary(keys[i]);
            f[0] = w.end > w.start ? (w.events - 1) / ((w.end - w.start) / 1e6) : 0; f[1] = w.cancels / Math.max(1, w.newOrders); f[2] = w.selfTrades; f[3] = w.aggressive; f[4] = w.darkOrders; f[5] = Math.log1p(w.maxQty);
            let best = -Infinity, arg = 0;
            for (let j = 0; j < FEATURES.length; j++) {
              const z = seen > 100 ? (f[j] - mean[j]) / Math.sqrt(vr[j] + 1e-9) : 0;
              if (z > best) { best = z; arg = j; }
              // exact running moments at first, then exponentially weighted
              const a = Math.max(alpha, 1 / (seen + 1));
              const d = f[j] - mean[j];
              mean[j] += a * d;
              vr[j] = (1 - a) * (vr[j] + a * d * d);
            }
            seen++;
            oc.score[i] = 1 / (1 + Math.exp(-(best - zAlert)));
            oc.label.push(PATTERN_OF[FEATURES[arg]]);
            oc.labelProb[i] = NaN;
            oc.model.push(`rolling-z@${zAlert}`);
            oc.shadowScore[i] = NaN;
            oc.shadowModel.push('');
          }
          out.length = n;
          ctx.emit(out.finish(batch.meta));
        },
        snapshot: () => ({ windows: windows.snapshot(), mean: Array.from(mean), vr: Array.from(vr), seen }),
        restore(s: unknown) {
          const st = s as { windows: Parameters<KeyedEventWindows['restore']>[0]; mean: number[]; vr: number[]; seen: number };
          windows.restore(st.windows); mean.set(st.mean); vr.set(st.vr); seen = st.seen;
        },
      };
    },
  };
}
