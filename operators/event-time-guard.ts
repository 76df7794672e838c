/**
 * Event-time guard for one source partition: decides whether a parsed, schema-valid
 * record's event time belongs to the partition's stream, so that one bogus timestamp
 * can neither drag the watermark decades ahead nor make every later record look wrong.
 *
 * - The reference is the newest event time *accepted* on the partition — never a record
 *   that was rejected, and never text that was not parsed (a nested `"ts"` is not the
 *   record's time).
 * - A record within `skewUs` of the reference is accepted at once (the common case).
 * - A record further away (a weekend gap, a holiday, or a poisoned clock) is held, not
 *   judged alone: records far from the reference form groups of mutually close times.
 *   A group that reaches `confirm` records is a real jump (the market opened on Monday):
 *   the reference moves there and the group's records are released in order. A record
 *   that fits the old reference again is contrary evidence: the held records are
 *   rejected (EVENT_TIME) and the reference stays where it was.
 * - Before a partition has a reference, its first records are grouped the same way; at
 *   the end of a batch the largest group becomes the reference (so a batch's one odd
 *   record cannot set it when the rest disagree, and a lone first record is not held).
 * - `maxAheadOfClockUs` (optional): a time further than this ahead of the processing
 *   clock is impossible for live flow and is rejected outright.
 * - At the end of input, held records no later record confirmed are rejected.
 *
 * Holding delays only records around a jump; held records are part of the snapshot, so
 * a checkpoint that commits offsets past them still has them.
 */
export interface EventTimeGuardOptions {
  skewUs: number;
  /** records that must agree before the reference jumps (default 8) */
  confirm: number;
  maxAheadOfClockUs?: number;
}

interface Group<T> { min: number; max: number; items: { t: number; item: T }[] }

export interface GuardSink<T> {
  accept(item: T): void;
  reject(item: T, reason: string): void;
}

/** most groups held at once: beyond it the oldest is rejected (a stream of scattered times) */
const MAX_GROUPS = 4;

export class EventTimeGuard<T extends { offset: number }> {
  ref: number | undefined;
  groups: Group<T>[] = [];

  constructor(readonly o: EventTimeGuardOptions) {}

  get held(): number { let n = 0; for (const g of this.groups) n += g.items.length; return n; }

  offer(t: number, item: T, nowUs: number, out: GuardSink<T>): void {
    const { skewUs } = this.o;
    if (this.o.maxAheadOfClockUs !== undefined && t > nowUs + this.o.maxAheadOfClockUs) {
      out.reject(item, `event time ${t} is ${days(t - nowUs)} days ahead of the processing clock (maxAheadOfClockUs ${this.o.maxAheadOfClockUs})`);
      return;
    }
    if (this.ref !== undefined && t >= this.ref - skewUs && t <= this.ref + skewUs) {
      // fits the partition's stream: whatever was held is contradicted
      this.#rejectAll(out, `event time far from the partition's ${this.ref} and not confirmed by later records (the next record fit the partition's time)`);
      if (t > this.ref) this.ref = t;
      out.accept(item);
      return;
    }
    let g = this.groups.find((x) => t >= x.min - skewUs && t <= x.max + skewUs);
    if (!g) {
      if (this.groups.length >= MAX_GROUPS) this.#reject(this.groups.shift()!, out, 'event time belongs to no consistent group of records');
      g = { min: t, max: t, items: [] };
      this.groups.push(g);
    }
    g.items.push({ t, item });
    if (t < g.min) g.min = t;
    if (t > g.max) g.max = t;
    if (g.items.length >= this.o.confirm) this.#adopt(g, out);
  }

  /** end of a batch: a partition with no reference yet takes its largest group */
  endOfBatch(out: GuardSink<T>): void {
    if (this.ref !== undefined || this.groups.length === 0) return;
    let best = this.groups[0];
    for (const g of this.groups) if (g.items.length > best.items.length) best = g;
    this.#adopt(best, out);
  }

  /** end of input: unconfirmed jumps are rejected */
  finish(out: GuardSink<T>): void {
    this.endOfBatch(out);
    this.#rejectAll(out, `event time far from the partition's ${this.ref} and not confirmed by ${this.o.confirm} records before the input ended`);
  }

  #adopt(g: Group<T>, out: GuardSink<T>): void {
    for (const other of this.groups) if (other !== g) this.#reject(other, out, `event time far from the partition's new reference ${g.max}`);
    this.groups = [];
    this.ref = g.max;
    for (const { item } of g.items) out.accept(item);
  }

  #reject(g: Group<T>, out: GuardSink<T>, reason: string): void {
    for (const { t, item } of g.items) out.reject(item, `${reason}: ${t} is ${this.ref === undefined ? '?' : days(t - this.ref)} days from it (maxEventTimeSkewUs ${this.o.skewUs})`);
  }

  #rejectAll(out: GuardSink<T>, reason: string): void {
    if (this.groups.length === 0) return;
    const gs = this.groups;
    this.groups = [];
    // offset order: groups interleave
    const all = gs.flatMap((g) => g.items).sort((a, b) => a.item.offset - b.item.offset);
    for (const { t, item } of all) out.reject(item, `${reason}: ${t} is ${this.ref === undefined ? '?' : days(t - this.ref)} days from it (maxEventTimeSkewUs ${this.o.skewUs})`);
  }

  snapshot(): { ref: number | null; groups: Group<T>[] } { return { ref: this.ref ?? null, groups: this.groups }; }
  restore(s: { ref: number | null; groups: Group<T>[] }): void { this.ref = s.ref ?? undefined; this.groups = s.groups; }
}

const days = (us: number): string => (us / 86_400e6).toFixed(1);
