/**
 * A growable table of float32 vectors in WebAssembly memory, with a SIMD kernel that
 * scores one query vector against every row (apps/personalization/dots.wat). Retrieval
 * calls it once per event over the whole catalogue; the WASM kernel runs ~4× the
 * scalar JavaScript loop (bench/retrieval.ts measures both).
 *
 * Layout in the module's memory: [query: 4096 floats][scores: capacity][rows: capacity × d].
 * Growing moves the rows and re-creates the views; hold no view across upsert().
 */
import { readFileSync } from 'node:fs';

const QUERY_FLOATS = 4096;
let wasmModule: WebAssembly.Module | null | undefined;

function loadKernel(): WebAssembly.Module | null {
  if (wasmModule !== undefined) return wasmModule;
  try {
    wasmModule = new WebAssembly.Module(readFileSync(new URL('../../../apps/personalization/dots.wasm', import.meta.url)));
  } catch { wasmModule = null; } // no WASM SIMD here: the JavaScript loop serves
  return wasmModule;
}

export class VectorTable {
  #capacity: number;
  #mem: WebAssembly.Memory | null;
  #dots: ((u: number, table: number, d: number, n: number, out: number) => void) | null;
  rows!: Float32Array;
  #scores!: Float32Array;
  #query!: Float32Array;

  constructor(readonly d: number, capacity = 1024) {
    this.#capacity = capacity;
    const mod = d % 4 === 0 && d <= QUERY_FLOATS ? loadKernel() : null;
    if (mod) {
      const inst = new WebAssembly.Instance(mod, {});
      this.#mem = inst.exports.memory as WebAssembly.Memory; // the module's own memory, grown to fit
      const need = Math.ceil(this.#bytes(capacity) / 65536) - this.#mem.buffer.byteLength / 65536;
      if (need > 0) this.#mem.grow(need);
      this.#dots = inst.exports.dots as never;
    } else { this.#mem = null; this.#dots = null; }
    this.#views();
  }

  get simd(): boolean { return this.#dots !== null; }
  get capacity(): number { return this.#capacity; }

  #bytes(cap: number): number { return (QUERY_FLOATS + cap + cap * this.d) * 4; }

  #views(): void {
    const cap = this.#capacity, d = this.d;
    if (this.#mem) {
      const buf = this.#mem.buffer;
      this.#query = new Float32Array(buf, 0, QUERY_FLOATS);
      this.#scores = new Float32Array(buf, QUERY_FLOATS * 4, cap);
      this.rows = new Float32Array(buf, (QUERY_FLOATS + cap) * 4, cap * d);
    } else {
      const old = this.rows;
      this.rows = new Float32Array(cap * d);
      if (old) this.rows.set(old.subarray(0, Math.min(old.length, this.rows.length)));
      this.#scores = new Float32Array(cap);
      this.#query = new Float32Array(d);
    }
  }

  /** make room for `rows` rows (keeps their contents) */
  ensure(rows: number): void {
    if (rows <= this.#capacity) return;
    let cap = this.#capacity;
    while (cap < rows) cap *= 2;
    if (this.#mem) {
      const oldRowsAt = (QUERY_FLOATS + this.#capacity) * 4, oldLen = this.#capacity * this.d * 4;
      const need = Math.ceil(this.#bytes(cap) / 65536) - this.#mem.buffer.byteLength / 65536;
      if (need > 0) this.#mem.grow(need);
      const bytes = new Uint8Array(this.#mem.buffer);
      bytes.copyWithin((QUERY_FLOATS + cap) * 4, oldRowsAt, oldRowsAt + oldLen); // rows move up past the larger scores area
    }
    this.#capacity = cap;
    this.#views();
  }

  /** scores[r] = u · row r for r in [1, n); the returned view is valid until the next call or growth */
  innerProducts(u: Float32Array, n: number): Float32Array {
    const d = this.d;
    if (this.#dots) {
      this.#query.set(u.subarray(0, d));
      this.#dots(0, (QUERY_FLOATS + this.#capacity) * 4, d, n, QUERY_FLOATS * 4);
      return this.#scores;
    }
    const V = this.rows, s = this.#scores;
    for (let r = 1; r < n; r++) { let acc = 0; const o = r * d; for (let j = 0; j < d; j++) acc += u[j] * V[o + j]; s[r] = acc; }
    return s;
  }
}
