/**
 * One order event's window for the detector, the way a hand-written service would make it:
 * the JSON's fields into a one-row batch, then the sequence encoder (what the naive
 * contender does per message, and what the Kafka Streams contender's Java port is checked
 * against in streams-parity.ts).
 */
import { BatchBuilder } from '../src/batch.js';
import { OrderSchema } from '../src/contracts.js';
import type { OrderSequenceEncoder } from '../apps/surveillance/order-sequence.js';

export function encodeOne(encoder: OrderSequenceEncoder, o: Record<string, unknown>): Float32Array {
  const b = new BatchBuilder(OrderSchema, 1);
  const c = b.columns as unknown as Record<string, unknown[] | Float64Array>;
  for (const [f, type] of Object.entries(OrderSchema)) (c[f] as unknown[])[0] = type === 'str' ? String(o[f] ?? '') : Number(o[f] ?? NaN);
  b.length = 1;
  const buf = new Float32Array(encoder.widths[0]);
  encoder.encode(b.finish({ partition: 0, ingestTime: 0 }) as never, 0, [buf], 0);
  return buf;
}
