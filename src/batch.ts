/**
 * Columnar record batches.
 *
 * A batch holds one column per field: numbers in Float64Array / Int32Array, strings in
 * plain arrays. Numeric columns become Arrow vectors without copying (`toArrow`); string
 * columns are UTF-8 encoded on conversion (JavaScript strings have no shared byte form).
 * The schema is a plain object of field types, and the TypeScript types of rows and
 * columns are derived from it, so operators are typed end to end.
 */
import type * as ArrowModule from 'apache-arrow';
import { loadArrow } from './arrow.js';

export type FieldType = 'f64' | 'i32' | 'str';
export type Schema = { readonly [field: string]: FieldType };

export type ColumnOf<F extends FieldType> = F extends 'str' ? string[] : F extends 'i32' ? Int32Array : Float64Array;
export type ValueOf<F extends FieldType> = F extends 'str' ? string : number;
export type Columns<S extends Schema> = { -readonly [K in keyof S]: ColumnOf<S[K]> };
export type Row<S extends Schema> = { -readonly [K in keyof S]: ValueOf<S[K]> };

/** Where a batch came from; preserved by record-wise operators. */
export interface BatchMeta {
  /** source partition (Kafka partition, file index); -1 when mixed after a shuffle */
  partition: number;
  /** processing-time (µs, from the runtime clock) when the oldest record of this batch entered the engine */
  ingestTime: number;
  /** per-record keys, set by keyBy and kept by keyed operators */
  keys?: string[];
  /** where the records came from, for dead letters (e.g. 'orders/3' for a Kafka partition) */
  source?: string;
  /** the source's assignment generation when the records were read (Kafka rebalances) */
  epoch?: number;
  /** per-record Kafka headers of the input record, carried to outputs by record-wise stages */
  headers?: (Record<string, string> | null)[];
  /** per-record source timestamps (µs; Kafka record time), carried like headers */
  timestamps?: number[];
  /**
   * Raw batches only: per record, what the source found wrong with the bytes before any
   * parsing (invalid UTF-8, a tombstone, an over-long line); null for good records.
   * parse dead-letters these with the original bytes.
   */
  rawIssues?: (RawIssue | null)[];
  /**
   * per-record tensors (model outputs a scoring stage keeps, e.g. a user vector and its
   * attention; candidate lists), carried like headers
   */
  vectors?: (Record<string, Float32Array> | null)[];
}

/** meta fields holding one entry per record: they follow records through select and concat */
export const PER_RECORD = ['keys', 'headers', 'timestamps', 'vectors', 'rawIssues'] as const;

/** A raw record the source could not hand over as text (see BatchMeta.rawIssues). */
export interface RawIssue {
  code: string;
  reason: string;
  /** the original bytes: as text when they are valid UTF-8, else base64 */
  payload: string;
  payloadEncoding: 'utf8' | 'base64';
}

/** meta for new records made from a batch (dead letters, late records): same origin, no per-record fields */
export function originOnly(meta: BatchMeta): BatchMeta {
  const { keys: _k, headers: _h, timestamps: _t, vectors: _v, rawIssues: _r, ...rest } = meta;
  return rest;
}

export class Batch<S extends Schema> {
  constructor(
    readonly schema: S,
    readonly length: number,
    readonly columns: Columns<S>,
    readonly meta: BatchMeta,
  ) {}

  /** Materialize row i as an object (tests, sinks; hot paths read columns). */
  row(i: number): Row<S> {
    const out: Record<string, unknown> = {};
    for (const f in this.schema) out[f] = (this.columns[f] as ArrayLike<unknown>)[i];
    return out as Row<S>;
  }

  rows(): Row<S>[] {
    const out: Row<S>[] = new Array(this.length);
    for (let i = 0; i < this.length; i++) out[i] = this.row(i);
    return out;
  }

  /** Same records with another meta (keys, partition). */
  withMeta(meta: Partial<BatchMeta>): Batch<S> {
    return new Batch(this.schema, this.length, this.columns, { ...this.meta, ...meta });
  }

  /** Keep the records whose index is in `idx` (ascending). Keys follow. */
  select(idx: Int32Array | number[], n = idx.length): Batch<S> {
    const b = new BatchBuilder(this.schema, n);
    for (const f in this.schema) {
      const src = this.columns[f] as unknown as ArrayLike<unknown>;
      const dst = b.columns[f] as unknown as { [i: number]: unknown };
      for (let j = 0; j < n; j++) dst[j] = src[idx[j]];
    }
    b.length = n;
    const meta: BatchMeta = { ...this.meta };
    for (const f of PER_RECORD) {
      const src = this.meta[f] as unknown[] | undefined;
      if (!src) continue;
      const dst = new Array(n);
      for (let j = 0; j < n; j++) dst[j] = src[idx[j]];
      (meta as unknown as Record<string, unknown>)[f] = dst;
    }
    return b.finish(meta);
  }
}

function allocColumn(t: FieldType, n: number): Float64Array | Int32Array | string[] {
  // string columns start empty and are filled in order, which keeps them packed arrays
  return t === 'f64' ? new Float64Array(n) : t === 'i32' ? new Int32Array(n) : [];
}

/**
 * Builds a batch with growable columns. Hot code reserves capacity once and writes
 * `columns.x[i]` directly; `push(row)` is the convenient, slower path.
 */
export class BatchBuilder<S extends Schema> {
  columns: Columns<S>;
  length = 0;
  #capacity: number;
  readonly #fields: (keyof S & string)[];

  /**
   * @param shared columns taken as they are (an operator that adds columns to its input
   *   passes the input's through without copying); the builder then holds exactly
   *   `capacity` records and does not grow.
   */
  constructor(readonly schema: S, capacity = 256, shared?: { readonly [field: string]: unknown }) {
    this.#capacity = Math.max(1, capacity);
    this.#fields = Object.keys(schema) as (keyof S & string)[];
    const cols: Record<string, unknown> = {};
    for (const f of this.#fields) cols[f] = shared && f in shared ? shared[f] : allocColumn(schema[f], this.#capacity);
    this.columns = cols as Columns<S>;
  }

  /** Make room for `n` more records. Column references change when this grows. */
  reserve(n: number): void {
    const need = this.length + n;
    if (need <= this.#capacity) return;
    let cap = this.#capacity * 2;
    while (cap < need) cap *= 2;
    const cols = this.columns as Record<string, unknown>;
    for (const f of this.#fields) {
      const old = cols[f];
      if (Array.isArray(old)) continue; // plain arrays grow on their own
      const grown = allocColumn(this.schema[f], cap) as Float64Array;
      grown.set(old as Float64Array);
      cols[f] = grown;
    }
    this.#capacity = cap;
  }

  push(row: Row<S>): void {
    this.reserve(1);
    const i = this.length++;
    const cols = this.columns as Record<string, { [i: number]: unknown }>;
    for (const f of this.#fields) cols[f][i] = row[f];
  }

  /** The built batch; numeric columns are views (no copy) of the builder's buffers. */
  finish(meta: BatchMeta): Batch<S> {
    const n = this.length;
    const out: Record<string, unknown> = {};
    const cols = this.columns as Record<string, unknown>;
    for (const f of this.#fields) {
      const c = cols[f];
      out[f] = Array.isArray(c) ? (c.length === n ? c : c.slice(0, n)) : (c as Float64Array).subarray(0, n);
    }
    return new Batch(this.schema, n, out as Columns<S>, meta);
  }
}

/** Batch from rows (tests and small inputs). */
export function batchOf<S extends Schema>(schema: S, rows: Row<S>[], meta: Partial<BatchMeta> = {}): Batch<S> {
  const b = new BatchBuilder(schema, rows.length);
  for (const r of rows) b.push(r);
  return b.finish({ partition: 0, ingestTime: 0, ...meta });
}

/** Concatenate batches of one schema (per-record meta kept when every batch has it). */
export function concatBatches<S extends Schema>(schema: S, batches: Batch<S>[], meta: BatchMeta): Batch<S> {
  let n = 0;
  for (const b of batches) n += b.length;
  const out = new BatchBuilder(schema, n);
  const cols = out.columns as Record<string, { [i: number]: unknown; set?: (a: ArrayLike<number>, o: number) => void }>;
  let off = 0;
  const perRecord: Record<string, unknown[]> = {};
  for (const f of PER_RECORD) if (batches.length > 0 && batches.every((b) => b.meta[f])) perRecord[f] = [];
  for (const b of batches) {
    for (const f in schema) {
      const src = b.columns[f] as unknown as ArrayLike<unknown>;
      const dst = cols[f];
      if (dst.set && !Array.isArray(dst)) dst.set(src as ArrayLike<number>, off);
      else for (let i = 0; i < b.length; i++) dst[off + i] = src[i];
    }
    for (const f in perRecord) for (const v of b.meta[f as (typeof PER_RECORD)[number]]!) perRecord[f].push(v);
    off += b.length;
  }
  out.length = n;
  return out.finish({ ...meta, ...perRecord });
}

/**
 * Arrow RecordBatch over the same memory: f64 / i32 columns are wrapped, not copied;
 * str columns are encoded to Utf8.
 */
export function toArrow<S extends Schema>(batch: Batch<S>): ArrowModule.RecordBatch {
  const arrow = loadArrow();
  const children: ArrowModule.Data[] = [];
  const fields: ArrowModule.Field[] = [];
  for (const f in batch.schema) {
    const t = batch.schema[f];
    const col = batch.columns[f] as unknown;
    let data: ArrowModule.Data;
    if (t === 'f64') data = arrow.makeData({ type: new arrow.Float64(), length: batch.length, data: col as Float64Array });
    else if (t === 'i32') data = arrow.makeData({ type: new arrow.Int32(), length: batch.length, data: col as Int32Array });
    else data = arrow.vectorFromArray(col as string[], new arrow.Utf8()).data[0];
    children.push(data);
    fields.push(new arrow.Field(f, data.type, false));
  }
  const schema = new arrow.Schema(fields);
  const struct = arrow.makeData({ type: new arrow.Struct(fields), length: batch.length, nullCount: 0, children });
  return new arrow.RecordBatch(schema, struct);
}
