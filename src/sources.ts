/**
 * Embedded sources: in-memory (tests), line files (JSON lines, CSV, LOBSTER) and stdin,
 * read as fast as possible or paced at real time × N. Each file is one partition; a
 * record's offset is its line number, which is also the checkpoint position.
 */
import { rejectUnknown } from './config.js';
import { createReadStream } from 'node:fs';
import { stat } from 'node:fs/promises';
import type { Readable } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import { Batch, BatchBuilder, batchOf, type RawIssue, type Row, type Schema } from './batch.js';
import { ConfigError, DeadLetterCode, IoError } from './errors.js';
import { RawSchema, type SourceDef, type SourceRead, type SourceReader } from './io.js';

/** Records held in memory, one array per partition (tests, small replays). */
export function memorySource<S extends Schema>(schema: S, partitions: Row<S>[][], opts: { batchSize?: number } = {}): SourceDef<S> {
  const batchSize = opts.batchSize ?? 256;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new ConfigError(`memorySource: options.batchSize must be a positive integer, got ${batchSize}`);
  return {
    kind: 'memory-source',
    output: schema,
    async open(ctx) {
      const restored = ctx.restoreFrom as { offsets: number[]; next: number } | undefined;
      const pos = partitions.map((_, p) => restored?.offsets[p] ?? 0);
      // round-robin over partitions, so partitions interleave as they would live; the
      // turn is part of the position so a restored replay interleaves exactly the same
      let next = restored?.next ?? 0;
      return {
        partitions: () => partitions.map((_, p) => p),
        position: () => ({ offsets: [...pos], next }),
        async close() {},
        async read(max): Promise<SourceRead<S>> {
          const batches: Batch<S>[] = [];
          const endedPartitions: number[] = [];
          for (let tries = 0; tries < partitions.length && batches.length === 0; tries++) {
            const p = next;
            next = (next + 1) % partitions.length;
            if (pos[p] >= partitions[p].length) continue;
            const n = Math.min(max, batchSize, partitions[p].length - pos[p]);
            batches.push(batchOf(schema, partitions[p].slice(pos[p], pos[p] + n), { partition: p }));
            pos[p] += n;
            if (pos[p] >= partitions[p].length) endedPartitions.push(p);
          }
          const done = pos.every((x, p) => x >= partitions[p].length);
          if (done) for (let p = 0; p < partitions.length; p++) if (!endedPartitions.includes(p)) endedPartitions.push(p);
          return { batches, endedPartitions, done };
        },
      };
    },
  };
}

export interface PaceOptions {
  /** 1 = real time, 10 = ten times faster */
  speedup: number;
  /** event time (µs) of a raw line; NaN when it has none (sent at once) */
  timeOf: (line: string) => number;
}

export interface LinesSourceOptions {
  /** one or more files (each a partition); '-' reads stdin */
  paths: string[];
  /** most lines per batch (default 1024) */
  batchSize?: number;
  /** pace the replay by event time; absent = as fast as possible */
  pace?: PaceOptions;
  /** lines longer than this (bytes) stop being buffered at the limit and reach parse as a raw issue (its first 64 KiB), which dead-letters them (default 1 MiB) */
  maxLineBytes?: number;
}

/** event time of a JSON line's top-level "ts" field, without a full parse */
export function timeOfJsonTs(line: string): number {
  const m = /"ts"\s*:\s*(\d+)/.exec(line);
  return m ? Number(m[1]) : NaN;
}

/** Raw lines from files or stdin; the `parse` operator turns them into typed records. */
export function linesSource(opts: LinesSourceOptions): SourceDef<RawSchema> {
  rejectUnknown('linesSource', opts, ['paths', 'batchSize', 'pace', 'maxLineBytes']);
  if (!Array.isArray(opts.paths) || opts.paths.length === 0) throw new ConfigError('linesSource: options.paths must list at least one file (or "-" for stdin)');
  const batchSize = opts.batchSize ?? 1024;
  if (!Number.isInteger(batchSize) || batchSize <= 0) throw new ConfigError(`linesSource: options.batchSize must be a positive integer, got ${batchSize}`);
  const maxLineBytes = opts.maxLineBytes ?? 1 << 20;
  if (!Number.isInteger(maxLineBytes) || maxLineBytes <= 0) throw new ConfigError(`linesSource: options.maxLineBytes must be a positive integer, got ${maxLineBytes}`);
  if (opts.pace && !(opts.pace.speedup > 0)) throw new ConfigError(`linesSource: options.pace.speedup must be > 0, got ${opts.pace.speedup}`);
  return {
    kind: 'lines-source',
    output: RawSchema,
    async open(ctx) {
      for (const p of opts.paths) {
        if (p === '-') continue;
        try { await stat(p); } catch (e) { throw new IoError(`linesSource: cannot read '${p}': ${(e as Error).message}`, e); }
      }
      const restore = ctx.restoreFrom as { offsets: number[]; next: number } | undefined;
      let interrupt!: () => void;
      const interrupted = new Promise<void>((r) => { interrupt = r; });
      // a paced replay reads small chunks: splitting a chunk into lines is one synchronous
      // step (~1 µs a line), so a 1 MiB chunk (~10k order lines) held the event loop ~10 ms
      // and every event due meanwhile waited for it (the p99 tail at 10k ev/s)
      const highWaterMark = opts.pace ? PACED_READ_BYTES : FAST_READ_BYTES;
      const parts = opts.paths.map((path, p) => new LineReader(path === '-' ? process.stdin : createReadStream(path, { highWaterMark }), p, restore?.offsets[p] ?? 0, maxLineBytes, interrupted, path));
      return new LinesReader(parts, batchSize, opts.pace, restore?.next ?? 0, interrupt);
    },
  };
}

/**
 * Splits a byte stream into lines. Bytes, not decoded text: a line that is not valid
 * UTF-8 is handed on as base64 with a raw issue (decoding first would turn it into
 * U+FFFD and lose the original), and a line longer than maxLineBytes stops being
 * buffered as soon as it passes the limit (its first 64 KiB are kept for the dead
 * letter), so an 80 MB line costs 64 KiB, not 80 MB.
 *
 * A chunk is split into line boundaries only (positions, no strings); a line is decoded
 * when it is taken. Decoding a whole chunk up front made every line's string live until
 * the last line of its chunk was processed: in a paced replay that outlived the young
 * generation, so each line was copied by the scavenger and promoted, and the old
 * generation's growth (≈ 85 MB/s at 10k ev/s) came back as mark-compact pauses.
 */
class LineReader {
  #iter: AsyncIterator<Buffer | string>;
  /** buffered lines: the bytes [start, end) of buf, total = the line's full length (over-long lines keep only a prefix) */
  #bufs: Buffer[] = [];
  #starts: number[] = [];
  #ends: number[] = [];
  #totals: number[] = [];
  /** lines peeked at (decoded early for the pacer), by index */
  #peeked: (string | undefined)[] = [];
  #head = 0;
  #rest: Buffer[] = [];
  #restLen = 0;
  #eof = false;
  /** next line number to deliver */
  offset = 0;
  #skip: number;
  #lineNo = 0;
  /** @param name the file path, or '-' for stdin: batches carry it as meta.source (dead-letter origins say `name@line`) */
  constructor(readonly stream: Readable, readonly partition: number, skipTo: number, readonly maxLineBytes: number, readonly interrupted: Promise<void>, readonly name: string) {
    this.#iter = stream[Symbol.asyncIterator]();
    this.#skip = skipTo;
  }
  #stopped = false;
  get ended(): boolean { return (this.#eof || this.#stopped) && this.#head >= this.#bufs.length; }
  get buffered(): number { return this.#bufs.length - this.#head; }

  #push(buf: Buffer, start: number, end: number, total: number): void {
    // lines already processed before a restore are skipped unread
    if (this.#lineNo++ < this.#skip) { this.offset++; return; }
    this.#bufs.push(buf); this.#starts.push(start); this.#ends.push(end); this.#totals.push(total);
  }

  /** line j of the buffer as text, or as a raw issue (too long, not UTF-8) with text '' */
  #decode(j: number): { text: string; issue: RawIssue | null } {
    const buf = this.#bufs[j].subarray(this.#starts[j], this.#ends[j]), total = this.#totals[j];
    if (total > this.maxLineBytes) {
      return { text: '', issue: { code: DeadLetterCode.TOO_LARGE, reason: `line of ${total} bytes exceeds maxLineBytes ${this.maxLineBytes} (first ${buf.length} bytes kept)`, ...payloadOf(buf) } };
    }
    if (!isUtf8(buf)) return { text: '', issue: { code: DeadLetterCode.ENCODING, reason: 'invalid UTF-8; the original bytes are in the payload, base64', payload: buf.toString('base64'), payloadEncoding: 'base64' } };
    return { text: buf.toString('utf8'), issue: null };
  }

  #chunk(chunk: Buffer): void {
    let pos = 0;
    for (;;) {
      const nl = chunk.indexOf(10, pos);
      const end = nl < 0 ? chunk.length : nl;
      if (this.#restLen === 0 && nl >= 0) {
        // the common case: a whole line inside this chunk, recorded by position
        if (end - pos > this.maxLineBytes) this.#push(chunk, pos, pos + KEEP, end - pos);
        else this.#push(chunk, pos, end, end - pos);
        pos = nl + 1;
        continue;
      }
      // a line that started in an earlier chunk (or runs past this one): keep at most KEEP bytes past the limit; count the rest
      const piece = chunk.subarray(pos, end);
      const room = this.#restLen > this.maxLineBytes ? Math.max(0, KEEP - this.#keptLen()) : piece.length;
      if (room > 0) this.#rest.push(room >= piece.length ? piece : piece.subarray(0, room));
      this.#restLen += piece.length;
      if (this.#restLen > this.maxLineBytes) this.#trimRest();
      if (nl < 0) break;
      this.#pushRest();
      pos = nl + 1;
    }
  }

  #pushRest(): void {
    const total = this.#restLen;
    const line = this.#rest.length === 1 ? this.#rest[0] : Buffer.concat(this.#rest);
    this.#rest = []; this.#restLen = 0;
    this.#push(line, 0, line.length, total);
  }

  #keptLen(): number { let n = 0; for (const b of this.#rest) n += b.length; return n; }
  #trimRest(): void {
    if (this.#keptLen() <= KEEP) return;
    const all = Buffer.concat(this.#rest);
    this.#rest = [Buffer.from(all.subarray(0, KEEP))];
  }

  /** make sure some lines are buffered (false at end of file) */
  async fill(): Promise<boolean> {
    while (this.buffered === 0 && !this.#eof) {
      this.#bufs = []; this.#starts = []; this.#ends = []; this.#totals = []; this.#peeked = []; this.#head = 0;
      // a stop does not wait for input that may never come (stdin left open)
      const r = await Promise.race([this.#iter.next(), this.interrupted.then(() => null)]);
      if (r === null) { this.#stopped = true; return false; }
      if (r.done) {
        this.#eof = true;
        if (this.#restLen > 0) this.#pushRest();
      } else {
        const v = r.value;
        this.#chunk(typeof v === 'string' ? Buffer.from(v, 'utf8') : v);
      }
    }
    return this.buffered > 0;
  }

  take(n: number): { lines: string[]; issues: (RawIssue | null)[] } {
    const m = Math.min(n, this.buffered);
    const lines = new Array<string>(m), issues = new Array<RawIssue | null>(m);
    for (let k = 0; k < m; k++) {
      const j = this.#head + k;
      const peeked = this.#peeked[j];
      if (peeked !== undefined) { lines[k] = peeked; issues[k] = null; continue; }
      const d = this.#decode(j);
      lines[k] = d.text; issues[k] = d.issue;
    }
    this.#head += m;
    return { lines, issues };
  }
  /** line j ahead of the head, decoded ('' for a line with a raw issue) */
  peek(j = 0): string | undefined {
    const at = this.#head + j;
    if (at >= this.#bufs.length) return undefined;
    const d = this.#decode(at);
    if (d.issue === null) this.#peeked[at] = d.text;
    return d.text;
  }
  close(): void { this.stream.destroy(); }
}

/** read chunk of an as-fast-as-possible replay: large, for throughput */
const FAST_READ_BYTES = 1 << 20;
/** read chunk of a paced replay: small, so one chunk's line split never holds the loop long */
const PACED_READ_BYTES = 1 << 16;

/** bytes of an over-long line kept for its dead letter */
const KEEP = 65_536;

/** a raw record's bytes for a dead letter: text when valid UTF-8, else base64 */
export function payloadOf(buf: Buffer): { payload: string; payloadEncoding: 'utf8' | 'base64' } {
  return isUtf8(buf) ? { payload: buf.toString('utf8'), payloadEncoding: 'utf8' } : { payload: buf.toString('base64'), payloadEncoding: 'base64' };
}

class LinesReader implements SourceReader<RawSchema> {
  #paceStartEvent = NaN;
  #next: number;
  constructor(readonly parts: LineReader[], readonly batchSize: number, readonly pace: PaceOptions | undefined, next: number, readonly interrupt: () => void) { this.#next = next; }

  partitions(): number[] { return this.parts.map((p) => p.partition); }
  position(): { offsets: number[]; next: number } { return { offsets: this.parts.map((p) => p.offset), next: this.#next }; }
  async close(): Promise<void> { for (const p of this.parts) p.close(); }

  async read(max: number): Promise<SourceRead<RawSchema>> {
    const endedPartitions: number[] = [];
    for (let tries = 0; tries < this.parts.length; tries++) {
      const part = this.parts[this.#next];
      this.#next = (this.#next + 1) % this.parts.length;
      if (part.ended) continue;
      if (!(await part.fill())) { endedPartitions.push(part.partition); continue; }
      let n = Math.min(max, this.batchSize, part.buffered);
      if (this.pace) n = await this.#paced(part, n);
      const { lines, issues } = part.take(n);
      const b = new BatchBuilder(RawSchema, lines.length);
      const c = b.columns;
      let anyIssue = false;
      for (let i = 0; i < lines.length; i++) {
        let line = lines[i];
        if (line.charCodeAt(line.length - 1) === 13) line = line.slice(0, -1); // CRLF files
        c.key[i] = ''; c.value[i] = line; c.offset[i] = part.offset + i; c.timestamp[i] = 0;
        if (issues[i]) anyIssue = true;
      }
      b.length = lines.length;
      part.offset += lines.length;
      return { batches: [b.finish({ partition: part.partition, ingestTime: 0, source: part.name, ...(anyIssue ? { rawIssues: issues } : {}) })], endedPartitions, done: false };
    }
    return { batches: [], endedPartitions, done: this.parts.every((p) => p.ended) };
  }

  /** wait until the first line is due, then take it and the following lines already due */
  async #paced(part: LineReader, n: number): Promise<number> {
    const { speedup, timeOf } = this.pace!;
    const first = timeOf(part.peek()!);
    if (!Number.isFinite(first)) return 1;
    if (Number.isNaN(this.#paceStartEvent)) this.#paceStartEvent = first;
    const dueMs = (t: number) => (t - this.#paceStartEvent) / speedup / 1000;
    const waitMs = dueMs(first) - (performance.now() - this.#wallStartMs);
    if (waitMs > 1) await new Promise((r) => setTimeout(r, Math.min(waitMs, 1000)));
    const elapsed = performance.now() - this.#wallStartMs;
    let k = 1;
    while (k < n) {
      const line = part.peek(k);
      if (line === undefined) break;
      const t = timeOf(line);
      if (Number.isFinite(t) && dueMs(t) > elapsed) break;
      k++;
    }
    return k;
  }
  readonly #wallStartMs = performance.now();
}

/** convenience: Batch of raw lines (tests) */
export function rawLines(lines: string[], partition = 0): Batch<RawSchema> {
  return batchOf(RawSchema, lines.map((value, i) => ({ key: '', value, offset: i, timestamp: 0 })), { partition });
}
