/**
 * Typed topology builder.
 *
 *   const t = new TopologyBuilder('demo');
 *   const raw = t.source('orders', jsonLinesFile({ path }));
 *   const parsed = raw.via('parse', parseOrders());
 *   parsed.side('dead').to('dead-letters', jsonLinesSink({ path: 'dlq.jsonl' }));
 *   parsed.keyBy('by-symbol', (c, i) => c.symbol[i]).via('norm', normalize({...})).to('out', sink);
 *   const topology = t.build();
 *
 * Record types flow from stage to stage at compile time: wiring an operator to a stream
 * that lacks the fields it reads, or a keyed operator to an unkeyed stream, is a type
 * error. `build()` checks the graph again at run time (unique names, no cycles, every
 * output connected, keyed operators behind keyBy) and lists every problem at once.
 */
import type { Columns, Row, Schema } from './batch.js';
import { TopologyError } from './errors.js';
import type { SinkDef, SourceDef } from './io.js';
import type { JoinOperatorDef, NoSides, OperatorDef, SideSchemas } from './operator.js';
import { filterDef, keyByDef, mapDef, unionDef } from './primitives.js';

export interface PortRef { node: string; port: string }

export type NodeSpec =
  | { kind: 'source'; name: string; def: SourceDef<Schema>; inputs: []; output: Schema; sides: SideSchemas; keyedOut: false }
  | { kind: 'op'; name: string; def: OperatorDef<Schema, Schema, SideSchemas>; inputs: [PortRef]; output: Schema; sides: SideSchemas; keyedOut: boolean }
  | { kind: 'join'; name: string; def: JoinOperatorDef<Schema, Schema, Schema, SideSchemas>; inputs: [PortRef, PortRef]; output: Schema; sides: SideSchemas; keyedOut: boolean }
  | { kind: 'sink'; name: string; def: SinkDef<Schema>; inputs: [PortRef]; output: null; sides: SideSchemas; keyedOut: false };

/** A built, validated topology: nodes in topological order. */
export interface Topology {
  readonly name: string;
  readonly nodes: readonly NodeSpec[];
}

const NAME_RE = /^[A-Za-z][A-Za-z0-9_.-]{0,63}$/;

export class TopologyBuilder {
  readonly #nodes: NodeSpec[] = [];
  readonly #problems: string[] = [];

  constructor(readonly name: string) {
    if (!NAME_RE.test(name)) throw new TopologyError(`topology name '${name}' must match ${NAME_RE}`);
  }

  source<S extends Schema>(name: string, def: SourceDef<S>): Stream<S, false> {
    this.add({ kind: 'source', name, def: def as unknown as SourceDef<Schema>, inputs: [], output: def.output, sides: {}, keyedOut: false });
    return new Stream<S, false>(this, { node: name, port: 'main' }, def.output, false);
  }

  /** @internal */
  add(spec: NodeSpec): void {
    if (!NAME_RE.test(spec.name)) this.#problems.push(`stage name '${spec.name}' must match ${NAME_RE} (it is used in metrics labels)`);
    if (this.#nodes.some((n) => n.name === spec.name)) this.#problems.push(`stage name '${spec.name}' is used twice; names must be unique`);
    this.#nodes.push(spec);
  }

  build(): Topology {
    const problems = [...this.#problems];
    const byName = new Map(this.#nodes.map((n) => [n.name, n]));
    // every input refers to an existing node and port; keyed operators sit behind keyBy
    for (const n of this.#nodes) {
      for (const ref of n.inputs) {
        const up = byName.get(ref.node);
        if (!up) { problems.push(`stage '${n.name}' reads from unknown stage '${ref.node}'`); continue; }
        if (ref.port !== 'main' && !(ref.port in up.sides)) problems.push(`stage '${n.name}' reads unknown side output '${ref.node}.${ref.port}'`);
        if ((n.kind === 'op' || n.kind === 'join') && n.def.keyed) {
          const keyed = ref.port === 'main' ? up.keyedOut : false;
          if (!keyed) problems.push(`stage '${n.name}' (${n.def.kind}) keeps per-key state and needs keyed input: put keyBy before it`);
        }
      }
    }
    // every output port is consumed: nothing may fall on the floor silently
    const consumed = new Set<string>();
    for (const n of this.#nodes) for (const ref of n.inputs) consumed.add(`${ref.node}.${ref.port}`);
    for (const n of this.#nodes) {
      if (n.kind === 'sink') continue;
      if (!consumed.has(`${n.name}.main`)) problems.push(`output of stage '${n.name}' goes nowhere: every branch must end in a sink`);
      for (const port of Object.keys(n.sides)) {
        if (!consumed.has(`${n.name}.${port}`)) problems.push(`side output '${n.name}.${port}' goes nowhere: connect it with .side('${port}').to(...)`);
      }
    }
    if (!this.#nodes.some((n) => n.kind === 'source')) problems.push('a topology needs at least one source');
    const order = topoSort(this.#nodes, problems);
    if (problems.length) throw new TopologyError(`topology '${this.name}' is invalid:\n  - ${problems.join('\n  - ')}`);
    return { name: this.name, nodes: order };
  }
}

function topoSort(nodes: NodeSpec[], problems: string[]): NodeSpec[] {
  const indeg = new Map<string, number>();
  const down = new Map<string, string[]>();
  for (const n of nodes) { indeg.set(n.name, 0); down.set(n.name, []); }
  for (const n of nodes) for (const ref of n.inputs) {
    if (!down.has(ref.node)) continue;
    indeg.set(n.name, (indeg.get(n.name) ?? 0) + 1);
    down.get(ref.node)!.push(n.name);
  }
  const byName = new Map(nodes.map((n) => [n.name, n]));
  const ready = nodes.filter((n) => indeg.get(n.name) === 0).map((n) => n.name);
  const out: NodeSpec[] = [];
  while (ready.length) {
    const name = ready.shift()!;
    out.push(byName.get(name)!);
    for (const d of down.get(name)!) {
      indeg.set(d, indeg.get(d)! - 1);
      if (indeg.get(d) === 0) ready.push(d);
    }
  }
  if (out.length !== nodes.length) {
    const cyc = nodes.filter((n) => !out.includes(n)).map((n) => n.name);
    problems.push(`cycle through stages ${cyc.join(', ')}`);
  }
  return out;
}

/** A stream of records of schema S; `K` says whether records carry keys (after keyBy). */
export class Stream<S extends Schema, K extends boolean = boolean> {
  constructor(
    protected readonly builder: TopologyBuilder,
    protected readonly ref: PortRef,
    readonly schema: S,
    readonly keyed: K,
  ) {}

  /** Apply an operator. Keyed operators (window, normalize, featurize ...) need a KeyedStream. */
  via<O extends Schema, Sides extends SideSchemas = NoSides>(
    name: string,
    def: OperatorDef<S, O, Sides> & ([K] extends [true] ? unknown : { readonly keyed: false }),
  ): Stage<O, Sides, K> {
    const output = (typeof def.output === 'function' ? def.output(this.schema) : def.output) as O;
    this.builder.add({ kind: 'op', name, def: def as unknown as OperatorDef<Schema, Schema, SideSchemas>, inputs: [this.ref], output, sides: def.sides, keyedOut: this.keyed });
    return new Stage<O, Sides, K>(this.builder, { node: name, port: 'main' }, output, this.keyed, def.sides);
  }

  /** Two-input operator (as-of join, alignment): this stream is the left input. */
  join<R extends Schema, O extends Schema, Sides extends SideSchemas = NoSides>(
    name: string,
    right: Stream<R, K>,
    def: JoinOperatorDef<S, R, O, Sides>,
  ): Stage<O, Sides, K> {
    const output = def.output(this.schema, right.schema);
    this.builder.add({ kind: 'join', name, def: def as unknown as JoinOperatorDef<Schema, Schema, Schema, SideSchemas>, inputs: [this.ref, right.ref], output, sides: def.sides, keyedOut: this.keyed && right.keyed });
    return new Stage<O, Sides, K>(this.builder, { node: name, port: 'main' }, output, this.keyed, def.sides);
  }

  /** Partition records by key; downstream keyed operators keep state per key. */
  keyBy(name: string, key: (cols: Columns<S>, i: number) => string): Stream<S, true> {
    const def = keyByDef(this.schema, key);
    this.builder.add({ kind: 'op', name, def: def as unknown as OperatorDef<Schema, Schema, SideSchemas>, inputs: [this.ref], output: this.schema, sides: {}, keyedOut: true });
    return new Stream<S, true>(this.builder, { node: name, port: 'main' }, this.schema, true);
  }

  filter(name: string, keep: (cols: Columns<S>, i: number) => boolean): Stream<S, K> {
    const def = filterDef(this.schema, keep);
    this.builder.add({ kind: 'op', name, def: def as unknown as OperatorDef<Schema, Schema, SideSchemas>, inputs: [this.ref], output: this.schema, sides: {}, keyedOut: this.keyed });
    return new Stream<S, K>(this.builder, { node: name, port: 'main' }, this.schema, this.keyed);
  }

  map<O extends Schema>(name: string, output: O, fn: (row: Row<S>) => Row<O>): Stream<O, K> {
    const def = mapDef(this.schema, output, fn);
    this.builder.add({ kind: 'op', name, def: def as unknown as OperatorDef<Schema, Schema, SideSchemas>, inputs: [this.ref], output, sides: {}, keyedOut: this.keyed });
    return new Stream<O, K>(this.builder, { node: name, port: 'main' }, output, this.keyed);
  }

  /** Merge with another stream of the same schema (e.g. dead letters of several stages). */
  union(name: string, other: Stream<S, boolean>): Stream<S, false> {
    const def = unionDef(this.schema);
    this.builder.add({ kind: 'join', name, def: def as unknown as JoinOperatorDef<Schema, Schema, Schema, SideSchemas>, inputs: [this.ref, other.ref], output: this.schema, sides: {}, keyedOut: false });
    return new Stream<S, false>(this.builder, { node: name, port: 'main' }, this.schema, false);
  }

  to(name: string, sink: SinkDef<S>): void {
    this.builder.add({ kind: 'sink', name, def: sink as unknown as SinkDef<Schema>, inputs: [this.ref], output: null, sides: {}, keyedOut: false });
  }
}

/** The output of an operator: its main stream plus typed side outputs. */
export class Stage<O extends Schema, Sides extends SideSchemas, K extends boolean> extends Stream<O, K> {
  constructor(builder: TopologyBuilder, ref: PortRef, schema: O, keyed: K, readonly sides: Sides) {
    super(builder, ref, schema, keyed);
  }

  side<P extends keyof Sides & string>(port: P): Stream<Sides[P], false> {
    return new Stream<Sides[P], false>(this.builder, { node: this.ref.node, port }, this.sides[port], false);
  }
}
