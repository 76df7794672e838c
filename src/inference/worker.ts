/**
 * Inference worker (runs in a piscina worker thread). Each worker holds one
 * onnxruntime session for one model version, created and warmed up before piscina
 * marks the worker ready, so no real event pays for graph optimisation or first-run
 * allocations.
 *
 * Tensors arrive as transferred buffers (no copy) and outputs go back the same way
 * (Piscina.move). session.run blocks this thread — that is the point of being here —
 * and must never be interrupted: terminating a worker inside run() aborts the whole
 * process (NOTES-runtime.md), so pools are only ever closed gracefully.
 */
import ort from 'onnxruntime-node';
import { Piscina } from 'piscina';
import type { TensorSpec } from './registry.js';
import type { WireTensor } from './arrow-batch.js';
import { failed, inputsOf, type InferFailure, type StatelessTask } from './task-inputs.js';
import { openSession, toFeeds, zeroFeeds } from './session.js';

export interface WorkerConfig {
  id: string;
  path: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  provider: 'cpu' | 'cuda';
  intraOpThreads: number;
  /** batch sizes run at load (three times each) */
  warmup: number[];
}

export type { WireTensor };
export type InferTask = StatelessTask | { op: 'info'; holdMs?: number };
/** `inline`: the batch ran on the calling thread (pool.ts, inline-small.ts), not a worker */
export interface InferResult { outputs: Record<string, WireTensor>; computeUs: number; inline?: boolean }
export type { InferFailure };
export interface WorkerInfo { provider: 'cpu' | 'cuda'; fellBack?: string; warmupUs: Record<number, number>; threadId: number }

const cfg = (Piscina as unknown as { workerData: WorkerConfig }).workerData;
// the environment logger (used before a session exists, e.g. a CUDA provider that fails to
// load) would print its own error beside the pool's one log line
ort.env.logLevel = (['verbose', 'info', 'warning', 'error', 'fatal'] as const)[Number(process.env.SLUICE_ORT_LOG_LEVEL ?? 4)] ?? 'fatal';

function checkGraph(session: ort.InferenceSession): void {
  const want = (ts: TensorSpec[]) => ts.map((t) => t.name).sort().join(',');
  const got = (ns: readonly string[]) => [...ns].sort().join(',');
  if (want(cfg.inputs) !== got(session.inputNames)) throw new Error(`graph inputs are [${session.inputNames.join(', ')}], manifest says [${cfg.inputs.map((t) => t.name).join(', ')}]`);
  for (const o of cfg.outputs) if (!session.outputNames.includes(o.name)) throw new Error(`graph has no output '${o.name}' (it has ${session.outputNames.join(', ')})`);
  // static axes of the graph must agree with the manifest
  const meta = (session as unknown as { inputMetadata?: { name: string; isTensor: boolean; shape?: (number | string)[] }[] }).inputMetadata;
  for (const m of meta ?? []) {
    const spec = cfg.inputs.find((t) => t.name === m.name);
    if (!spec || !m.isTensor || !m.shape) continue;
    if (m.shape.length !== spec.shape.length) throw new Error(`input '${m.name}' has rank ${m.shape.length} in the graph, ${spec.shape.length} in the manifest`);
    m.shape.forEach((d, i) => {
      if (typeof d === 'number' && d > 0 && spec.shape[i] !== -1 && spec.shape[i] !== d) throw new Error(`input '${m.name}' axis ${i} is ${d} in the graph, ${spec.shape[i]} in the manifest`);
    });
  }
}

async function init(): Promise<(task: InferTask) => Promise<unknown>> {
  const { session, provider, fellBack } = await openSession(cfg.path, cfg.provider, cfg.intraOpThreads);
  checkGraph(session);
  const warmupUs: Record<number, number> = {};
  for (const b of cfg.warmup) {
    const feeds = zeroFeeds(cfg.inputs, b);
    let best = Infinity;
    for (let i = 0; i < 3; i++) {
      const t0 = performance.now();
      await session.run(feeds);
      best = Math.min(best, (performance.now() - t0) * 1000);
    }
    warmupUs[b] = best;
  }
  const { threadId } = await import('node:worker_threads');
  const info: WorkerInfo = { provider, ...(fellBack ? { fellBack } : {}), warmupUs, threadId };

  // Fault injection for tests: SLUICE_TEST_THREAD_EXIT_AT=N ends this thread when its Nth
  // inference task arrives, as an out-of-memory kill or a native crash would, with the task
  // in flight. Outside run() on purpose: a thread terminated inside onnxruntime's run()
  // aborts the whole process (NOTES-runtime), which no engine can recover from.
  const exitAt = Number(process.env.SLUICE_TEST_THREAD_EXIT_AT ?? 0);
  let tasks = 0;

  return async (task: InferTask) => {
    if (task.op !== 'info' && exitAt > 0 && ++tasks === exitAt) process.exit(1); // in a worker thread: ends the thread only
    if (task.op === 'info') {
      if (task.holdMs) await new Promise((r) => setTimeout(r, task.holdMs));
      return info;
    }
    const got = inputsOf(task, cfg.inputs);
    if ('failure' in got) return got.failure;
    const feeds = toFeeds(got.tensors);
    const t0 = performance.now();
    let out: ort.InferenceSession.OnnxValueMapType;
    try {
      out = await session.run(feeds);
    } catch (e) {
      return failed(task, (e as Error).message);
    }
    const computeUs = (performance.now() - t0) * 1000;
    const outputs: Record<string, WireTensor> = {};
    const transfer: ArrayBuffer[] = [];
    for (const spec of cfg.outputs) {
      const t = out[spec.name];
      const data = t.data as Float32Array;
      outputs[spec.name] = { data, dims: [...t.dims] };
      if (!transfer.includes(data.buffer as ArrayBuffer)) transfer.push(data.buffer as ArrayBuffer);
    }
    const result: InferResult = { outputs, computeUs };
    // piscina moves only a top-level movable: wrap the whole result with its buffers
    return Piscina.move({ [Piscina.transferableSymbol]: transfer, [Piscina.valueSymbol]: result } as never);
  };
}

export default init();
