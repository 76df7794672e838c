/**
 * Processing time, injected. Operators never read the wall clock themselves, so a test
 * harness can drive time and a replay after restore gives the same output.
 * All times are integer microseconds.
 */
export interface Clock {
  /** microseconds (since the Unix epoch for the system clock) */
  now(): number;
}

const origin = Date.now() * 1000 - performance.now() * 1000;

/** Wall clock with sub-millisecond resolution (performance.now anchored to the epoch). */
export const systemClock: Clock = {
  now: () => Math.round(origin + performance.now() * 1000),
};

/** A clock that moves only when told (tests, deterministic replay). */
export class ManualClock implements Clock {
  constructor(private t = 0) {}
  now(): number { return this.t; }
  advance(us: number): void { this.t += us; }
  set(us: number): void { this.t = us; }
}
