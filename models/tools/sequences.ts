/**
 * Shared by the dump-* scripts: encode order events with the engine's own
 * OrderSequenceEncoder (so training and serving see identical inputs) and write the
 * sequences as float32 X [N, 32, 16], uint8 y [N] and meta.json, which
 * models/tools/seqmodel.py's load_sequences reads.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { batchOf } from '../../src/batch.js';
import { OrderSchema } from '../../src/contracts.js';
import { orderRow, type OrderEvent } from '../../apps/demo/orderflow.js';
import { OrderSequenceEncoder } from '../../apps/surveillance/order-sequence.js';

export class SequenceSet {
  readonly xs: Float32Array[] = [];
  readonly ys: number[] = [];

  /** encode every event in order; keep those for which `label` returns a class (null: skip) */
  add(events: OrderEvent[], label: (e: OrderEvent, i: number) => number | null): void {
    const enc = new OrderSequenceEncoder();
    const batch = batchOf(OrderSchema, events.map(orderRow));
    const row = [new Float32Array(enc.widths[0])];
    for (let i = 0; i < batch.length; i++) {
      enc.encode(batch, i, row, 0);
      const y = label(events[i], i);
      if (y === null) continue;
      this.xs.push(row[0].slice());
      this.ys.push(y);
    }
  }

  write(outDir: string, meta: Record<string, unknown>): void {
    mkdirSync(outDir, { recursive: true });
    const X = new Float32Array(this.xs.length * (this.xs[0]?.length ?? 0));
    this.xs.forEach((x, i) => X.set(x, i * x.length));
    writeFileSync(join(outDir, 'X.f32'), Buffer.from(X.buffer));
    writeFileSync(join(outDir, 'y.u8'), Uint8Array.from(this.ys));
    writeFileSync(join(outDir, 'meta.json'), JSON.stringify({ n: this.ys.length, length: 32, width: 16, ...meta }));
  }
}
