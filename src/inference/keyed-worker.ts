/**
 * Key-affine incremental inference worker (issue #17): one piscina pool of one thread per
 * worker, so a key always reaches the same thread, and that thread is the only owner of
 * its keys' cached model state (keyed-state.ts holds it beside the prefill and step graphs).
 * A task's windows arrive transferred, not copied.
 *
 * As in worker.ts, session.run must never be interrupted (terminating a worker thread
 * inside onnxruntime's run() aborts the whole process, NOTES-runtime.md): pools close
 * gracefully only.
 */
import ort from 'onnxruntime-node';
import { Piscina } from 'piscina';
import type { InferResult, WireTensor, WorkerInfo } from './worker.js';
import { failed, inputsOf, type InferFailure, type StatelessTask } from './task-inputs.js';
import { KeyedModel, type KeyedModelConfig, type KeyedTask } from './keyed-state.js';

export type { KeyedTask, KeyedResult } from './keyed-state.js';
export interface KeyedWorkerConfig extends KeyedModelConfig { id: string; warmup: number[] }
export type KeyedWorkerTask = KeyedTask | StatelessTask | { op: 'info'; holdMs?: number };

const cfg = (Piscina as unknown as { workerData: KeyedWorkerConfig }).workerData;
ort.env.logLevel = (['verbose', 'info', 'warning', 'error', 'fatal'] as const)[Number(process.env.SLUICE_ORT_LOG_LEVEL ?? 4)] ?? 'fatal';

async function init(): Promise<(task: KeyedWorkerTask) => Promise<unknown>> {
  const model = await KeyedModel.open(cfg);
  const warmupUs = await model.warm(cfg.warmup);
  const { threadId } = await import('node:worker_threads');
  const info: WorkerInfo = { provider: model.provider, ...(model.fellBack ? { fellBack: model.fellBack } : {}), warmupUs, threadId };
  const exitAt = Number(process.env.SLUICE_TEST_THREAD_EXIT_AT ?? 0); // fault injection, as in worker.ts
  let tasks = 0;

  return async (task: KeyedWorkerTask) => {
    if (task.op !== 'info' && exitAt > 0 && ++tasks === exitAt) process.exit(1);
    if (task.op === 'info') {
      if (task.holdMs) await new Promise((r) => setTimeout(r, task.holdMs));
      return info;
    }
    const t0 = performance.now();
    if (task.op === 'keyed') {
      try {
        const r = await model.run(task);
        r.computeUs = (performance.now() - t0) * 1000;
        return Piscina.move({ [Piscina.transferableSymbol]: Object.values(r.outputs).map((t) => t.data.buffer), [Piscina.valueSymbol]: r } as never);
      } catch (e) {
        return { error: (e as Error).message } satisfies InferFailure;
      }
    }
    // a stateless batch of whole windows (a retry, a shadow): the prefill graph alone, no state touched
    const got = inputsOf(task, cfg.inputs);
    if ('failure' in got) return got.failure;
    const t = got.tensors[cfg.inputs[0].name];
    let outputs: Record<string, WireTensor>;
    try { outputs = await model.stateless(t.data as Float32Array, t.dims[0]); } catch (e) { return failed(task, (e as Error).message); }
    const result: InferResult = { outputs, computeUs: (performance.now() - t0) * 1000 };
    return Piscina.move({ [Piscina.transferableSymbol]: Object.values(outputs).map((o) => o.data.buffer), [Piscina.valueSymbol]: result } as never);
  };
}

export default init();
