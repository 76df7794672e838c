/**
 * A FIFO of fixed-width numeric rows in one plain array (JSON-serializable for
 * snapshots), for time-horizon state: push at the back, evict old rows at the front.
 */
export class Ring {
  constructor(readonly width: number, public data: number[] = [], public head = 0) {}
  get length(): number { return (this.data.length - this.head) / this.width; }
  // fixed arities: a rest parameter would allocate an array per row on the hot path
  push2(a: number, b: number): void { this.data.push(a, b); }
  push3(a: number, b: number, c: number): void { this.data.push(a, b, c); }
  push5(a: number, b: number, c: number, d: number, e: number): void { this.data.push(a, b, c, d, e); }
  pushRow(row: number[]): void { for (const x of row) this.data.push(x); }
  /** field j of the oldest row */
  front(j: number): number { return this.data[this.head + j]; }
  shift(): void {
    this.head += this.width;
    if (this.head > 4096 && this.head * 2 > this.data.length) { this.data = this.data.slice(this.head); this.head = 0; }
  }
  toJSON(): number[] { return this.data.slice(this.head); }
  static from(width: number, data: number[]): Ring { return new Ring(width, data.slice(), 0); }
}
