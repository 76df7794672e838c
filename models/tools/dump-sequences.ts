/**
 * Writes training data for the participant-profile model: demo order flow (seeded)
 * parsed by the engine's own parser and encoded by the same OrderSequenceEncoder the
 * scoring stage uses, as raw little-endian float32 X [N, 32, 16] and uint8 y [N]
 * (participant kind: 0 MM, 1 HFT, 2 INST).
 *
 *   node dist/models/tools/dump-sequences.js <out-dir> <seed,seed,...> <events-per-seed> [every]
 */
import { generateOrderFlow } from '../../apps/demo/orderflow.js';
import { SequenceSet } from './sequences.js';

export const ProfileClasses = ['market-maker', 'hft', 'institution'] as const;
const kindOf = (p: string): number => (p.startsWith('MM') ? 0 : p.startsWith('HFT') ? 1 : p.startsWith('INST') ? 2 : -1);

const [outDir, seedsArg, perSeedArg, everyArg] = process.argv.slice(2);
if (!outDir || !seedsArg) { console.error('usage: dump-sequences <out-dir> <seeds> <events-per-seed> [every]'); process.exit(2); }
const seeds = seedsArg.split(',').map(Number);
const perSeed = Number(perSeedArg ?? 100_000);
const every = Number(everyArg ?? 4);
const set = new SequenceSet();
for (const seed of seeds) {
  const seen = new Map<string, number>();
  set.add([...generateOrderFlow({ seed, events: perSeed })], (e, i) => {
    const key = e.participant + e.symbol;
    const c = (seen.get(key) ?? 0) + 1;
    seen.set(key, c);
    // skip the first events of a key (mostly padding) and thin the rest
    if (c < 8 || i % every !== 0) return null;
    const y = kindOf(e.participant);
    return y < 0 ? null : y;
  });
}
set.write(outDir, { seeds, perSeed, every, classes: ProfileClasses });
console.log(`wrote ${set.ys.length} sequences (${seeds.length} seeds × ${perSeed} events) to ${outDir}`);
