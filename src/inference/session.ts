/**
 * How every thread that holds an onnxruntime session opens it: the stateless workers
 * (worker.ts), the key-affine workers and inline keyed lanes (keyed-state.ts) and the event
 * loop's session for small batches (inline-small.ts). One set of choices, measured once:
 * full graph optimisation ('basic'/'disabled' measured 25–35% slower), one inter-op thread,
 * and no spinning intra-op threads (they steal the cores other workers and the event loop
 * need; NOTES-runtime: 2 workers × 2 spinning threads halved throughput).
 */
import ort from 'onnxruntime-node';
import type { TensorSpec } from './registry.js';
import type { WireTensor } from './arrow-batch.js';

export function sessionOptions(providers: string[], intraOpThreads: number): ort.InferenceSession.SessionOptions {
  return {
    executionProviders: providers, graphOptimizationLevel: 'all', executionMode: 'sequential',
    intraOpNumThreads: intraOpThreads, interOpNumThreads: 1, enableCpuMemArena: true,
    // failures reach the caller as typed errors (and dead letters); onnxruntime's own log
    // would repeat each one on stderr. SLUICE_ORT_LOG_LEVEL=0..4 (0 verbose) turns it back on.
    logSeverityLevel: Number(process.env.SLUICE_ORT_LOG_LEVEL ?? 4) as 0 | 1 | 2 | 3 | 4,
    extra: { session: { intra_op: { allow_spinning: '0' } } },
  } as ort.InferenceSession.SessionOptions;
}

/**
 * A session on `provider`. Asking for CUDA without CUDA 12 / cuDNN 9 and the provider
 * libraries throws rather than falling back (NOTES-runtime): then CPU, with the reason.
 */
export async function openSession(path: string, provider: 'cpu' | 'cuda', intraOpThreads: number): Promise<{ session: ort.InferenceSession; provider: 'cpu' | 'cuda'; fellBack?: string }> {
  if (provider === 'cuda') {
    try { return { session: await ort.InferenceSession.create(path, sessionOptions(['cuda', 'cpu'], intraOpThreads)), provider: 'cuda' }; } catch (e) {
      return { session: await ort.InferenceSession.create(path, sessionOptions(['cpu'], intraOpThreads)), provider: 'cpu', fellBack: (e as Error).message.split('\n')[0] };
    }
  }
  return { session: await ort.InferenceSession.create(path, sessionOptions(['cpu'], intraOpThreads)), provider: 'cpu' };
}

/** zero-filled feeds of `batch` rows for every input (warm-up runs); a dynamic inner axis gets 1 */
export function zeroFeeds(inputs: readonly TensorSpec[], batch: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const spec of inputs) {
    const dims = spec.shape.map((d, i) => (i === 0 ? batch : d < 0 ? 1 : d));
    const n = dims.reduce((a, b) => a * b, 1);
    feeds[spec.name] = spec.dtype === 'int64' ? new ort.Tensor('int64', new BigInt64Array(n), dims) : new ort.Tensor('float32', new Float32Array(n), dims);
  }
  return feeds;
}

/** the wire's tensors as onnxruntime feeds (the typed arrays are used as they are, not copied) */
export function toFeeds(wire: Record<string, WireTensor>): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {};
  for (const [name, t] of Object.entries(wire)) feeds[name] = t.data instanceof BigInt64Array ? new ort.Tensor('int64', t.data, t.dims) : new ort.Tensor('float32', t.data as Float32Array, t.dims);
  return feeds;
}
