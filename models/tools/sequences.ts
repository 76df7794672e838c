/**
 * Shared by the dump-* scripts: encode order events with the engine's own
 * OrderSequenceEncoder (so training and serving see identical inputs) and write the
 * sequences as one Arrow IPC file, `sequences.arrow`: column `events`
 * (FixedSizeList<Float32>[512], a 32 × 16 sequence per row, the layout the inference workers
 * take) and `label` (Int32), the dump's description as JSON in the schema metadata under
 * `sluice.meta`. models/tools/seqmodel.py's load_sequences reads it with pyarrow; so can
 * pandas, polars or DuckDB.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
// apache-arrow through the engine's loader, not a second import: its CommonJS and ES builds are
// separate module instances, and a writer from one does not recognise batches made by the other
// (it writes the schema and silently no data)
import { loadArrow } from '../../src/arrow.js';
import { fromWire } from '../../src/inference/arrow-batch.js';
import { batchOf } from '../../src/batch.js';
import { OrderSchema } from '../../src/contracts.js';
import { orderRow, type OrderEvent } from '../../apps/demo/orderflow.js';
import { OrderSequenceEncoder, SequenceFeatures } from '../../apps/surveillance/order-sequence.js';
import { RelativeFeatures, RelativeOrderEncoder } from '../../apps/surveillance/relative-sequence.js';

/** which of the engine's encoders makes the sequences: the first (absolute) one, or the relative one of issue #18 */
export type EncoderKind = 'order' | 'relative';

export class SequenceSet {
  readonly xs: Float32Array[] = [];
  readonly ys: number[] = [];
  readonly features: readonly string[];

  constructor(readonly encoder: EncoderKind = 'order') {
    this.features = encoder === 'relative' ? RelativeFeatures : SequenceFeatures;
  }

  /** encode every event in order; keep those for which `label` returns a class (null: skip) */
  add(events: OrderEvent[], label: (e: OrderEvent, i: number) => number | null): void {
    const enc = this.encoder === 'relative' ? new RelativeOrderEncoder() : new OrderSequenceEncoder();
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
    const n = this.ys.length;
    const rb = fromWire({ length: n, columns: [
      { name: 'events', type: 'float32', listSize: 32 * this.features.length, values: X },
      { name: 'label', type: 'int32', values: Int32Array.from(this.ys) },
    ] });
    const description = JSON.stringify({ n, length: 32, width: this.features.length, encoder: this.encoder, features: this.features, ...meta });
    const { RecordBatch, RecordBatchFileWriter, Schema, Table } = loadArrow();
    const schema = new Schema(rb.schema.fields, new Map([['sluice.meta', description]]));
    const table = new Table([new RecordBatch(schema, rb.data)]);
    writeFileSync(join(outDir, 'sequences.arrow'), RecordBatchFileWriter.writeAll(table).toUint8Array(true));
    // the description also as a file, for a person looking at the folder
    writeFileSync(join(outDir, 'meta.json'), description);
  }
}
