/**
 * Keyed state in snapshots, so a changelog can keep one record per key (Kafka Streams'
 * design) instead of one record per partition that outgrows the broker's message size.
 *
 * An operator marks each per-key collection in its snapshot with `keyedEntries(map)`;
 * everything else in the snapshot is the stage's shared part. `splitState` turns a
 * stage's snapshot into its shared skeleton plus one entry per (collection, key), and
 * `joinState` puts them back together, so `restore(joinState(splitState(s)))` sees what
 * `snapshot()` returned. Collections are found in plain objects up to MAX_DEPTH deep.
 */
export const KEYED = '@keyed';
const REF = '@keyedRef';
const MAX_DEPTH = 3;

export interface KeyedEntries<V> { readonly [KEYED]: [string, V][] }

/** mark a per-key collection in a snapshot */
export function keyedEntries<V>(entries: Iterable<[string, V]>): KeyedEntries<V> {
  return { [KEYED]: Array.from(entries) };
}

/** the entries of a collection marked by keyedEntries (a plain entry array is accepted too: older snapshots) */
export function entriesOf<V>(s: KeyedEntries<V> | [string, V][] | undefined | null): [string, V][] {
  if (!s) return [];
  return Array.isArray(s) ? s : s[KEYED];
}

export interface SplitState {
  /** the snapshot with each keyed collection replaced by a reference to its path */
  shared: unknown;
  /** [collection path, key, value] */
  entries: [string, string, unknown][];
}

const isPlain = (v: unknown): v is Record<string, unknown> => v !== null && typeof v === 'object' && !Array.isArray(v);

export function splitState(state: unknown): SplitState {
  const entries: [string, string, unknown][] = [];
  const walk = (v: unknown, path: string, depth: number): unknown => {
    if (!isPlain(v)) return v;
    if (Array.isArray(v[KEYED])) {
      for (const [k, x] of v[KEYED] as [string, unknown][]) entries.push([path, String(k), x]);
      return { [REF]: path };
    }
    if (depth >= MAX_DEPTH) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, path ? `${path}.${k}` : k, depth + 1);
    return out;
  };
  return { shared: walk(state, '', 0), entries };
}

export function joinState(shared: unknown, entries: Iterable<[string, string, unknown]>): unknown {
  const byPath = new Map<string, [string, unknown][]>();
  for (const [p, k, v] of entries) {
    let l = byPath.get(p);
    if (!l) { l = []; byPath.set(p, l); }
    l.push([k, v]);
  }
  const walk = (v: unknown, depth: number): unknown => {
    if (!isPlain(v)) return v;
    if (typeof v[REF] === 'string') return { [KEYED]: byPath.get(v[REF] as string) ?? [] };
    if (depth >= MAX_DEPTH) return v;
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = walk(x, depth + 1);
    return out;
  };
  return walk(shared, 0);
}
