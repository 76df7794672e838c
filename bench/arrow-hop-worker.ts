/**
 * The far side of bench/arrow-hop.ts: receives a batch either as packed tensors (the wire
 * form the inference workers took before) or as an Arrow record batch's wire form, turns it
 * into the tensors a session would get (as src/inference/worker.ts does), and sends back one
 * float per row, moved — everything of an inference task except onnxruntime itself.
 */
import { Piscina } from 'piscina';
import { fromWire, tensorsOf, toWire, type WireBatch } from '../src/inference/arrow-batch.js';
import type { TensorSpec } from '../src/inference/registry.js';
import type { WireTensor } from '../src/inference/worker.js';

const specs = (Piscina as unknown as { workerData: { specs: TensorSpec[] } }).workerData.specs;

export default (task: { op: 'packed'; feeds: Record<string, WireTensor> } | { op: 'wire' | 'objects'; batch: WireBatch }) => {
  // objects: an apache-arrow RecordBatch is rebuilt over the buffers first, as team code wanting one would
  const feeds = task.op === 'packed' ? task.feeds : tensorsOf(task.op === 'objects' ? toWire(fromWire(task.batch)) : task.batch, specs);
  const t = feeds[specs[0].name];
  const n = t.dims[0];
  // touch the tensor as a session would read it: one value per row
  const out = new Float32Array(n);
  const w = t.data.length / n;
  for (let i = 0; i < n; i++) out[i] = Number(t.data[i * w]);
  return Piscina.move({ [Piscina.transferableSymbol]: [out.buffer], [Piscina.valueSymbol]: { out } } as never);
};
