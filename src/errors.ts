/**
 * Typed errors. Every error Sluice raises carries a stable `code` (SLUICE_ERR_*), a
 * domain (user: bad config/topology/input; external: broker, file system; internal: a bug)
 * and whether retrying may help. The runtime adds which stage failed.
 */
export type ErrorDomain = 'user' | 'external' | 'internal';

export class SluiceError extends Error {
  readonly code: string;
  readonly domain: ErrorDomain;
  readonly retriable: boolean;
  stage?: string;
  constructor(code: string, message: string, opts: { domain?: ErrorDomain; retriable?: boolean; cause?: unknown; stage?: string } = {}) {
    super(message, opts.cause === undefined ? undefined : { cause: opts.cause });
    this.name = new.target.name;
    this.code = code;
    this.domain = opts.domain ?? 'user';
    this.retriable = opts.retriable ?? false;
    if (opts.stage !== undefined) this.stage = opts.stage;
  }
}

/** A configuration object broke a rule; the message names the option and the rule. */
export class ConfigError extends SluiceError {
  constructor(message: string) { super('SLUICE_ERR_CONFIG', message); }
}

/** The topology graph is malformed (duplicate names, cycles, unconnected outputs ...). */
export class TopologyError extends SluiceError {
  constructor(message: string) { super('SLUICE_ERR_TOPOLOGY', message); }
}

/** One input record could not be used; it goes to the dead-letter output, never stops the engine. */
export class RecordError extends SluiceError {
  constructor(code: string, message: string) { super(code, message); }
}

/** An operator threw while processing; fatal for the run unless the operator handles it. */
export class OperatorError extends SluiceError {
  constructor(stage: string, cause: unknown) {
    super('SLUICE_ERR_OPERATOR', `stage '${stage}' failed: ${cause instanceof Error ? cause.message : String(cause)}`, { domain: 'internal', cause, stage });
  }
}

/** Reading or writing an external resource failed. */
export class IoError extends SluiceError {
  constructor(message: string, cause?: unknown) { super('SLUICE_ERR_IO', message, { domain: 'external', retriable: true, cause }); }
}

/** Record-level error codes, as they appear in dead letters. */
export const DeadLetterCode = {
  MALFORMED_JSON: 'SLUICE_ERR_MALFORMED_JSON',
  MALFORMED_CSV: 'SLUICE_ERR_MALFORMED_CSV',
  SCHEMA: 'SLUICE_ERR_SCHEMA',
  NON_FINITE: 'SLUICE_ERR_NON_FINITE',
  LATE: 'SLUICE_ERR_LATE_EVENT',
  TOO_LARGE: 'SLUICE_ERR_RECORD_TOO_LARGE',
  ENCODING: 'SLUICE_ERR_ENCODING',
  EVENT_TIME: 'SLUICE_ERR_EVENT_TIME',
  /** a Kafka record with a null value (a tombstone) or an empty one: no event in it */
  EMPTY: 'SLUICE_ERR_EMPTY_RECORD',
} as const;
