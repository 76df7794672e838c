/**
 * What both inference workers (worker.ts, keyed-worker.ts) do with a stateless task's
 * inputs: read them as tensors by input name, and on failure hand them back, transferred,
 * beside the error, so the caller can retry without having kept a copy.
 */
import { Piscina } from 'piscina';
import type { TensorSpec } from './registry.js';
import { tensorsOf, transferListOf, type WireBatch, type WireTensor } from './arrow-batch.js';

/** 'batch': an Arrow record batch (arrow-batch.ts) whose columns make the inputs; 'run': packed tensors */
export type StatelessTask = { op: 'run'; feeds: Record<string, WireTensor> } | { op: 'batch'; batch: WireBatch };
/** a failed task: the inputs come back (transferred) so the caller can retry without a copy */
export interface InferFailure { error: string; feeds?: Record<string, WireTensor>; batch?: WireBatch; shape?: boolean }

/** the failure, moved back to the caller with the task's input buffers */
export function failed(task: StatelessTask, error: string, shape = false): unknown {
  const back = task.op === 'batch' ? transferListOf(task.batch) : [...new Set(Object.values(task.feeds).map((t) => t.data.buffer as ArrayBuffer))];
  const failure: InferFailure = task.op === 'batch' ? { error, batch: task.batch, ...(shape ? { shape } : {}) } : { error, feeds: task.feeds };
  // piscina moves only a top-level movable: wrap the whole failure with its buffers
  return Piscina.move({ [Piscina.transferableSymbol]: back, [Piscina.valueSymbol]: failure } as never);
}

/**
 * The task's tensors by input name: a batch's columns → the manifest's inputs (views over the
 * transferred buffers where the types match; no apache-arrow objects are built, arrow-batch.ts
 * says why), or the moved failure when the batch does not fit the inputs.
 */
export function inputsOf(task: StatelessTask, inputs: TensorSpec[]): { tensors: Record<string, WireTensor> } | { failure: unknown } {
  if (task.op === 'run') return { tensors: task.feeds };
  try { return { tensors: tensorsOf(task.batch, inputs) }; } catch (e) { return { failure: failed(task, (e as Error).message, true) }; }
}
