/**
 * A topology as stages and edges: one node per stage (source driver, operator cell, sink
 * driver), one bounded edge per connection, restored operator state put into its cell.
 * Used by the Runtime and by the TopologyTestDriver, so both run the same graph.
 */
import { ConfigError } from '../errors.js';
import { Edge } from '../queue.js';
import type { Topology } from '../topology.js';
import type { Clock } from '../clock.js';
import { OperatorCell, type CellHost, type NodeRt } from './cell.js';
import { SinkDriver, SourceDriver, type DriverHost } from './drivers.js';
import type { Checkpoint } from './options.js';

export interface Graph { cells: OperatorCell[]; sources: SourceDriver[]; sinks: SinkDriver[]; edges: Edge[] }

export function buildGraph(topology: Topology, o: { clock: Clock; host: CellHost & DriverHost; queueCapacity: number; partitioned: boolean; restore?: Checkpoint }): Graph {
  const g: Graph = { cells: [], sources: [], sinks: [], edges: [] };
  const byName = new Map<string, NodeRt>();
  for (const spec of topology.nodes) {
    let node: NodeRt;
    if (spec.kind === 'source') { const s = new SourceDriver(spec, o.clock, o.host); g.sources.push(s); node = s; }
    else if (spec.kind === 'sink') { const s = new SinkDriver(spec, o.clock, o.host); g.sinks.push(s); node = s; }
    else { const c = new OperatorCell(spec, o.clock, o.host, o.partitioned); g.cells.push(c); node = c; }
    byName.set(spec.name, node);
    if (spec.kind !== 'sink') {
      node.outs.set('main', []);
      for (const p of Object.keys(spec.sides)) node.outs.set(p, []);
    }
  }
  for (const spec of topology.nodes) {
    const node = byName.get(spec.name)!;
    for (const ref of spec.inputs) {
      const e = new Edge(ref.node, spec.name, o.queueCapacity);
      byName.get(ref.node)!.outs.get(ref.port)!.push(e);
      node.inputs.push(e);
      g.edges.push(e);
    }
    if (node instanceof OperatorCell) {
      node.connected();
      const st = o.restore?.operators[spec.name];
      if (st !== undefined) {
        if (!node.op.restore) throw new ConfigError(`runtime: checkpoint has state for stage '${spec.name}', which cannot restore`);
        node.op.restore(st);
      }
    }
  }
  return g;
}
