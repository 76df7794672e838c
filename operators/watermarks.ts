/**
 * Event-time watermarks per source partition with bounded out-of-orderness.
 *
 * Each partition's watermark is (largest timestamp seen) − maxOutOfOrderness − 1; the
 * operator forwards the minimum over partitions that are not idle, so one slow
 * partition holds event time back but an idle (or ended) one does not. The runtime
 * declares a partition idle after a timeout measured from its last record on unpaused
 * time, so backpressure never makes a busy partition look idle.
 *
 *   parsed.via('wm', watermarks({ timestamp: 'ts', maxOutOfOrdernessUs: 2_000_000 }))
 */
import { rejectUnknown } from '../src/config.js';
import type { Schema } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';
import type { NoSides, OperatorDef } from '../src/operator.js';

export interface WatermarksConfig<F extends string> {
  /** f64 column holding event time (µs) */
  timestamp: F;
  /** how far out of order events may arrive, µs */
  maxOutOfOrdernessUs: number;
}

export function watermarks<S extends Schema & { readonly [K in F]: 'f64' }, F extends string = 'ts'>(config: WatermarksConfig<F>): OperatorDef<S, S, NoSides> & { keyed: false } {
  rejectUnknown('watermarks', config, ['timestamp', 'maxOutOfOrdernessUs']);
  if (typeof config.timestamp !== 'string' || !config.timestamp) throw new ConfigError('watermarks: options.timestamp must name an f64 column');
  const ooo = config.maxOutOfOrdernessUs;
  if (!Number.isFinite(ooo) || ooo < 0) throw new ConfigError(`watermarks: options.maxOutOfOrdernessUs must be a finite number >= 0, got ${ooo}`);
  const field = config.timestamp;
  return {
    kind: 'watermarks', output: (input) => input as S, sides: {}, keyed: false,
    create() {
      const maxTs = new Map<number, number>();
      const idle = new Set<number>();
      let emitted = -Infinity;
      const current = (): number => {
        let wm = Infinity;
        for (const [p, ts] of maxTs) if (!idle.has(p)) wm = Math.min(wm, ts - ooo - 1);
        return wm;
      };
      return {
        process(batch, ctx) {
          const ts = batch.columns[field] as Float64Array;
          let m = -Infinity;
          for (let i = 0; i < batch.length; i++) if (ts[i] > m) m = ts[i];
          const p = batch.meta.partition;
          idle.delete(p);
          if (m > (maxTs.get(p) ?? -Infinity)) maxTs.set(p, m);
          ctx.emit(batch);
          const wm = current();
          if (wm !== Infinity && wm > emitted) { emitted = wm; ctx.emitWatermark(wm); }
        },
        onPartitionIdle(p, ctx) {
          idle.add(p);
          const wm = current();
          if (wm !== Infinity && wm > emitted) { emitted = wm; ctx.emitWatermark(wm); }
        },
        // upstream watermarks are replaced by the ones made here; only end of input (+∞) passes
        onWatermark: (wm) => (wm === Infinity ? Infinity : -Infinity),
        snapshot: () => ({ maxTs: [...maxTs], idle: [...idle], emitted }),
        restore(state) {
          const s = state as { maxTs: [number, number][]; idle: number[]; emitted: number | null };
          maxTs.clear(); for (const [p, t] of s.maxTs) maxTs.set(p, t);
          idle.clear(); for (const p of s.idle) idle.add(p);
          emitted = s.emitted ?? -Infinity; // JSON turns -Infinity into null
        },
      };
    },
  };
}
