/**
 * Parse raw lines (files, stdin, Kafka values) into typed records of a contract.
 *
 * Formats: JSON lines, CSV (header or given columns) and LOBSTER message files.
 * Every record is validated against its contract schema (schemas/*.json); a record that
 * fails — bad JSON, a missing or mistyped field, a non-finite number, an oversized or
 * badly encoded line — goes to the `dead` side output with a code and a reason naming
 * the field and rule. The topology never stops for bad input.
 *
 *   raw.via('parse', parse({ format: 'json', contract: 'order-event' }))
 *   raw.via('parse', parse({ format: 'lobster', symbol: 'AMZN', dateUs: Date.UTC(2012, 5, 21) * 1000 }))
 */
import { rejectUnknown } from '../src/config.js';
import { DeadLetters, originOf } from '../src/dead-letters.js';
import { BatchBuilder, originOnly, type Batch, type Columns, type Schema } from '../src/batch.js';
import { BehaviorSchema, contractSchema, describeSchemaError, OrderSchema, schemaValidator } from '../src/contracts.js';
import { ConfigError, DeadLetterCode } from '../src/errors.js';
import type { RawSchema } from '../src/io.js';
import { DeadLetterSchema, type OperatorContext, type OperatorDef } from '../src/operator.js';
import { EventTimeGuard, type GuardSink } from './event-time-guard.js';

/**
 * What parse needs to know of a contract: the JSON Schema each record must satisfy, the
 * columns records become, and how a validated record fills a row. A team parses its own
 * records by passing one of these (see `inputContract`) — no change to the engine.
 */
export interface InputContractDef<S extends Schema = Schema> {
  readonly name: string;
  /** JSON Schema (draft 2020-12) every record must satisfy; its number/integer properties are also checked finite */
  readonly jsonSchema: Record<string, unknown>;
  /** the columns the records become */
  readonly schema: S;
  /** copies a validated record into row i of the output columns (absent numbers NaN, strings '') */
  fill(o: Record<string, unknown>, c: Columns<S>, i: number): void;
  /** the field holding event time in µs, which the event-time guard reads (default 'ts') */
  readonly eventTime?: string;
}

/** the contracts parse knows by name; anything else is passed as an InputContractDef */
export type InputContract = 'order-event' | 'behavior-event' | InputContractDef<Schema>;
type OutputOfContract<C extends InputContract> = C extends InputContractDef<infer S> ? S : C extends 'order-event' ? OrderSchema : BehaviorSchema;

/**
 * maxEventTimeSkewUs: guard each partition's event time (operators/event-time-guard.ts):
 * a record further than this from the partition's newest accepted time is held until
 * `confirmJumpAfter` records agree with it (a weekend gap) or a record fits the old time
 * again (then it is dead-lettered, SLUICE_ERR_EVENT_TIME). A timestamp decades off would
 * otherwise drag the watermark forward and make every later record late.
 */
interface ParseCommon {
  maxLineBytes?: number;
  maxEventTimeSkewUs?: number;
  /** records far from the partition's event time that must agree before it jumps there (default 8) */
  confirmJumpAfter?: number;
  /** reject event times further than this ahead of the processing clock (live flow only; off by default) */
  maxAheadOfClockUs?: number;
}
export type ParseConfig<C extends InputContract> =
  | ({ format: 'json'; contract: C } & ParseCommon)
  | ({ format: 'csv'; contract: C; columns?: string[]; header?: boolean; delimiter?: string } & ParseCommon)
  | ({ format: 'lobster'; contract?: C; symbol: string; dateUs: number; venue?: string; participant?: string } & ParseCommon);

export const ParseSides = { dead: DeadLetterSchema } as const;
type ParseSides = typeof ParseSides;

class BadRecord { constructor(readonly code: string, readonly reason: string) {} }

/** copies a validated object into row i of the output columns */
type Filler<S extends Schema> = (o: Record<string, unknown>, c: Columns<S>, i: number) => void;

const str = (v: unknown, d = ''): string => (typeof v === 'string' ? v : d);
const num = (v: unknown): number => (typeof v === 'number' ? v : NaN);

const fillOrder: Filler<OrderSchema> = (o, c, i) => {
  c.ts[i] = o.ts as number; c.seq[i] = num(o.seq); c.venue[i] = o.venue as string; c.symbol[i] = o.symbol as string;
  c.orderId[i] = o.orderId as string; c.participant[i] = o.participant as string; c.side[i] = o.side as string;
  c.type[i] = o.type as string; c.orderType[i] = str(o.orderType, 'LIMIT'); c.price[i] = num(o.price);
  c.qty[i] = o.qty as number; c.displayQty[i] = num(o.displayQty); c.counterparty[i] = str(o.counterparty); c.execId[i] = str(o.execId);
};
const fillBehavior: Filler<BehaviorSchema> = (o, c, i) => {
  c.ts[i] = o.ts as number; c.userId[i] = o.userId as string; c.itemId[i] = o.itemId as string;
  c.action[i] = o.action as string; c.value[i] = num(o.value);
};

/** `order-event` (../shared/contracts/order-event.schema.json) as parse takes it */
export const OrderContract: InputContractDef<OrderSchema> = { name: 'order-event', jsonSchema: contractSchema('order-event'), schema: OrderSchema, fill: fillOrder };
/** `behavior-event` as parse takes it */
export const BehaviorContract: InputContractDef<BehaviorSchema> = { name: 'behavior-event', jsonSchema: contractSchema('behavior-event'), schema: BehaviorSchema, fill: fillBehavior };

/**
 * A team's own contract for parse, checked once: a name, a JSON Schema object, a columnar
 * schema whose field types are f64/i32/str, a fill function. Throws ConfigError otherwise.
 */
export function inputContract<S extends Schema>(def: InputContractDef<S>): InputContractDef<S> {
  const what = `parse contract '${String((def as { name?: unknown })?.name)}'`;
  if (typeof def !== 'object' || def === null) throw new ConfigError('parse: options.contract must be a contract name or an InputContractDef object');
  if (typeof def.name !== 'string' || !def.name) throw new ConfigError('parse: a contract needs a name');
  if (typeof def.jsonSchema !== 'object' || def.jsonSchema === null) throw new ConfigError(`${what}: jsonSchema must be a JSON Schema object`);
  if (typeof def.fill !== 'function') throw new ConfigError(`${what}: fill(record, columns, i) is required`);
  if (typeof def.schema !== 'object' || def.schema === null || Object.keys(def.schema).length === 0) throw new ConfigError(`${what}: schema must name at least one column`);
  for (const [f, t] of Object.entries(def.schema)) if (t !== 'f64' && t !== 'i32' && t !== 'str') throw new ConfigError(`${what}: column '${f}' has type '${String(t)}' (f64, i32 or str)`);
  try { schemaValidator(def.jsonSchema); } catch (e) { throw new ConfigError(`${what}: jsonSchema does not compile: ${(e as Error).message}`); }
  return def;
}

const builtinContract = (c: InputContract | undefined): InputContractDef<Schema> => {
  if (c === undefined || c === 'order-event') return OrderContract as unknown as InputContractDef<Schema>;
  if (c === 'behavior-event') return BehaviorContract as unknown as InputContractDef<Schema>;
  if (typeof c === 'object' && c !== null) return inputContract(c);
  throw new ConfigError(`parse: options.contract must be 'order-event', 'behavior-event' or an InputContractDef, got '${String(c)}'`);
};

/**
 * JSON allows 1e999 (→ Infinity) and ajv's number check accepts it; the contracts mean
 * finite numbers. Only the contract's numeric fields are checked: extra fields are
 * passed over, not used.
 */
function checkFinite(o: Record<string, unknown>, numeric: string[], integers: Set<string>): void {
  for (let j = 0; j < numeric.length; j++) {
    const v = o[numeric[j]];
    if (typeof v !== 'number') continue;
    if (!Number.isFinite(v)) throw new BadRecord(DeadLetterCode.NON_FINITE, `field '${numeric[j]}' is not a finite number`);
    // 1e300 passes JSON Schema's "integer"; beyond 2^53 no integer is exact, so no size or id means what it says
    if (integers.has(numeric[j]) && Math.abs(v) > Number.MAX_SAFE_INTEGER) throw new BadRecord(DeadLetterCode.SCHEMA, `field '${numeric[j]}' = ${v} is beyond the exact integer range (2^53)`);
  }
}

const LOBSTER_TYPES: Record<string, string> = { '1': 'NEW', '2': 'CANCEL', '3': 'CANCEL', '4': 'EXEC', '5': 'EXEC', '6': 'EXEC', '7': 'HALT' };

export function parse<C extends InputContract = 'order-event'>(config: ParseConfig<C>): OperatorDef<RawSchema, OutputOfContract<C>, ParseSides> & { keyed: false } {
  rejectUnknown('parse', config, ['format', 'contract', 'columns', 'header', 'delimiter', 'maxLineBytes', 'maxEventTimeSkewUs', 'confirmJumpAfter', 'maxAheadOfClockUs', 'symbol', 'dateUs', 'venue', 'participant']);
  if (!['json', 'csv', 'lobster'].includes(config.format)) throw new ConfigError(`parse: options.format must be 'json', 'csv' or 'lobster', got '${String(config.format)}'`);
  const contract = builtinContract(config.contract);
  const maxLine = config.maxLineBytes ?? 1 << 20;
  if (!Number.isInteger(maxLine) || maxLine <= 0) throw new ConfigError(`parse: options.maxLineBytes must be a positive integer, got ${maxLine}`);
  const skew = config.maxEventTimeSkewUs;
  if (skew !== undefined && !(skew > 0)) throw new ConfigError(`parse: options.maxEventTimeSkewUs must be > 0, got ${String(skew)}`);
  if (config.format === 'lobster') {
    if (contract !== (OrderContract as unknown)) throw new ConfigError("parse: format 'lobster' yields 'order-event' records only");
    if (typeof config.symbol !== 'string' || !config.symbol) throw new ConfigError('parse: options.symbol is required for LOBSTER files (they do not name it)');
    if (!Number.isInteger(config.dateUs) || config.dateUs < 0) throw new ConfigError('parse: options.dateUs must be the trading day\'s midnight, µs since the epoch');
  }
  if (config.format === 'csv') {
    if (config.columns === undefined && config.header === false) throw new ConfigError('parse: CSV needs options.columns or options.header: true');
    if (config.delimiter !== undefined && config.delimiter.length !== 1) throw new ConfigError('parse: options.delimiter must be one character');
  }

  const output = contract.schema as OutputOfContract<C>;
  const fill = contract.fill as unknown as Filler<OutputOfContract<C>>;
  const eventTime = contract.eventTime ?? 'ts';
  if (skew !== undefined && contract.schema[eventTime] !== 'f64' && contract.schema[eventTime] !== 'i32') throw new ConfigError(`parse: options.maxEventTimeSkewUs guards event time, but contract '${contract.name}' has no numeric '${eventTime}' column (set its eventTime)`);
  const props = (contract.jsonSchema.properties ?? {}) as Record<string, { type?: string }>;
  const numeric = Object.keys(props).filter((k) => props[k].type === 'number' || props[k].type === 'integer');
  const integers = new Set(Object.keys(props).filter((k) => props[k].type === 'integer'));

  const confirm = config.confirmJumpAfter ?? 8;
  if (!Number.isInteger(confirm) || confirm < 1) throw new ConfigError(`parse: options.confirmJumpAfter must be a positive integer, got ${String(confirm)}`);
  const ahead = config.maxAheadOfClockUs;
  if (ahead !== undefined && !(ahead > 0)) throw new ConfigError(`parse: options.maxAheadOfClockUs must be > 0, got ${String(ahead)}`);
  if (ahead !== undefined && skew === undefined) throw new ConfigError('parse: options.maxAheadOfClockUs needs options.maxEventTimeSkewUs');

  return {
    kind: 'parse', output, sides: ParseSides, keyed: false,
    // the event-time guard's reference and held records belong to the source partition
    partitionState: skew !== undefined,
    create() {
      const validate = schemaValidator(contract.jsonSchema);
      /** per partition: the event-time guard (reference and held records) */
      const guards = new Map<number, EventTimeGuard<Held>>();
      const guardOf = (p: number) => {
        let g = guards.get(p);
        if (!g) { g = new EventTimeGuard<Held>({ skewUs: skew!, confirm, ...(ahead !== undefined ? { maxAheadOfClockUs: ahead } : {}) }); guards.set(p, g); }
        return g;
      };
      let csvHeader: string[] | undefined = config.format === 'csv' ? config.columns : undefined;
      const delim = config.format === 'csv' ? (config.delimiter ?? ',') : ',';
      const toObject = (line: string, offset: number): Record<string, unknown> | null => {
        if (config.format === 'json') {
          let o: unknown;
          try { o = JSON.parse(line); } catch (e) { throw new BadRecord(DeadLetterCode.MALFORMED_JSON, `invalid JSON: ${(e as Error).message}`); }
          if (o === null || typeof o !== 'object' || Array.isArray(o)) throw new BadRecord(DeadLetterCode.SCHEMA, 'record must be a JSON object');
          return o as Record<string, unknown>;
        }
        if (config.format === 'csv') {
          const cells = splitCsv(line, delim);
          if (config.header && offset === 0 && !config.columns) { csvHeader = cells; return null; }
          if (!csvHeader) throw new BadRecord(DeadLetterCode.MALFORMED_CSV, 'CSV row before its header');
          if (cells.length !== csvHeader.length) throw new BadRecord(DeadLetterCode.MALFORMED_CSV, `expected ${csvHeader.length} columns, got ${cells.length}`);
          const o: Record<string, unknown> = {};
          for (let j = 0; j < cells.length; j++) {
            const name = csvHeader[j]; const cell = cells[j];
            if (cell === '') continue;
            const t = props[name]?.type;
            // decimal numbers only: hex, binary and octal literals are not numbers here
            o[name] = t === 'integer' || t === 'number' ? (/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(cell.trim()) ? Number(cell) : cell) : cell;
          }
          return o;
        }
        return lobsterToOrder(line, config as Extract<ParseConfig<C>, { format: 'lobster' }>);
      };

      /** builds one process() call's outputs; held records released now land here too */
      class Out implements GuardSink<Held> {
        out: BatchBuilder<OutputOfContract<C>>;
        headers: (Record<string, string> | null)[] = [];
        times: number[] = [];
        readonly dead: DeadLetters;
        n = 0;
        cap: number;
        constructor(cap: number, ctx: OperatorContext<OutputOfContract<C>, ParseSides>) { this.cap = Math.max(1, cap); this.out = new BatchBuilder(output, this.cap); this.dead = new DeadLetters(ctx); }
        accept(h: Held): void { this.add(h.o, h.header, h.time); }
        /** one valid record into the next row (headers and source times only when some batch had them) */
        add(rec: Record<string, unknown>, header: Record<string, string> | null, time: number): void {
          // the builder was sized for every record this call can accept (the batch and the
          // guard's held ones), so it grows only if that ever stops being true
          if (this.n >= this.cap) { this.out.length = this.n; this.out.reserve(1); this.cap = this.n * 2; }
          if (anyHeaders) this.headers.push(header);
          if (anyTimes) this.times.push(time);
          fill(rec, this.out.columns, this.n++);
        }
        reject(h: Held, reason: string): void { this.deadLetter(DeadLetterCode.EVENT_TIME, reason, h.line, 'utf8', originOf(h, h.offset)); }
        deadLetter(code: string, reason: string, payload: string, enc: 'utf8' | 'base64', origin: string): void { this.dead.addAt(code, reason, payload, origin, enc); }
        finish(meta: Batch<RawSchema>['meta'], ctx: OperatorContext<OutputOfContract<C>, ParseSides>, withHeaders: boolean, withTimes: boolean): void {
          const m: Batch<RawSchema>['meta'] = { ...originOnly(meta) };
          if (withHeaders) m.headers = this.headers;
          if (withTimes) m.timestamps = this.times;
          this.out.length = this.n;
          ctx.emit(this.out.finish(m));
          this.dead.emit(ctx, meta);
        }
      }
      let anyHeaders = false, anyTimes = false;

      return {
        process(batch: Batch<RawSchema>, ctx: OperatorContext<OutputOfContract<C>, ParseSides>) {
          const { value, offset, timestamp } = batch.columns;
          const meta = batch.meta;
          const inHeaders = meta.headers;
          const issues = meta.rawIssues;
          // source timestamps and headers follow the records that parse (Kafka: record time, headers)
          if (inHeaders) anyHeaders = true;
          if (timestamp[0] > 0) anyTimes = true;
          const guard = skew !== undefined ? guardOf(meta.partition) : undefined;
          const o = new Out(batch.length + (guard?.held ?? 0), ctx);
          for (let i = 0; i < batch.length; i++) {
            const issue = issues?.[i];
            if (issue) { o.deadLetter(issue.code, issue.reason, issue.payload, issue.payloadEncoding, originOf(meta, offset[i])); continue; }
            let line = value[i];
            try {
              if (line.length > maxLine) throw new BadRecord(DeadLetterCode.TOO_LARGE, `record of ${line.length} bytes exceeds maxLineBytes ${maxLine}`);
              // a byte-order mark opens some files' first line: it is not part of the record
              if (line.charCodeAt(0) === 0xfeff) line = line.slice(1);
              if (line.length === 0 || (config.format !== 'json' && line.trim() === '')) continue; // blank lines carry nothing
              const rec = toObject(line, offset[i]);
              if (rec === null) continue;
              checkFinite(rec, numeric, integers);
              if (!validate(rec)) throw new BadRecord(DeadLetterCode.SCHEMA, describeSchemaError(validate.errors));
              // the hot path (no guard) makes no per-record object or origin string; a held
              // record keeps its source and offset, and its origin is written only if rejected
              if (!guard) o.add(rec, inHeaders?.[i] ?? null, timestamp[i]);
              else guard.offer(rec[eventTime] as number, { o: rec, line, offset: offset[i], header: inHeaders?.[i] ?? null, time: timestamp[i], partition: meta.partition, source: meta.source }, ctx.clock.now(), o);
            } catch (e) {
              if (!(e instanceof BadRecord)) throw e;
              o.deadLetter(e.code, e.reason, line, 'utf8', originOf(meta, offset[i]));
            }
          }
          guard?.endOfBatch(o);
          o.finish(meta, ctx, anyHeaders, anyTimes);
        },
        close(ctx: OperatorContext<OutputOfContract<C>, ParseSides>) {
          // end of input: records held around an unconfirmed jump are rejected, with their origin
          for (const [p, g] of guards) {
            if (g.held === 0) continue;
            const o = new Out(g.held, ctx);
            g.finish(o);
            o.finish({ partition: p, ingestTime: ctx.ingestTime }, ctx, anyHeaders, anyTimes);
          }
        },
        snapshot: () => ({ guards: [...guards].map(([p, g]) => [p, g.snapshot()]), anyHeaders, anyTimes }),
        restore(s: unknown) {
          const st = s as { guards: [number, ReturnType<EventTimeGuard<Held>['snapshot']>][]; anyHeaders: boolean; anyTimes: boolean };
          guards.clear();
          for (const [p, g] of st.guards) guardOf(p).restore(g);
          anyHeaders = st.anyHeaders; anyTimes = st.anyTimes;
        },
      };
    },
  };
}

/** a valid record the event-time guard may hold back */
interface Held { o: Record<string, unknown>; line: string; offset: number; header: Record<string, string> | null; time: number; partition: number; source?: string }

/** RFC 4180 cells: quoted cells may hold the delimiter and doubled quotes */
export function splitCsv(line: string, delim: string): string[] {
  if (!line.includes('"')) return line.split(delim);
  const out: string[] = [];
  let cur = '';
  let q = false;
  for (let i = 0; i < line.length; i++) {
    const ch = line[i];
    if (q) {
      if (ch === '"') { if (line[i + 1] === '"') { cur += '"'; i++; } else q = false; }
      else cur += ch;
    } else if (ch === '"') q = true;
    else if (ch === delim) { out.push(cur); cur = ''; }
    else cur += ch;
  }
  if (q) throw new BadRecord(DeadLetterCode.MALFORMED_CSV, 'unterminated quoted cell');
  out.push(cur);
  return out;
}

/** LOBSTER message row → order-event object (then validated like any other record) */
export function lobsterToOrder(line: string, cfg: { symbol: string; dateUs: number; venue?: string; participant?: string }): Record<string, unknown> {
  const f = line.split(',');
  if (f.length < 6) throw new BadRecord(DeadLetterCode.MALFORMED_CSV, `LOBSTER rows have 6 columns, got ${f.length}`);
  const secs = Number(f[0]);
  if (!(secs >= 0 && secs < 86400 * 2)) throw new BadRecord(DeadLetterCode.MALFORMED_CSV, `LOBSTER time '${f[0]}' is not seconds after midnight`);
  const type = LOBSTER_TYPES[f[1]];
  if (!type) throw new BadRecord(DeadLetterCode.SCHEMA, `LOBSTER event type '${f[1]}' is unknown (1-7)`);
  const size = Number(f[3]);
  const price = Number(f[4]);
  const dir = f[5].trim();
  const o: Record<string, unknown> = {
    ts: cfg.dateUs + Math.round(secs * 1e6),
    venue: cfg.venue ?? 'NASDAQ',
    symbol: cfg.symbol,
    orderId: f[2],
    participant: cfg.participant ?? 'anon',
    side: dir === '1' ? 'B' : dir === '-1' ? 'S' : dir,
    type,
    qty: size,
  };
  if (type !== 'HALT') o.price = price / 10000;
  if (f[1] === '5') o.displayQty = 0; // hidden order
  return o;
}
