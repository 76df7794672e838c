/**
 * Embedded sinks: collect in memory (tests), JSON lines to a file or stdout, count only
 * (benchmarks). A sink's write returns a promise when the destination pushes back, and
 * the runtime holds further writes until it settles.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import fastJson from 'fast-json-stringify';
import type { Batch, Row, Schema } from './batch.js';
import { ConfigError, IoError } from './errors.js';
import type { SinkDef } from './io.js';

/** Collects every batch it receives; read them with rows() after the run. */
export function collectSink<S extends Schema>(): SinkDef<S> & { batches: Batch<S>[]; rows(): Row<S>[]; keys(): string[]; rowsAtCheckpoint: Map<number, number> } {
  const batches: Batch<S>[] = [];
  const rowsAtCheckpoint = new Map<number, number>();
  return {
    kind: 'collect-sink',
    batches,
    rowsAtCheckpoint,
    rows: () => batches.flatMap((b) => b.rows()),
    keys: () => batches.flatMap((b) => b.meta.keys ?? []),
    async open() {
      return {
        write: (b: Batch<S>) => { batches.push(b); },
        // how many rows had arrived when checkpoint `id` passed: the committed prefix
        checkpoint: (id: number) => { rowsAtCheckpoint.set(id, batches.reduce((n, b) => n + b.length, 0)); },
        close: async () => {},
      };
    },
  };
}

/** Counts records and drops them (benchmarks). */
export function countSink<S extends Schema>(): SinkDef<S> & { count: number } {
  const sink = {
    kind: 'count-sink',
    count: 0,
    async open() { return { write: (b: Batch<S>) => { sink.count += b.length; }, close: async () => {} }; },
  };
  return sink;
}

/** JSON stringifier compiled from a schema (f64/i32 → number, str → string). */
export function rowStringifier<S extends Schema>(schema: S): (row: Row<S>) => string {
  // numbers are nullable: a plain 'number' type would coerce null (absent, NaN) to 0
  const properties: Record<string, { type: string | string[] }> = {};
  for (const [f, t] of Object.entries(schema)) properties[f] = { type: t === 'str' ? 'string' : ['number', 'null'] };
  const stringify = fastJson({ type: 'object', properties });
  // JSON has no NaN/Infinity: write them as null rather than emitting invalid JSON
  const fields = Object.entries(schema).filter(([, t]) => t !== 'str').map(([f]) => f);
  return (row) => {
    for (const f of fields) if (!Number.isFinite(row[f] as number)) (row as Record<string, unknown>)[f] = null;
    return stringify(row);
  };
}

export interface JsonLinesSinkOptions<S extends Schema> {
  /** file path, or '-' for stdout */
  path: string;
  /** custom serializer for one row (contracts with nested fields); default: compiled from the schema */
  serialize?: (batch: Batch<S>, i: number) => string;
}

/** Writes one JSON object per line. */
export function jsonLinesSink<S extends Schema>(schema: S, opts: JsonLinesSinkOptions<S>): SinkDef<S> {
  if (typeof opts.path !== 'string' || !opts.path) throw new ConfigError('jsonLinesSink: options.path must be a file path or "-"');
  return {
    kind: 'jsonl-sink',
    async open() {
      const out: WriteStream | NodeJS.WriteStream = opts.path === '-' ? process.stdout : createWriteStream(opts.path);
      let error: Error | null = null;
      out.on('error', (e) => { error = e; });
      const str = rowStringifier(schema);
      const ser = opts.serialize ?? ((b: Batch<S>, i: number) => str(b.row(i)));
      return {
        write(b: Batch<S>) {
          if (error) throw new IoError(`jsonLinesSink: writing '${opts.path}' failed: ${(error as Error).message}`, error);
          let text = '';
          for (let i = 0; i < b.length; i++) text += ser(b, i) + '\n';
          if (!out.write(text)) return new Promise<void>((resolve) => out.once('drain', () => resolve()));
        },
        async close() {
          if (opts.path === '-') return;
          await new Promise<void>((resolve, reject) => (out as WriteStream).end((e?: Error | null) => (e ? reject(new IoError(`jsonLinesSink: closing '${opts.path}' failed`, e)) : resolve())));
        },
      };
    },
  };
}
