/**
 * A hostile-input corpus for order events (issue #8): malformed messages of every kind a
 * feed can send, each with the dead-letter code the engine must give it, mixed into
 * valid ones. Used by tests/fuzz.test.ts and bench/fuzz-throughput.ts.
 */
import { rng } from '../../demo/orderflow.js';

export type Mutation = { kind: string; code: string; make: (good: Record<string, unknown>, r: () => number) => string; raw?: Buffer };
/** one corpus line: `raw` holds the bytes when they are not UTF-8 text (`value` is then a lossy rendering) */
export interface CorpusLine { value: string; raw?: Buffer; bad?: Mutation }
export const j = (o: unknown) => JSON.stringify(o);
const without = (o: Record<string, unknown>, k: string) => { const c = { ...o }; delete c[k]; return c; };
/** bytes that are not UTF-8: written as bytes (CorpusLine.raw), so the source meets them as a feed would send them */
export const invalidUtf8Bytes = Buffer.concat([Buffer.from('{"ts":1,"venue":"'), Buffer.from([0xff, 0xfe, 0xc3]), Buffer.from('"}')]);

export const MUTATIONS: Mutation[] = [
  { kind: 'truncated JSON', code: 'SLUICE_ERR_MALFORMED_JSON', make: (g, r) => { const s = j(g); return s.slice(0, 1 + Math.floor(r() * (s.length - 2))); } },
  { kind: 'not JSON', code: 'SLUICE_ERR_MALFORMED_JSON', make: (_, r) => ['hello', '{"ts":', '<xml/>', "{'ts': 1}", '{"ts":1,}', ''.padEnd(1 + Math.floor(r() * 40), '}')][Math.floor(r() * 6)] },
  { kind: 'NaN / Infinity literal', code: 'SLUICE_ERR_MALFORMED_JSON', make: (g, r) => j(g).replace(/"qty":\d+/, `"qty":${r() < 0.5 ? 'NaN' : '-Infinity'}`) },
  { kind: 'overflow to Infinity', code: 'SLUICE_ERR_NON_FINITE', make: (g) => j(g).replace(/"qty":\d+/, '"qty":1e999') },
  { kind: 'not an object', code: 'SLUICE_ERR_SCHEMA', make: (_, r) => ['[]', '42', '"order"', 'null', 'true', '[{"ts":1}]'][Math.floor(r() * 6)] },
  { kind: 'wrong type', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, ...[{ qty: 'ten' }, { ts: '2026-11-23' }, { symbol: 7 }, { price: [1] }, { participant: { id: 1 } }, { qty: 1.5 }][Math.floor(r() * 6)] }) },
  { kind: 'missing field', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j(without(g, ['ts', 'venue', 'symbol', 'orderId', 'participant', 'side', 'type', 'qty'][Math.floor(r() * 8)])) },
  { kind: 'negative size or price', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, ...(r() < 0.5 ? { qty: -1 - Math.floor(r() * 1e6) } : { price: -0.01 }) }) },
  { kind: 'absurd size', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, qty: r() < 0.5 ? 1e300 : 2 ** 60 }) },
  { kind: 'unknown enum', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, ...[{ side: 'X' }, { type: 'DELETE' }, { orderType: 'STOP' }, { side: 'b' }][Math.floor(r() * 4)] }) },
  { kind: 'empty strings', code: 'SLUICE_ERR_SCHEMA', make: (g, r) => j({ ...g, ...[{ symbol: '' }, { participant: '' }, { orderId: '' }][Math.floor(r() * 3)] }) },
  { kind: 'timestamp decades off', code: 'SLUICE_ERR_EVENT_TIME', make: (g, r) => j({ ...g, ts: r() < 0.5 ? 1_000_000 : (g.ts as number) + Math.round((20 + r() * 30) * 365 * 86_400e6) }) },
  { kind: 'megabyte payload', code: 'SLUICE_ERR_RECORD_TOO_LARGE', make: (g) => j({ ...g, note: 'x'.repeat(1_000_000) }) },
  { kind: 'invalid UTF-8', code: 'SLUICE_ERR_ENCODING', make: () => invalidUtf8Bytes.toString('utf8'), raw: invalidUtf8Bytes },
  // what the first corpus missed (issue #15)
  { kind: 'whitespace only', code: 'SLUICE_ERR_MALFORMED_JSON', make: (_, r) => [' ', '\t', '  \t '][Math.floor(r() * 3)] },
  { kind: 'duplicate ts key, the last far ahead', code: 'SLUICE_ERR_EVENT_TIME', make: (g) => j(g).replace(/^\{/, `{"ts":${g.ts as number},`).replace(/"ts":(\d+)(?=,"venue")/, `"ts":${(g.ts as number) + 40 * 365 * 86_400e6}`) },
];

/**
 * Valid messages that look odd: each must be scored like any other. `apply` changes a valid
 * message (as an object, or its JSON text) without breaking the order contract.
 */
export const VALID_ODDITIES: { kind: string; apply: (g: Record<string, unknown>) => Record<string, unknown> | string }[] = [
  // a nested "ts" far ahead: only the top-level field is event time
  { kind: 'nested ts far ahead', apply: (g) => ({ meta: { ts: 9_000_000_000_000_000 }, ...g }) },
  // U+FFFD is a valid character (the encoding check looks at bytes, not at the text)
  { kind: 'U+FFFD in a field', apply: (g) => ({ ...g, note: 'caf\ufffd \u{1F4C8}' }) },
  { kind: '__proto__ key', apply: (g) => j(g).replace(/^\{/, '{"__proto__":{"polluted":true},') },
  { kind: 'deeply nested extra field', apply: (g) => j(g).replace(/\}$/, `,"deep":${'['.repeat(5000)}${']'.repeat(5000)}}`) },
  { kind: 'unicode symbol and participant', apply: (g) => ({ ...g, symbol: `${g.symbol as string}\u00e9`, participant: `${g.participant as string}-\u4e2d` }) },
];
export const BOM = Buffer.from([0xef, 0xbb, 0xbf]);

/**
 * `bad` malformed messages spliced at seeded positions among the valid `good` ones, each
 * made next to a real message (with its event time, so event-time checks have a
 * neighbour to judge by). Returns lines in order with the mutation of each bad one.
 */
export function mixCorpus(good: Record<string, unknown>[], bad: number, seed: number): CorpusLine[] {
  const r = rng(seed);
  const lines: CorpusLine[] = good.map((g) => ({ value: j(g) }));
  for (let k = 0; k < bad; k++) {
    const m = MUTATIONS[k % MUTATIONS.length];
    const at = Math.floor(r() * lines.length);
    const near = good[Math.min(good.length - 1, Math.floor((at / lines.length) * good.length))];
    lines.splice(at, 0, { value: m.make(near, r), ...(m.raw ? { raw: m.raw } : {}), bad: m });
  }
  return lines;
}

/** the corpus as a JSON-lines file's bytes (invalid UTF-8 written as the bytes it is) */
export function corpusBytes(lines: CorpusLine[]): Buffer {
  const parts: Buffer[] = [];
  for (const l of lines) { parts.push(l.raw ?? Buffer.from(l.value, 'utf8')); parts.push(NL); }
  return Buffer.concat(parts);
}
const NL = Buffer.from('\n');
