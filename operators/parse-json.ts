/**
 * Validate JSON records against one of the engine's contracts (schemas/*.json) and pass
 * them on as text with their key, for inputs that feed shared state rather than a
 * columnar stream (item catalogue, user profiles). Lines that are not JSON or break the
 * contract go to dead letters with the field and rule, like parse's.
 */
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
        let dead: BatchBuilder<DeadLetterSchema> | undefined;
        for (let i = 0; i < batch.length; i++) {
          const line = batch.columns.value[i];
          let o: unknown, code: string | undefined, reason = '';
          try { o = JSON.parse(line); } catch (e) { code = DeadLetterCode.MALFORMED_JSON; reason = `${cfg.contract}: not JSON (${(e as Error).message})`; }
          if (!code && !validate(o)) { code = DeadLetterCode.SCHEMA; reason = `${cfg.contract}: ${describeSchemaError(validate.errors)}`; }
          const why = code ? undefined : cfg.check?.(o as Record<string, unknown>);
          if (why) { code = DeadLetterCode.SCHEMA; reason = `${cfg.contract}: ${why}`; }
          if (code) {
            dead ??= new BatchBuilder(DeadLetterSchema, 4);
            dead.push({ stage: ctx.stage, code, reason, payload: line.slice(0, 4096), payloadEncoding: 'utf8', origin: `${batch.meta.source ?? 'partition ' + batch.meta.partition} offset ${batch.columns.offset[i]}`, at: ctx.clock.now() });
            continue;
          }
          out.push({ key: String((o as Record<string, unknown>)[cfg.keyField]), json: line });
        }
        if (dead) ctx.emitSide('dead', dead.finish(originOnly(batch.meta)));
        if (out.length) ctx.emit(out.finish(originOnly(batch.meta)));
      },
    }),
  };
}
