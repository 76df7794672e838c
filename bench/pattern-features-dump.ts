/**
 * Dumps pattern features (apps/surveillance/pattern-features.ts) with labels, for training
 * and for judging a detector over them across generator families (issue #18).
 *
 *   node dist/bench/pattern-features-dump.js FAMILY SEEDS OUT_PREFIX
 *   FAMILY: market | auction | market-amzn (market's episodes injected into LOBSTER AMZN) |
 *           lobster-amzn | lobster-goog (clean, nothing injected); SEEDS: 1,2,3
 *   → OUT_PREFIX.meta.json (family, seeds, events, episodes), OUT_PREFIX.rows.csv (unit, label: 0 normal or 1 + the episode's index in Patterns, archetype, features…) and OUT_PREFIX.units.csv (unit, pattern or "")
 */
import { createWriteStream, writeFileSync } from 'node:fs';
import type { OrderEvent } from '../apps/demo/orderflow.js';
import { Patterns, simulate, type Episode } from '../apps/surveillance/sim/market.js';
import { simulateAuction } from '../apps/surveillance/sim/auction-sim.js';
import { lobsterBackground } from '../apps/surveillance/sim/lobster.js';
import { KeyedPatternFeatures, PatternFeatureNames } from '../apps/surveillance/pattern-features.js';
import { evidenceColumns } from './evidence-rule.js';

const BUCKET = 60e6;
const LOBSTER_DIR = new URL('../../../shared/data/lobster/', import.meta.url).pathname;
const LOBSTER: Record<string, string> = { 'lobster-amzn': 'AMZN_2012-06-21_34200000_57600000_message_5.csv', 'lobster-goog': 'GOOG_2012-06-21_34200000_57600000_message_10.csv' };

function generate(family: string, seed: number): { events: OrderEvent[]; episodes: Episode[]; archetypes?: Record<string, string> } {
  if (family === 'market') return simulate({ seed, events: 200_000, hardNegativesPerKind: 12 });
  if (family === 'auction') return simulateAuction({ seed });
  if (family === 'market-amzn') return simulate({ seed, hardNegativesPerKind: 12, background: lobsterBackground(LOBSTER_DIR + LOBSTER['lobster-amzn'], { seed }) });
  if (LOBSTER[family]) return { events: lobsterBackground(LOBSTER_DIR + LOBSTER[family], { seed }), episodes: [] };
  throw new Error(`unknown family ${family}`);
}

async function main(): Promise<void> {
  const [family, seedList, out] = process.argv.slice(2);
  const rows = createWriteStream(`${out}.rows.csv`), units = createWriteStream(`${out}.units.csv`);
  rows.write(`unit,label,archetype,${PatternFeatureNames.join(',')}\n`);
  units.write('unit,pattern\n');
  const meta = { family, seeds: seedList.split(',').map(Number), events: 0, episodes: 0, features: PatternFeatureNames };
  for (const seed of meta.seeds) {
    const { events, episodes, archetypes } = generate(family, seed);
    const byKey = new Map<string, Episode[]>();
    for (const ep of episodes) { const k = `${ep.participant}|${ep.symbol}`; (byKey.get(k) ?? byKey.set(k, []).get(k)!).push(ep); }
    const unitSet = new Set<string>();
    const b = evidenceColumns(events), pf = new KeyedPatternFeatures();
    for (let i = 0; i < events.length; i++) {
      const e = events[i], k = `${e.participant}|${e.symbol}`;
      pf.push(k, b, i);
      const x = pf.features(k, e.symbol);
      const u = `${seed}|${k}|${Math.floor(e.ts / BUCKET)}`;
      unitSet.add(u);
      const ep = (byKey.get(k) ?? []).find((x) => e.ts >= x.start && e.ts <= x.end);
      const label = ep ? 1 + Patterns.indexOf(ep.pattern) : 0; // the detector's classes: normal, then Patterns
      let line = `${u},${label},${archetypes?.[e.participant] ?? ''}`;
      for (const v of x) line += `,${Math.round(v * 1e4) / 1e4}`;
      if (!rows.write(line + '\n')) await new Promise<void>((r) => rows.once("drain", () => r()));
    }
    for (const u of unitSet) units.write(`${u},\n`);
    for (const ep of episodes) for (let bk = Math.floor(ep.start / BUCKET); bk <= Math.floor(ep.end / BUCKET); bk++) {
      const u = `${seed}|${ep.participant}|${ep.symbol}|${bk}`;
      if (unitSet.has(u)) units.write(`${u},${ep.pattern}\n`);
    }
    meta.events += events.length; meta.episodes += episodes.length;
    console.error(`${family} seed ${seed}: ${events.length} events, ${episodes.length} episodes`);
  }
  writeFileSync(`${out}.meta.json`, JSON.stringify(meta) + '\n');
  await Promise.all([new Promise<void>((r) => rows.end(() => r())), new Promise<void>((r) => units.end(() => r()))]);
}
main().catch((e) => { console.error(e); process.exit(1); });
