/** Typed inference errors; codes appear in logs, metrics and dead letters. */
import { SluiceError } from '../errors.js';

export const InferenceCode = {
  MODEL_LOAD: 'SLUICE_ERR_MODEL_LOAD',
  SHAPE: 'SLUICE_ERR_MODEL_SHAPE',
  INFERENCE: 'SLUICE_ERR_INFERENCE',
  POOL_CLOSED: 'SLUICE_ERR_POOL_CLOSED',
} as const;

/** The model cannot be used: missing, corrupt, manifest invalid, or graph ≠ manifest. */
export class ModelLoadError extends SluiceError {
  constructor(readonly model: string, detail: string, cause?: unknown) {
    super(InferenceCode.MODEL_LOAD, `model ${model}: ${detail}`, { domain: 'user', cause });
  }
}

/** Inputs do not have the shape the model's manifest declares. */
export class ModelShapeError extends SluiceError {
  constructor(readonly model: string, detail: string) {
    super(InferenceCode.SHAPE, `model ${model}: ${detail}`, { domain: 'user' });
  }
}

/** A batch was submitted to a pool already closed (a stopping job, a swapped-out model): not retriable. */
export class PoolClosedError extends SluiceError {
  constructor(readonly model: string) {
    super(InferenceCode.POOL_CLOSED, `model ${model}: its worker pool is closed`, { domain: 'internal' });
  }
}

/** session.run failed for a batch (retried once before its records are dead-lettered). */
export class InferenceError extends SluiceError {
  constructor(readonly model: string, detail: string, cause?: unknown) {
    super(InferenceCode.INFERENCE, `model ${model}: inference failed: ${detail}`, { domain: 'external', retriable: true, cause });
  }
}
