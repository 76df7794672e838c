/**
 * Validate JSON records against one of the engine's contracts (schemas/*.json) and pass
 * them on as text with their key, for inputs that feed shared state rather than a
 * columnar stream (item catalogue, user profiles). Lines that are not JSON or break the
 * contract go to dead letters with the field and rule, like parse's.
 */
import { DeadLetters } from '../src/dead-letters.js';
import { BatchBuilder, originOnly, type Batch } from '../src/batch.js';
import { contractValidator, describeSchemaError, type ContractName } from '../src/contracts.js';
import { DeadLetterCode } from '../src/errors.js';
import { DeadLetterSchema, type OperatorDef } from '../src/operator.js';
import type { RawSchema } from '../src/io.js';

export const JsonRecordSchema = { key: 'str', json: 'str' } as const;
export type JsonRecordSchema = typeof JsonRecordSchema;

export function parseJsonRecords(cfg: {
  contract: ContractName;
  keyField: string;
  /** a further check against the engine's state (e.g. a vector's width): a reason, or undefined when fine */
  check?: (record: Record<string, unknown>) => string | undefined;
}): OperatorDef<RawSchema, JsonRecordSchema, { dead: typeof DeadLetterSchema }> & { keyed: false } {
  const validate = contractValidator(cfg.contract);
  return {
    kind: 'parseJsonRecords', output: JsonRecordSchema, sides: { dead: DeadLetterSchema }, keyed: false,
    create: () => ({
      process(batch: Batch<RawSchema>, ctx) {
        const out = new BatchBuilder(JsonRecordSchema, batch.length);
        const dead = new DeadLetters(ctx);
        const issues = batch.meta.rawIssues;
        for (let i = 0; i < batch.length; i++) {
          const issue = issues?.[i];
          // bytes the source could not hand over as text (a tombstone, an empty value, invalid UTF-8)
          if (issue) { dead.add(issue.code, issue.reason, issue.payload, batch.meta, batch.columns.offset[i], issue.payloadEncoding); continue; }
          const line = batch.columns.value[i];
          let o: unknown, code: string | undefined, reason = '';
          try { o = JSON.parse(line); } catch (e) { code = DeadLetterCode.MALFORMED_JSON; reason = `${cfg.contract}: not JSON (${(e as Error).message})`; }
          if (!code && !validate(o)) { code = DeadLetterCode.SCHEMA; reason = `${cfg.contract}: ${describeSchemaError(validate.errors)}`; }
          const why = code ? undefined : cfg.check?.(o as Record<string, unknown>);
          if (why) { code = DeadLetterCode.SCHEMA; reason = `${cfg.contract}: ${why}`; }
          if (code) {
            dead.add(code, reason, line, batch.meta, batch.columns.offset[i]);
            continue;
          }
          out.push({ key: String((o as Record<string, unknown>)[cfg.keyField]), json: line });
        }
        dead.emit(ctx, batch.meta);
        if (out.length) ctx.emit(out.finish(originOnly(batch.meta)));
      },
    }),
  };
}
