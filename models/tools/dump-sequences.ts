/**
 * Writes training data for the participant-profile model: demo order flow (seeded)
 * parsed by the engine's own parser and encoded by the same OrderSequenceEncoder the
 * scoring stage uses, as raw little-endian float32 X [N, 32, 16] and uint8 y [N]
 * (participant kind: 0 MM, 1 HFT, 2 INST).
 *
 *   node dist/models/tools/dump-sequences.js <out-dir> <seed,seed,...> <events-per-seed> [every]
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchOf } from '../../src/batch.js';
import { OrderSchema } from '../../src/contracts.js';
import { generateOrderFlow } from '../../src/demo/orderflow.js';
import { OrderSequenceEncoder } from '../../operators/order-sequence.js';

export const ProfileClasses = ['market-maker', 'hft', 'institution'] as const;
const kindOf = (p: string): number => (p.startsWith('MM') ? 0 : p.startsWith('HFT') ? 1 : p.startsWith('INST') ? 2 : -1);

const [outDir, seedsArg, perSeedArg, everyArg] = process.argv.slice(2);
if (!outDir || !seedsArg) { console.error('usage: dump-sequences <out-dir> <seeds> <events-per-seed> [every]'); process.exit(2); }
const seeds = seedsArg.split(',').map(Number);
const perSeed = Number(perSeedArg ?? 100_000);
const every = Number(everyArg ?? 4);
mkdirSync(outDir, { recursive: true });
const xs: Float32Array[] = [];
const ys: number[] = [];
for (const seed of seeds) {
  const enc = new OrderSequenceEncoder();
  const w = enc.widths[0];
  const events = [...generateOrderFlow({ seed, events: perSeed })];
  const batch = batchOf(OrderSchema, events.map((e) => ({
    ts: e.ts, seq: e.seq ?? NaN, venue: e.venue, symbol: e.symbol, orderId: e.orderId, participant: e.participant, side: e.side, type: e.type,
    orderType: e.orderType ?? 'LIMIT', price: e.price ?? NaN, qty: e.qty, displayQty: e.displayQty ?? NaN, counterparty: e.counterparty ?? '', execId: e.execId ?? '',
  })));
  const row = [new Float32Array(w)];
  const seen = new Map<string, number>();
  for (let i = 0; i < batch.length; i++) {
    enc.encode(batch, i, row, 0);
    const key = batch.columns.participant[i] + batch.columns.symbol[i];
    const c = (seen.get(key) ?? 0) + 1;
    seen.set(key, c);
    // skip the first events of a key (mostly padding) and thin the rest
    if (c < 8 || i % every !== 0) continue;
    const y = kindOf(batch.columns.participant[i]);
    if (y < 0) continue;
    xs.push(row[0].slice());
    ys.push(y);
  }
}
const X = new Float32Array(xs.length * xs[0].length);
xs.forEach((x, i) => X.set(x, i * x.length));
writeFileSync(join(outDir, 'X.f32'), Buffer.from(X.buffer));
writeFileSync(join(outDir, 'y.u8'), Uint8Array.from(ys));
writeFileSync(join(outDir, 'meta.json'), JSON.stringify({ n: ys.length, length: 32, width: 16, seeds, perSeed, every, classes: ProfileClasses }));
console.log(`wrote ${ys.length} sequences (${seeds.length} seeds × ${perSeed} events) to ${outDir}`);
