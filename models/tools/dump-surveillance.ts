/**
 * Training data for the surveillance detector: simulated order flow with labelled
 * episodes (apps/surveillance/sim/market.ts), encoded by the engine's OrderSequenceEncoder — the
 * same code that encodes live events — as float32 X [N, 32, 16] and uint8 y [N]:
 * 0 = normal, k = Patterns[k − 1] when the event belongs to an episode of its
 * participant × symbol (time within [start, end]). Every episode event is kept;
 * normal events are thinned (all of the member accounts' benign look-alikes are kept:
 * they are the hard negatives).
 *
 *   node dist/models/tools/dump-surveillance.js <out-dir> <seed,seed,...> [events-per-seed] [normal-every] [lobster-message-file]
 *
 * SIM_FAMILY=auction takes the flow from the second generator family (apps/surveillance/sim/
 * auction-sim.ts; events-per-seed is then ignored: one 11-minute session per seed, and its
 * manipulator accounts' benign trading is kept whole as the hard negatives), so a detector
 * can be trained on either family and judged on the other (bench/eval-generalization.ts).
 * SIM_ENCODER=relative encodes with RelativeOrderEncoder (features against the book and the
 * participant's own baseline) instead of the first OrderSequenceEncoder. SIM_HARD=N adds N of each
 * of issue #18's hard negatives to the first family's flow (simulate's hardNegativesPerKind).
 */
import { Patterns, simulate, type Episode } from '../../apps/surveillance/sim/market.js';
import { basename } from 'node:path';
import { lobsterBackground } from '../../apps/surveillance/sim/lobster.js';
import { SequenceSet } from './sequences.js';
import { simulateAuction } from '../../apps/surveillance/sim/auction-sim.js';

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
  const [outDir, seedsArg, perSeedArg, everyArg, lobsterFile] = process.argv.slice(2);
  if (!outDir || !seedsArg) { console.error('usage: dump-surveillance <out-dir> <seeds> [events-per-seed] [normal-every] [lobster-message-file]'); process.exit(2); }
  const seeds = seedsArg.split(',').map(Number);
  const perSeed = Number(perSeedArg ?? 200_000);
  const every = Number(everyArg ?? 25);
  const set = new SequenceSet(process.env.SIM_ENCODER === 'relative' ? 'relative' : 'order');
  const family = process.env.SIM_FAMILY === 'auction' ? 'auction' : 'market';
  for (const seed of seeds) {
    if (family === 'auction') {
      const sim = simulateAuction({ seed });
      const label = labeller(sim.episodes);
      set.add(sim.events, (e, i) => { const y = label(e); return y === 0 && sim.archetypes[e.participant] !== 'manipulator' && i % every !== 0 ? null : y; });
      continue;
    }
    // with a LOBSTER file: episodes injected into that real flow (participants assigned per seed)
    const hardNegativesPerKind = Number(process.env.SIM_HARD ?? 0);
    const sim = lobsterFile ? simulate({ seed, hardNegativesPerKind, background: lobsterBackground(lobsterFile, { seed }) }) : simulate({ seed, hardNegativesPerKind, events: perSeed });
    const label = labeller(sim.episodes);
    // every episode event and every member event (the hard negatives); other events thinned
    set.add(sim.events, (e, i) => { const y = label(e); return y === 0 && !e.participant.startsWith('MBR') && i % every !== 0 ? null : y; });
  }
  const counts = Array.from({ length: Patterns.length + 1 }, (_, k) => set.ys.filter((y) => y === k).length);
  set.write(outDir, { seeds, family, hardNegativesPerKind: Number(process.env.SIM_HARD ?? 0), perSeed: family === 'auction' ? 'auction session' : lobsterFile ? 'LOBSTER' : perSeed, every, classes: ['normal', ...Patterns], counts, ...(lobsterFile ? { background: basename(lobsterFile) } : {}) });
  console.log(`wrote ${set.ys.length} sequences to ${outDir}; per class ${counts.join(' ')}`);
}
