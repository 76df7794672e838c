/**
 * Arrow IPC sink: any stage's output as Arrow record batches, so a data scientist opens
 * Sluice's features, decisions or pushes in pyarrow, pandas, polars or DuckDB without a parser.
 *
 * Two framings of the same batches (the Arrow columnar format's IPC section):
 * - 'file' (`.arrow`, `.feather`, `.ipc`): the random-access file format, magic bytes and a
 *   footer; what `pyarrow.ipc.open_file`, `pyarrow.feather.read_table`, `polars.read_ipc` and
 *   DuckDB's arrow extension read.
 * - 'stream' (`.arrows`): the streaming format, readable while it is still being written
 *   (`pyarrow.ipc.open_stream`), and the framing to pipe to another process on stdout.
 *
 * Numeric columns go out over the batch's own memory (toArrow wraps, it does not copy);
 * string columns are UTF-8 encoded once. Every Sluice batch becomes one Arrow record batch.
 */
import { createWriteStream, type WriteStream } from 'node:fs';
import { loadArrow } from './arrow.js';
import type * as ArrowModule from 'apache-arrow';
import { batchOf, toArrow, type Batch, type Schema } from './batch.js';
import { ConfigError, IoError } from './errors.js';
import type { SinkDef } from './io.js';

export type ArrowIpcFormat = 'file' | 'stream';

export interface ArrowIpcSinkOptions {
  /** file path, or '-' for stdout (stream format only: the file format needs a seekable footer) */
  path: string;
  /** default: told by the path's extension (arrowFormatOf), else 'file' */
  format?: ArrowIpcFormat;
}

/** The Arrow IPC framing a path's extension asks for, or null when it names none. */
export function arrowFormatOf(path: string): ArrowIpcFormat | null {
  const p = path.toLowerCase();
  if (p.endsWith('.arrows')) return 'stream';
  if (p.endsWith('.arrow') || p.endsWith('.feather') || p.endsWith('.ipc')) return 'file';
  return null;
}


/** Writes each batch as an Arrow record batch in the IPC file or stream format. */
export function arrowIpcSink<S extends Schema>(schema: S, opts: ArrowIpcSinkOptions): SinkDef<S> {
  if (typeof opts.path !== 'string' || !opts.path) throw new ConfigError('arrowIpcSink: options.path must be a file path or "-"');
  const format = opts.format ?? arrowFormatOf(opts.path) ?? 'file';
  if (format !== 'file' && format !== 'stream') throw new ConfigError(`arrowIpcSink: format must be 'file' or 'stream', got '${String(format)}'`);
  if (opts.path === '-' && format === 'file') throw new ConfigError("arrowIpcSink: stdout ('-') takes the stream format; the file format ends in a footer");
  return {
    kind: 'arrow-ipc-sink',
    async open() {
      const arrow = loadArrow();
      const writer = format === 'file' ? new arrow.RecordBatchFileWriter() : new arrow.RecordBatchStreamWriter();
      const out: WriteStream | NodeJS.WriteStream = opts.path === '-' ? process.stdout : createWriteStream(opts.path);
      let error: Error | null = null;
      out.on('error', (e) => { error = e; });
      const bytes = writer.toNodeStream();
      bytes.on('error', (e: Error) => { error = e; });
      bytes.pipe(out, { end: opts.path !== '-' });
      let written = 0;
      const failed = (what: string): IoError => new IoError(`arrowIpcSink: ${what} '${opts.path}' failed: ${(error as Error).message}`, error);
      return {
        write(b: Batch<S>) {
          if (error) throw failed('writing');
          if (b.length === 0) return;
          writer.write(toArrow(b));
          written += b.length;
          // the writer's byte stream backs up behind the file: hold the runtime until it drains
          if (out.writableNeedDrain) return new Promise<void>((resolve) => out.once('drain', () => resolve()));
        },
        async close() {
          // an empty output still carries its schema, so a reader opens it and finds zero rows
          if (written === 0) writer.write(toArrow(batchOf(schema, [])));
          const done = opts.path === '-' ? new Promise<void>((resolve) => bytes.once('end', () => resolve())) : new Promise<void>((resolve, reject) => {
            (out as WriteStream).once('finish', () => resolve());
            (out as WriteStream).once('error', reject);
          });
          // close() writes the footer (file) or end-of-stream marker (stream) and ends the byte stream
          writer.close();
          try { await done; } catch (e) { throw new IoError(`arrowIpcSink: closing '${opts.path}' failed`, e); }
          if (error) throw failed('closing');
        },
      };
    },
  };
}
