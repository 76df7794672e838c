/**
 * Keyed windows with incremental aggregates.
 *
 *  - tumbling / sliding, by event time: records update one pane (pane = slide); a window
 *    is the merge of its size/slide panes, emitted when the watermark passes its end.
 *  - tumbling / sliding, by count: every `slide` records of a key, the last `size`.
 *  - session, by event time: records closer than `gap` merge into one session (merging
 *    sessions a late record bridges); emitted when the watermark passes its end.
 *
 * Allowed lateness: a record behind the watermark still updates its windows while
 * watermark < windowEnd − 1 + allowedLateness; windows already emitted are emitted again
 * with the update (a later row for the same key and window supersedes the earlier).
 * Records later than that go to the `late` side output with their lateness. Windows
 * with no records emit nothing.
 *
 *   keyed.via('win', window({ kind: 'sliding', size: 10_000_000, slide: 1_000_000,
 *     aggregates: { qtySum: { op: 'sum', field: 'qty' }, cancels: { op: 'count', where: (c, i) => c.type[i] === 'CANCEL' } } }))
 */
import { positiveInt, rejectUnknown } from '../src/config.js';
import { BatchBuilder, originOnly, type Batch, type Schema } from '../src/batch.js';
import { ConfigError } from '../src/errors.js';
import { MinHeap } from '../src/heap.js';
import type { OperatorContext, OperatorDef } from '../src/operator.js';
import { compileAggregates, type AggSpec } from './aggregates.js';

export interface WindowConfig<S extends Schema, A extends Record<string, AggSpec<S>>> {
  kind: 'tumbling' | 'sliding' | 'session';
  /** 'time' (µs of event time, default) or 'count' (records) */
  by?: 'time' | 'count';
  /** window length: µs or records (tumbling, sliding) */
  size?: number;
  /** distance between window starts (sliding); size must be a multiple of it */
  slide?: number;
  /** session: inactivity that closes a session, µs */
  gap?: number;
  /** f64 column with event time (default 'ts') */
  timestamp?: keyof S & string;
  /** µs after a window's end during which late records still update it (default 0) */
  allowedLatenessUs?: number;
  aggregates: A;
}

export type WindowOutput<A> = { readonly key: 'str'; readonly windowStart: 'f64'; readonly windowEnd: 'f64'; readonly count: 'f64' } & { readonly [K in keyof A]: 'f64' };

/** Late records: key, event time, how late (µs behind the watermark) and the record as JSON. */
export const LateSchema = { key: 'str', ts: 'f64', latenessUs: 'f64', record: 'str' } as const;
export type LateSchema = typeof LateSchema;
export const WindowSides = { late: LateSchema } as const;
type WindowSides = typeof WindowSides;

interface Session { start: number; end: number; acc: Float64Array; fired: boolean }

/** The schema of a window's output rows: key, window bounds, count, one f64 per aggregate. */
export function windowOutputSchema<A extends Record<string, unknown>>(aggregates: A): WindowOutput<A> {
  const output: Record<string, 'str' | 'f64'> = { key: 'str', windowStart: 'f64', windowEnd: 'f64', count: 'f64' };
  for (const n of Object.keys(aggregates)) output[n] = 'f64';
  return output as unknown as WindowOutput<A>;
}

export function window<S extends Schema, A extends Record<string, AggSpec<S>>>(config: WindowConfig<S, A>): OperatorDef<S, WindowOutput<A>, WindowSides> & { keyed: true } {
  rejectUnknown('window', config, ['kind', 'by', 'size', 'slide', 'gap', 'timestamp', 'allowedLatenessUs', 'aggregates']);
  const kind = config.kind;
  if (!['tumbling', 'sliding', 'session'].includes(kind)) throw new ConfigError(`window: options.kind must be 'tumbling', 'sliding' or 'session', got '${String(kind)}'`);
  const by = config.by ?? 'time';
  if (by !== 'time' && by !== 'count') throw new ConfigError(`window: options.by must be 'time' or 'count', got '${String(by)}'`);
  if (kind === 'session' && by === 'count') throw new ConfigError('window: session windows are by time only');
  const posInt = (name: string, v: unknown) => positiveInt('window', name, v);
  let size = 0, slide = 0, gap = 0;
  if (kind === 'session') { posInt('gap', config.gap); gap = config.gap!; }
  else {
    posInt('size', config.size); size = config.size!;
    slide = kind === 'tumbling' ? size : (config.slide as number);
    if (kind === 'sliding') posInt('slide', config.slide);
    if (size % slide !== 0) throw new ConfigError(`window: options.size (${size}) must be a multiple of options.slide (${slide})`);
    if (kind === 'tumbling' && config.slide !== undefined && config.slide !== size) throw new ConfigError('window: tumbling windows take no slide (it equals size)');
  }
  const lateness = config.allowedLatenessUs ?? 0;
  if (!Number.isFinite(lateness) || lateness < 0) throw new ConfigError(`window: options.allowedLatenessUs must be >= 0, got ${lateness}`);
  const tsField = config.timestamp ?? 'ts';
  if (typeof config.aggregates !== 'object' || config.aggregates === null) throw new ConfigError('window: options.aggregates must be an object of { name: { op, field? } }');
  const aggs = compileAggregates(config.aggregates);
  const outSchema = windowOutputSchema(config.aggregates);
  const panesPerWindow = kind === 'session' ? 1 : size / slide;

  return {
    kind: 'window', output: (input) => {
      compileAggregates(config.aggregates, input); // checks fields against the input schema
      if (by === 'time' && input[tsField] !== 'f64') throw new ConfigError(`window: timestamp field '${tsField}' must be an f64 column`);
      return outSchema;
    },
    sides: WindowSides, keyed: true,
    create() {
      // time windows: key → paneStart → acc; fire registry windowEnd → keys
      const panes = new Map<string, Map<number, Float64Array>>();
      const fireAt = new Map<number, Set<string>>();
      const fireHeap = new MinHeap<number>();
      // when a pane can go: the last window holding it is final (end − 1 + lateness ≤ watermark)
      const cleanupHeap = new MinHeap<[string, number]>();
      // count windows: key → completed panes (newest last) and the open pane
      const countPanes = new Map<string, { done: Float64Array[]; open: Float64Array; n: number; firstTs: number[]; openFirstTs: number; lastTs: number }>();
      // sessions: key → sessions (disjoint, ascending); heap of (end, key) to fire
      const sessions = new Map<string, Session[]>();
      const sessionHeap = new MinHeap<string>();
      let wm = -Infinity;
      let out: BatchBuilder<WindowOutput<A>> | null = null;
      let outKeys: string[] = [];

      const emitRow = (key: string, start: number, end: number, acc: Float64Array) => {
        out ??= new BatchBuilder(outSchema, 64);
        out.reserve(1);
        const i = out.length++;
        const c = out.columns as unknown as Record<string, Float64Array | string[]>;
        (c.key as string[])[i] = key;
        (c.windowStart as Float64Array)[i] = start;
        (c.windowEnd as Float64Array)[i] = end;
        (c.count as Float64Array)[i] = acc[0];
        for (let j = 0; j < aggs.names.length; j++) (c[aggs.names[j]] as Float64Array)[i] = aggs.result(acc, j);
        outKeys.push(key);
      };
      const flush = (ctx: OperatorContext<WindowOutput<A>, WindowSides>, partition: number) => {
        if (!out || out.length === 0) return;
        ctx.emit(out.finish({ partition, ingestTime: ctx.ingestTime, keys: outKeys }));
        out = null; outKeys = [];
      };

      const mergeWindow = (kp: Map<number, Float64Array>, end: number): Float64Array | null => {
        let acc: Float64Array | null = null;
        for (let p = end - size; p < end; p += slide) {
          const pane = kp.get(p);
          if (!pane) continue;
          acc ??= aggs.init();
          aggs.merge(acc, pane);
        }
        return acc && acc[0] > 0 ? acc : null;
      };
      const register = (end: number, key: string) => {
        let set = fireAt.get(end);
        if (!set) { set = new Set(); fireAt.set(end, set); fireHeap.push(end, end); }
        set.add(key);
      };

      const late = (ctx: OperatorContext<WindowOutput<A>, WindowSides>, batch: Batch<S>, i: number, key: string, ts: number) => {
        const b = new BatchBuilder(LateSchema, 1);
        b.push({ key, ts, latenessUs: wm - ts, record: JSON.stringify(batch.row(i)) });
        ctx.emitSide('late', b.finish({ ...originOnly(batch.meta), keys: [key] }));
      };

      const processTime = (batch: Batch<S>, ctx: OperatorContext<WindowOutput<A>, WindowSides>) => {
        const keys = batch.meta.keys!;
        const ts = batch.columns[tsField] as unknown as Float64Array;
        for (let i = 0; i < batch.length; i++) {
          const key = keys[i];
          const t = ts[i];
          const paneStart = Math.floor(t / slide) * slide;
          const lastEnd = paneStart + size; // the last window holding this pane ends here
          if (lastEnd - 1 + lateness <= wm) { late(ctx, batch, i, key, t); continue; }
          let kp = panes.get(key);
          if (!kp) { kp = new Map(); panes.set(key, kp); }
          let pane = kp.get(paneStart);
          const fresh = !pane;
          if (!pane) { pane = aggs.init(); kp.set(paneStart, pane); cleanupHeap.push(lastEnd - 1 + lateness, [key, paneStart]); }
          aggs.add(pane, batch.columns, i, t);
          for (let end = paneStart + slide; end <= lastEnd; end += slide) {
            if (end - 1 <= wm) {
              // already emitted but within allowed lateness: emit the update now
              if (end - 1 + lateness > wm) { const acc = mergeWindow(kp, end); if (acc) emitRow(key, end - size, end, acc); }
            } else if (fresh) register(end, key);
          }
        }
        flush(ctx, batch.meta.partition);
      };

      const fireTime = (ctx: OperatorContext<WindowOutput<A>, WindowSides>) => {
        while (fireHeap.size && fireHeap.peekPriority() - 1 <= wm) {
          const end = fireHeap.pop()!;
          const keys = fireAt.get(end)!;
          fireAt.delete(end);
          for (const key of keys) {
            const kp = panes.get(key);
            if (!kp) continue;
            const acc = mergeWindow(kp, end);
            if (acc) emitRow(key, end - size, end, acc);
          }
        }
        // drop panes no window can use any more
        while (cleanupHeap.size && cleanupHeap.peekPriority() <= wm) {
          const [key, p] = cleanupHeap.pop()!;
          const kp = panes.get(key);
          if (!kp) continue;
          kp.delete(p);
          if (kp.size === 0) panes.delete(key);
        }
      };

      const processCount = (batch: Batch<S>, ctx: OperatorContext<WindowOutput<A>, WindowSides>) => {
        const keys = batch.meta.keys!;
        const ts = batch.columns[tsField] as unknown as Float64Array | undefined;
        for (let i = 0; i < batch.length; i++) {
          const key = keys[i];
          let st = countPanes.get(key);
          if (!st) { st = { done: [], open: aggs.init(), n: 0, firstTs: [], openFirstTs: NaN, lastTs: NaN }; countPanes.set(key, st); }
          const t = ts ? ts[i] : NaN;
          if (st.n === 0) st.openFirstTs = t;
          aggs.add(st.open, batch.columns, i, t);
          st.lastTs = t;
          if (++st.n < slide) continue;
          st.done.push(st.open); st.firstTs.push(st.openFirstTs);
          if (st.done.length > panesPerWindow) { st.done.shift(); st.firstTs.shift(); }
          st.open = aggs.init(); st.n = 0;
          const acc = aggs.init();
          for (const p of st.done) aggs.merge(acc, p);
          emitRow(key, st.firstTs[0], st.lastTs, acc);
        }
        flush(ctx, batch.meta.partition);
      };

      const processSession = (batch: Batch<S>, ctx: OperatorContext<WindowOutput<A>, WindowSides>) => {
        const keys = batch.meta.keys!;
        const ts = batch.columns[tsField] as unknown as Float64Array;
        for (let i = 0; i < batch.length; i++) {
          const key = keys[i];
          const t = ts[i];
          let list = sessions.get(key);
          if (!list) { list = []; sessions.set(key, list); }
          // merge every session that the new record's [t, t + gap) overlaps or touches, as Flink
          // does (a record exactly `gap` after the last one continues the session)
          const s: Session = { start: t, end: t + gap, acc: aggs.init(), fired: false };
          const keep: Session[] = [];
          for (const o of list) {
            if (o.start <= s.end && s.start <= o.end) {
              s.start = Math.min(s.start, o.start);
              s.end = Math.max(s.end, o.end);
              aggs.merge(s.acc, o.acc);
            } else keep.push(o);
          }
          if (s.end - 1 + lateness <= wm) { late(ctx, batch, i, key, t); continue; }
          aggs.add(s.acc, batch.columns, i, t);
          keep.push(s);
          keep.sort((a, b) => a.start - b.start);
          sessions.set(key, keep);
          if (s.end - 1 <= wm) { s.fired = true; emitRow(key, s.start, s.end, s.acc); sessionCleanup.push(s.end - 1 + lateness, key); } // late update of an emitted session
          else sessionHeap.push(s.end, key);
        }
        flush(ctx, batch.meta.partition);
      };

      const sessionCleanup = new MinHeap<string>();
      const fireSessions = () => {
        while (sessionHeap.size && sessionHeap.peekPriority() - 1 <= wm) {
          const end = sessionHeap.peekPriority();
          const key = sessionHeap.pop()!;
          const s = sessions.get(key)?.find((x) => x.end === end && !x.fired);
          if (!s) continue; // merged into a longer session since
          s.fired = true;
          emitRow(key, s.start, s.end, s.acc);
          sessionCleanup.push(s.end - 1 + lateness, key);
        }
        while (sessionCleanup.size && sessionCleanup.peekPriority() <= wm) {
          const key = sessionCleanup.pop()!;
          const list = sessions.get(key);
          if (!list) continue;
          const left = list.filter((s) => !(s.fired && s.end - 1 + lateness <= wm));
          if (left.length === 0) sessions.delete(key); else sessions.set(key, left);
        }
      };

      return {
        process(batch, ctx) {
          if (by === 'count') processCount(batch, ctx);
          else if (kind === 'session') processSession(batch, ctx);
          else processTime(batch, ctx);
        },
        onWatermark(w, ctx) {
          wm = w;
          if (by === 'count') return;
          if (kind === 'session') fireSessions(); else fireTime(ctx);
          flush(ctx, -1);
        },
        snapshot: () => ({
          wm: Number.isFinite(wm) ? wm : null,
          panes: [...panes].map(([k, kp]) => [k, [...kp].map(([p, a]) => [p, Array.from(a, fin)])]),
          fire: [...fireAt].map(([e, ks]) => [e, [...ks]]),
          count: [...countPanes].map(([k, s]) => [k, { done: s.done.map((a) => Array.from(a, fin)), open: Array.from(s.open, fin), n: s.n, firstTs: s.firstTs, openFirstTs: fin(s.openFirstTs), lastTs: fin(s.lastTs) }]),
          sessions: [...sessions].map(([k, l]) => [k, l.map((s) => ({ start: s.start, end: s.end, acc: Array.from(s.acc, fin), fired: s.fired }))]),
        }),
        restore(state) {
          const st = state as SnapshotState;
          wm = st.wm ?? -Infinity;
          panes.clear(); fireAt.clear(); countPanes.clear(); sessions.clear();
          for (const [k, list] of st.panes) {
            panes.set(k, new Map(list.map(([p, a]) => [p, unfin(a)])));
            for (const [p] of list) cleanupHeap.push(p + size - 1 + lateness, [k, p]);
          }
          for (const [e, ks] of st.fire) { fireAt.set(e, new Set(ks)); fireHeap.push(e, e); }
          for (const [k, s] of st.count) countPanes.set(k, { done: s.done.map(unfin), open: unfin(s.open), n: s.n, firstTs: s.firstTs, openFirstTs: unfinNum(s.openFirstTs), lastTs: unfinNum(s.lastTs) });
          for (const [k, l] of st.sessions) {
            const list = l.map((s) => ({ start: s.start, end: s.end, acc: unfin(s.acc), fired: s.fired }));
            sessions.set(k, list);
            for (const s of list) if (!s.fired) sessionHeap.push(s.end, k); else sessionCleanup.push(s.end - 1 + lateness, k);
          }
        },
      };
    },
  };
}

type Num = number | string;
interface SnapshotState {
  wm: number | null;
  panes: [string, [number, Num[]][]][];
  fire: [number, string[]][];
  count: [string, { done: Num[][]; open: Num[]; n: number; firstTs: number[]; openFirstTs: Num; lastTs: Num }][];
  sessions: [string, { start: number; end: number; acc: Num[]; fired: boolean }[]][];
}
/** JSON has no Infinity/NaN: keep them as strings in snapshots */
function fin(x: number): Num { return Number.isFinite(x) ? x : String(x); }
function unfinNum(x: Num): number { return typeof x === 'string' ? Number(x) : x; }
function unfin(a: Num[]): Float64Array { return Float64Array.from(a, unfinNum); }
