/**
 * Training data for the surveillance detector: simulated order flow with labelled
 * episodes (src/sim/market.ts), encoded by the engine's OrderSequenceEncoder — the
 * same code that encodes live events — as float32 X [N, 32, 16] and uint8 y [N]:
 * 0 = normal, k = Patterns[k − 1] when the event belongs to an episode of its
 * participant × symbol (time within [start, end]). Every episode event is kept;
 * normal events are thinned (all of the member accounts' benign look-alikes are kept:
 * they are the hard negatives).
 *
 *   node dist/models/tools/dump-surveillance.js <out-dir> <seed,seed,...> [events-per-seed] [normal-every]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchOf } from '../../src/batch.js';
import { OrderSchema } from '../../src/contracts.js';
import { Patterns, simulate, type Episode } from '../../src/sim/market.js';
import type { OrderEvent } from '../../src/demo/orderflow.js';
import { OrderSequenceEncoder } from '../../operators/order-sequence.js';

export function orderRow(e: OrderEvent) {
  return {
    ts: e.ts, seq: e.seq ?? NaN, venue: e.venue, symbol: e.symbol, orderId: e.orderId, participant: e.participant, side: e.side, type: e.type,
    orderType: e.orderType ?? 'LIMIT', price: e.price ?? NaN, qty: e.qty, displayQty: e.displayQty ?? NaN, counterparty: e.counterparty ?? '', execId: e.execId ?? '',
  };
}

/** pattern index + 1 of the episode this event belongs to, 0 if none */
export function labeller(episodes: Episode[]): (e: { participant: string; symbol: string; ts: number }) => number {
  const byKey = new Map<string, Episode[]>();
  for (const ep of episodes) {
    const k = ep.participant + '\u0000' + ep.symbol;
    byKey.set(k, [...(byKey.get(k) ?? []), ep]);
  }
  return (e) => {
    for (const ep of byKey.get(e.participant + '\u0000' + e.symbol) ?? []) if (e.ts >= ep.start && e.ts <= ep.end) return Patterns.indexOf(ep.pattern) + 1;
    return 0;
  };
}

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const [outDir, seedsArg, perSeedArg, everyArg] = process.argv.slice(2);
  if (!outDir || !seedsArg) { console.error('usage: dump-surveillance <out-dir> <seeds> [events-per-seed] [normal-every]'); process.exit(2); }
  const seeds = seedsArg.split(',').map(Number);
  const perSeed = Number(perSeedArg ?? 200_000);
  const every = Number(everyArg ?? 25);
  mkdirSync(outDir, { recursive: true });
  const xs: Float32Array[] = [];
  const ys: number[] = [];
  for (const seed of seeds) {
    const sim = simulate({ seed, events: perSeed });
    const label = labeller(sim.episodes);
    const enc = new OrderSequenceEncoder();
    const batch = batchOf(OrderSchema, sim.events.map(orderRow));
    const row = [new Float32Array(enc.widths[0])];
    for (let i = 0; i < batch.length; i++) {
      enc.encode(batch, i, row, 0);
      const y = label(sim.events[i]);
      const member = sim.events[i].participant.startsWith('MBR');
      if (y === 0 && !member && i % every !== 0) continue;
      xs.push(row[0].slice());
      ys.push(y);
    }
  }
  const X = new Float32Array(xs.length * xs[0].length);
  xs.forEach((x, i) => X.set(x, i * x.length));
  writeFileSync(join(outDir, 'X.f32'), Buffer.from(X.buffer));
  writeFileSync(join(outDir, 'y.u8'), Uint8Array.from(ys));
  const counts = Array.from({ length: Patterns.length + 1 }, (_, k) => ys.filter((y) => y === k).length);
  writeFileSync(join(outDir, 'meta.json'), JSON.stringify({ n: ys.length, length: 32, width: 16, seeds, perSeed, every, classes: ['normal', ...Patterns], counts }));
  console.log(`wrote ${ys.length} sequences to ${outDir}; per class ${counts.join(' ')}`);
}
