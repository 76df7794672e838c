/**
 * MovieLens 100K (../shared/data/movielens-100k) as the engine's inputs: behaviour
 * events (behavior-event contract, action 'rate', value = stars), an item catalogue
 * (item-catalogue contract: title and genres as text, genre flags and release year as a
 * precomputed modality vector) and user profiles (user-profile contract). The trainer
 * (models/personalization/train.py) reads the same files this writes, so training and
 * serving see identical inputs.
 *
 *   node dist/apps/personalization/movielens.js <out-dir> [movielens-dir]
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { ConfigError } from '../../src/errors.js';

export const defaultMovieLensDir = resolve('../shared/data/movielens-100k');

export interface BehaviorEventJson { ts: number; userId: string; itemId: string; action: string; value?: number }
export interface CatalogueItemJson { itemId: string; text?: string; vector?: number[]; tags?: string[] }
export interface UserProfileJson { userId: string; age?: number; gender?: string; occupation?: string }

export interface MovieLens {
  /** in time order (ties in file order) */
  events: BehaviorEventJson[];
  catalogue: CatalogueItemJson[];
  profiles: UserProfileJson[];
  genres: string[];
}

/** release year → the vector's last component: (year − 1900) / 100, 0 when unknown */
function yearFeature(date: string): number {
  const m = /(\d{4})$/.exec(date.trim());
  return m ? (Number(m[1]) - 1900) / 100 : 0;
}

export function readMovieLens(dir = defaultMovieLensDir): MovieLens {
  if (!existsSync(join(dir, 'u.data'))) throw new ConfigError(`MovieLens 100K not found at ${dir} (expected u.data, u.item, u.user, u.genre)`);
  const genres = readFileSync(join(dir, 'u.genre'), 'latin1').split('\n').filter((l) => l.includes('|')).map((l) => l.split('|')[0]);
  const catalogue: CatalogueItemJson[] = [];
  for (const line of readFileSync(join(dir, 'u.item'), 'latin1').split('\n')) {
    if (!line.trim()) continue;
    const f = line.split('|');
    const flags = f.slice(5, 5 + genres.length).map(Number);
    const names = genres.filter((_, g) => flags[g] === 1 && genres[g] !== 'unknown');
    catalogue.push({ itemId: f[0], text: `${f[1]} | ${names.join(', ')}`, vector: [...flags, yearFeature(f[2])], tags: names });
  }
  const profiles: UserProfileJson[] = [];
  for (const line of readFileSync(join(dir, 'u.user'), 'latin1').split('\n')) {
    if (!line.trim()) continue;
    const [userId, age, gender, occupation] = line.split('|');
    profiles.push({ userId, age: Number(age), gender, occupation });
  }
  const rows = readFileSync(join(dir, 'u.data'), 'latin1').split('\n').filter((l) => l.trim()).map((l, i) => {
    const [u, it, r, t] = l.split('\t');
    return { i, ev: { ts: Number(t) * 1_000_000, userId: u, itemId: it, action: 'rate', value: Number(r) } };
  });
  rows.sort((a, b) => a.ev.ts - b.ev.ts || a.i - b.i);
  return { events: rows.map((r) => r.ev), catalogue, profiles, genres };
}

/** the occupations of u.occupation, in file order (the profile features name them) */
export function movieLensOccupations(dir = defaultMovieLensDir): string[] {
  return readFileSync(join(dir, 'u.occupation'), 'latin1').split('\n').map((l) => l.trim()).filter(Boolean);
}

/** event-time cut points: events before `train` train the model, [train, valid) select its epoch, the rest evaluate */
export function movieLensCuts(events: BehaviorEventJson[]): { train: number; valid: number } {
  return { train: events[Math.floor(events.length * 0.7)].ts, valid: events[Math.floor(events.length * 0.8)].ts };
}

const jsonl = (rows: unknown[]): string => rows.map((r) => JSON.stringify(r)).join('\n') + '\n';

const isMain = import.meta.url === `file://${process.argv[1]}`;
if (isMain) {
  const out = process.argv[2];
  if (!out) { console.error('usage: movielens.js <out-dir> [movielens-dir]'); process.exit(2); }
  const ml = readMovieLens(process.argv[3] ?? defaultMovieLensDir);
  mkdirSync(out, { recursive: true });
  writeFileSync(join(out, 'events.jsonl'), jsonl(ml.events));
  writeFileSync(join(out, 'catalogue.jsonl'), jsonl(ml.catalogue));
  writeFileSync(join(out, 'profiles.jsonl'), jsonl(ml.profiles));
  writeFileSync(join(out, 'meta.json'), JSON.stringify({ genres: ml.genres, occupations: movieLensOccupations(process.argv[3] ?? defaultMovieLensDir), cuts: movieLensCuts(ml.events), events: ml.events.length }, null, 1));
  console.log(`wrote ${ml.events.length} events, ${ml.catalogue.length} items, ${ml.profiles.length} profiles to ${out}`);
}
