/**
 * Static user features (user-profile contract: age, gender, occupation) joined into the
 * user vector. Filled at start from a file and kept current by a profiles stream; shared
 * by every scoring instance (a user's profile reaches them whichever partition owns the
 * user). The user model's manifest names its profile features, and the vector is built
 * from those names: 'known', 'age' (years / 100), 'gender=X', 'occupation=Y'.
 */
export interface UserProfile { userId: string; age?: number; gender?: string; occupation?: string }

export class ProfileStore {
  readonly #profiles = new Map<string, UserProfile>();
  updates = 0;

  put(p: UserProfile): void { this.#profiles.set(p.userId, p); this.updates++; }
  get(userId: string): UserProfile | undefined { return this.#profiles.get(userId); }
  get size(): number { return this.#profiles.size; }

  /** write the profile features named in `features` into out[at …] (zeros for an unknown user) */
  write(userId: string, features: readonly string[], out: Float32Array, at: number): boolean {
    const p = this.#profiles.get(userId);
    for (let j = 0; j < features.length; j++) out[at + j] = p ? profileFeature(p, features[j]) : 0;
    return p !== undefined;
  }
}

export function profileFeature(p: UserProfile, f: string): number {
  if (f === 'known') return 1;
  if (f === 'age') return (p.age ?? 0) / 100;
  if (f.startsWith('gender=')) return p.gender === f.slice(7) ? 1 : 0;
  if (f.startsWith('occupation=')) return p.occupation === f.slice(11) ? 1 : 0;
  return 0;
}
