/**
 * The configuration checks every operator factory shares, so a misspelt option or a bad
 * number is the same typed error everywhere (SLUICE_ERR_CONFIG), naming the operator, the
 * option and what it got — the way piscina's option errors read.
 */
import { ConfigError } from './errors.js';

/** an option the factory does not know is a typo until proven otherwise: refuse it, listing the known ones */
export function rejectUnknown(where: string, options: object | undefined, known: readonly string[]): void {
  if (!options) return;
  for (const k of Object.keys(options)) {
    if (!known.includes(k)) throw new ConfigError(`${where}: unknown option '${k}' (known: ${known.join(', ')})`);
  }
}

/** `options.name` must be an integer ≥ 1 */
export function positiveInt(where: string, name: string, v: unknown): number {
  if (!Number.isInteger(v) || (v as number) <= 0) throw new ConfigError(`${where}: options.${name} must be a positive integer, got ${String(v)}`);
  return v as number;
}
