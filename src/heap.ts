/** Binary min-heap ordered by a numeric priority (timers, window ends). */
export class MinHeap<T> {
  #p: number[] = [];
  #v: T[] = [];
  get size(): number { return this.#p.length; }
  peekPriority(): number { return this.#p.length ? this.#p[0] : Infinity; }
  push(priority: number, value: T): void {
    const p = this.#p, v = this.#v;
    let i = p.length;
    p.push(priority); v.push(value);
    while (i > 0) {
      const up = (i - 1) >> 1;
      if (p[up] <= priority) break;
      p[i] = p[up]; v[i] = v[up]; i = up;
    }
    p[i] = priority; v[i] = value;
  }
  pop(): T | undefined {
    const p = this.#p, v = this.#v;
    if (!p.length) return undefined;
    const top = v[0];
    const lp = p.pop()!, lv = v.pop()!;
    const n = p.length;
    if (n) {
      let i = 0;
      for (;;) {
        let c = 2 * i + 1;
        if (c >= n) break;
        if (c + 1 < n && p[c + 1] < p[c]) c++;
        if (p[c] >= lp) break;
        p[i] = p[c]; v[i] = v[c]; i = c;
      }
      p[i] = lp; v[i] = lv;
    }
    return top;
  }
  entries(): [number, T][] { return this.#p.map((p, i) => [p, this.#v[i]]); }
}
