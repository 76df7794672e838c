/**
 * The statistical surveillance baseline: per participant × symbol, features of its last
 * `length` events (event rate, cancel ratio, self-trades, aggressive and dark orders,
 * largest order) as rolling z-scores against the whole stream's running mean and
 * deviation; score = logistic(max z − zAlert), so 0.5 means "some feature is zAlert
 * deviations out". It writes the same columns as `score` (score, label, model …) so the
 * rest of the surveillance topology is unchanged; pair it with a static threshold.
 */
import { BatchBuilder, type Batch, type Schema } from '../src/batch.js';
import type { NoSides, OperatorDef } from '../src/operator.js';
import { ScoreColumns, type Scored } from './score.js';

type In = { ts: 'f64'; participant: 'str'; venue: 'str'; type: 'str'; orderType: 'str'; qty: 'f64'; counterparty: 'str' };
const FEATURES = ['eventsPerSec', 'cancelRatio', 'selfTrades', 'aggressive', 'darkOrders', 'logMaxQty'] as const;
const PATTERN_OF: Record<(typeof FEATURES)[number], string> = {
  eventsPerSec: 'quote_stuffing', cancelRatio: 'spoofing', selfTrades: 'wash_trade', aggressive: 'momentum_ignition', darkOrders: 'pinging', logMaxQty: 'layering',
};

export function statisticalScore<I extends In>(cfg: { length?: number; zAlert?: number; alpha?: number } = {}): OperatorDef<I, Scored<I>, NoSides> & { keyed: true } {
  const L = cfg.length ?? 32, zAlert = cfg.zAlert ?? 4, alpha = cfg.alpha ?? 1e-4;
  return {
    kind: 'statisticalScore',
    output: (input: Schema) => ({ ...input, ...ScoreColumns }) as Scored<I>,
    sides: {},
    keyed: true,
    create() {
      const wins = new Map<string, { ts: Float64Array; k: Uint8Array; q: Float64Array; n: number }>();
      const mean = new Float64Array(FEATURES.length), vr = new Float64Array(FEATURES.length);
      let seen = 0;
      const f = new Float64Array(FEATURES.length);
      return {
        process(batch: Batch<I>, ctx) {
          const c = batch.columns as unknown as Batch<In>['columns'], keys = batch.meta.keys!;
          const n = batch.length;
          const out = new BatchBuilder({ ...batch.schema, ...ScoreColumns } as Scored<I>, n, batch.columns);
          const oc = out.columns as unknown as { score: Float64Array; label: string[]; labelProb: Float64Array; model: string[]; shadowScore: Float64Array; shadowModel: string[] };
          for (let i = 0; i < n; i++) {
            let w = wins.get(keys[i]);
            if (!w) { w = { ts: new Float64Array(L), k: new Uint8Array(L), q: new Float64Array(L), n: 0 }; wins.set(keys[i], w); }
            const s = w.n % L, t = c.type[i], ot = c.orderType[i];
            w.ts[s] = c.ts[i]; w.q[s] = c.qty[i];
            w.k[s] = (t === 'NEW' ? 1 : 0) | (t === 'CANCEL' ? 2 : 0) | (c.counterparty[i] !== '' && c.counterparty[i] === c.participant[i] ? 4 : 0) | (ot === 'MARKET' || ot === 'IOC' ? 8 : 0) | (c.venue[i].includes('DARK') ? 16 : 0);
            w.n++;
            const have = Math.min(w.n, L);
            let t0 = Infinity, t1 = -Infinity, nw = 0, cx = 0, self = 0, aggr = 0, dark = 0, mq = 0;
            for (let j = 0; j < have; j++) {
              const k = w.k[j];
              if (w.ts[j] < t0) t0 = w.ts[j]; if (w.ts[j] > t1) t1 = w.ts[j];
              if (k & 1) nw++; if (k & 2) cx++; if (k & 4) self++; if (k & 8) aggr++; if (k & 16) dark++;
              if (w.q[j] > mq) mq = w.q[j];
            }
            f[0] = t1 > t0 ? (have - 1) / ((t1 - t0) / 1e6) : 0; f[1] = cx / Math.max(1, nw); f[2] = self; f[3] = aggr; f[4] = dark; f[5] = Math.log1p(mq);
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
      };
    },
  };
}
