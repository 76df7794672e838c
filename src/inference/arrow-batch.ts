/**
 * Arrow record batches across the thread boundary into the inference workers.
 *
 * What crosses is a record batch in Arrow's columnar layout: its schema (field names, Arrow
 * types, list sizes) and its column value buffers, transferred (moved, not copied or
 * IPC-serialised). A model input arrives as either
 * - one column named like the input, a FixedSizeList<Float32 | Int64> of the row width (what
 *   the score operator sends: an encoder's packed rows are exactly that list's child buffer,
 *   so the tensor in the worker is a view over the same memory), or
 * - the named scalar columns its manifest lists in `columns` (a tabular model taking, say,
 *   `cancelRatio, otr, spreadBps`), assembled into the [rows, k] tensor in the worker.
 *
 * Arrow JS objects are class instances, which structured clone strips, so a batch travels as
 * a plain description of that layout (WireBatch). apache-arrow objects are built only at the
 * edges that want them: `toWire` takes a RecordBatch a team built with apache-arrow,
 * `fromWire` gives one back in the worker. The score operator's own path (inputBatch →
 * tensorsOf) builds none, because making them per batch measured 1.2–1.4× the packed hop
 * (bench/RESULTS-arrow-hop.md); describing the layout directly costs what packed arrays did.
 *
 * NOTES-runtime (measured): 16 separate column buffers to a worker and back cost 92 µs
 * against 41 µs for one packed array — so per-input list columns, not one column per
 * feature, are the layout the score operator sends.
 */
import type * as ArrowModule from 'apache-arrow';
import { loadArrow } from '../arrow.js';
import type { TensorSpec } from './registry.js';

/** a tensor as it crosses to a worker: its values (buffer transferred) and dims */
export interface WireTensor { data: Float32Array | BigInt64Array; dims: number[] }

export type WireType = 'float32' | 'float64' | 'int32' | 'int64';
/** one column: a scalar of `type`, or a fixed-size list of `listSize` of them */
export interface WireColumn { name: string; type: WireType; listSize?: number; values: Float32Array | Float64Array | Int32Array | BigInt64Array }
/** a RecordBatch as structured clone can carry it: the schema in plain fields, the buffers to transfer */
export interface WireBatch { length: number; columns: WireColumn[] }

/** thrown where a batch does not fit a model's inputs (the pool wraps it as a ModelShapeError) */
export class BatchShapeError extends Error {}

const rowWidth = (spec: TensorSpec): number => spec.shape.slice(1).reduce((a, d) => a * d, 1);

/**
 * The record batch the score operator sends, in wire form: one FixedSizeList column per model
 * input over its packed rows (`arrays[j]` holds n rows of input j's width; no copy, no
 * apache-arrow objects; fromWire turns it into a RecordBatch where one is wanted).
 */
export function inputBatch(specs: TensorSpec[], arrays: (Float32Array | BigInt64Array)[], n: number): WireBatch {
  const columns: WireColumn[] = specs.map((spec, j) => {
    const width = rowWidth(spec);
    const values = arrays[j];
    if (values.length !== n * width) throw new BatchShapeError(`input '${spec.name}' has ${values.length} values for ${n} rows of ${width}`);
    // the column's type is the array's; tensorsOf converts where the model's dtype differs
    return { name: spec.name, type: values instanceof BigInt64Array ? 'int64' : 'float32', listSize: width, values };
  });
  return { length: n, columns };
}

// makeData's overloads are per type; the props here are checked by construction
const makeData = (arrow: typeof ArrowModule, props: object): ArrowModule.Data => (arrow.makeData as unknown as (p: object) => ArrowModule.Data)(props);

function recordBatch(arrow: typeof ArrowModule, fields: ArrowModule.Field[], children: ArrowModule.Data[], n: number): ArrowModule.RecordBatch {
  const struct = makeData(arrow, { type: new arrow.Struct(fields), length: n, nullCount: 0, children });
  return new arrow.RecordBatch(new arrow.Schema(fields), struct as ArrowModule.Data<ArrowModule.Struct>);
}

/** scalar Arrow type → wire type, or null for a type the workers do not take */
function wireTypeOf(arrow: typeof ArrowModule, t: ArrowModule.DataType): WireType | null {
  if (arrow.DataType.isFloat(t)) return t.precision === arrow.Precision.SINGLE ? 'float32' : t.precision === arrow.Precision.DOUBLE ? 'float64' : null;
  if (arrow.DataType.isInt(t)) return t.isSigned && t.bitWidth === 32 ? 'int32' : t.isSigned && t.bitWidth === 64 ? 'int64' : null;
  return null;
}

/** The wire form of a batch: its schema and its value buffers (views of the batch's own memory; no nulls). */
export function toWire(rb: ArrowModule.RecordBatch): WireBatch {
  const arrow = loadArrow();
  const columns: WireColumn[] = rb.schema.fields.map((f, k) => {
    const data = rb.data.children[k];
    if (data.nullCount > 0) throw new BatchShapeError(`column '${f.name}' has ${data.nullCount} nulls; model inputs take none`);
    if (arrow.DataType.isFixedSizeList(f.type)) {
      const child = data.children[0];
      const type = wireTypeOf(arrow, child.type);
      if (!type) throw new BatchShapeError(`column '${f.name}' is a list of ${String(child.type)}; models take float32, float64, int32 or int64`);
      const size = (f.type as ArrowModule.FixedSizeList).listSize;
      const values = listValues(data, size, f.name);
      return { name: f.name, type, listSize: size, values };
    }
    const type = wireTypeOf(arrow, f.type);
    if (!type) throw new BatchShapeError(`column '${f.name}' is ${String(f.type)}; models take float32, float64, int32 or int64`);
    return { name: f.name, type, values: (data.values as WireColumn['values']).subarray(data.offset, data.offset + data.length) };
  });
  return { length: rb.numRows, columns };
}

/** a list column's values for its rows (batches as built here; a sliced list column is refused, not guessed at) */
function listValues(data: ArrowModule.Data, size: number, name: string): WireColumn['values'] {
  const child = data.children[0];
  if (data.offset !== 0 || child.offset !== 0) throw new BatchShapeError(`column '${name}' is a slice of a list column; send it unsliced (or copy it with vectorFromArray)`);
  return (child.values as WireColumn['values']).subarray(0, data.length * size);
}

/** a batch in wire form (inputBatch, toWire), as opposed to an apache-arrow RecordBatch */
export function isWireBatch(b: unknown): b is WireBatch {
  return typeof b === 'object' && b !== null && Array.isArray((b as WireBatch).columns) && typeof (b as WireBatch).length === 'number' && !('schema' in b);
}

/** the distinct buffers to transfer with a wire batch */
export function transferListOf(w: WireBatch): ArrayBuffer[] {
  return [...new Set(w.columns.map((c) => c.values.buffer as ArrayBuffer))];
}

/** The RecordBatch again, in the worker, over the transferred buffers (no copy). */
export function fromWire(w: WireBatch): ArrowModule.RecordBatch {
  const arrow = loadArrow();
  const typeOf = (t: WireType): ArrowModule.DataType => (t === 'float32' ? new arrow.Float32() : t === 'float64' ? new arrow.Float64() : t === 'int32' ? new arrow.Int32() : new arrow.Int64());
  const fields: ArrowModule.Field[] = [];
  const children: ArrowModule.Data[] = [];
  for (const c of w.columns) {
    const item = typeOf(c.type);
    if (c.listSize !== undefined) {
      const type = new arrow.FixedSizeList(c.listSize, new arrow.Field('item', item, false));
      const child = makeData(arrow, { type: item, length: c.values.length, data: c.values });
      children.push(makeData(arrow, { type, length: w.length, nullCount: 0, child }));
      fields.push(new arrow.Field(c.name, type, false));
    } else {
      children.push(makeData(arrow, { type: item, length: w.length, nullCount: 0, data: c.values }));
      fields.push(new arrow.Field(c.name, item, false));
    }
  }
  return recordBatch(arrow, fields, children, w.length);
}

/**
 * The model's input tensors from a batch, by the manifest: an input with `columns` is
 * assembled from those scalar columns (converted to its dtype); any other input is the list
 * column of its own name, whose values become the tensor as they are when the types match.
 */
export function tensorsOf(w: WireBatch, specs: TensorSpec[]): Record<string, WireTensor> {
  const n = w.length;
  const feeds: Record<string, WireTensor> = {};
  const columnOf = (name: string, forInput: string): WireColumn => {
    const c = w.columns.find((x) => x.name === name);
    if (!c) throw new BatchShapeError(`input '${forInput}' needs column '${name}'; the batch has ${w.columns.map((x) => x.name).join(', ') || 'no columns'}`);
    return c;
  };
  for (const spec of specs) {
    const dims = [n, ...spec.shape.slice(1)];
    const width = rowWidth(spec);
    const int64 = spec.dtype === 'int64';
    if (spec.columns) {
      if (spec.columns.length !== width) throw new BatchShapeError(`input '${spec.name}' lists ${spec.columns.length} columns for rows of ${width}`);
      const out = int64 ? new BigInt64Array(n * width) : new Float32Array(n * width);
      spec.columns.forEach((name, j) => {
        const c = columnOf(name, spec.name);
        if (c.values.length < n) throw new BatchShapeError(`column '${name}' has ${c.values.length} values for ${n} rows`);
        if (c.listSize !== undefined) throw new BatchShapeError(`column '${name}' is a list; input '${spec.name}' takes one number per row from it`);
        const v = c.values as ArrayLike<number | bigint>;
        if (int64) for (let i = 0; i < n; i++) (out as BigInt64Array)[i * width + j] = BigInt(v[i]);
        else for (let i = 0; i < n; i++) (out as Float32Array)[i * width + j] = Number(v[i]);
      });
      feeds[spec.name] = { data: out, dims };
      continue;
    }
    const c = columnOf(spec.name, spec.name);
    if (c.values.length < n * (c.listSize ?? 1)) throw new BatchShapeError(`column '${c.name}' has ${c.values.length} values for ${n} rows`);
    if (c.listSize !== width) throw new BatchShapeError(`column '${spec.name}' must be a fixed-size list of ${width} (the input's row), got ${c.listSize === undefined ? `a scalar ${c.type}` : `a list of ${c.listSize}`}`);
    const values = c.values.length === n * width ? c.values : c.values.subarray(0, n * width);
    if (int64 ? values instanceof BigInt64Array : values instanceof Float32Array) feeds[spec.name] = { data: values as Float32Array | BigInt64Array, dims };
    else if (int64) feeds[spec.name] = { data: BigInt64Array.from(values as ArrayLike<number>, (x) => BigInt(x)), dims };
    else feeds[spec.name] = { data: Float32Array.from(values as ArrayLike<number>, Number), dims };
  }
  return feeds;
}
