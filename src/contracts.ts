/**
 * The wire contracts (schemas/*.json, identical to ../shared/contracts) as compiled
 * validators and as the columnar schemas the engine uses inside.
 */
import { createRequire } from 'node:module';
import type { ErrorObject, ValidateFunction } from 'ajv';
import type { Schema } from './batch.js';

const require = createRequire(import.meta.url);
// ajv's 2020-12 build: the contracts declare draft 2020-12
const Ajv2020 = require('ajv/dist/2020.js').default as new (o: object) => { compile(s: object): ValidateFunction };

const ajv = new Ajv2020({ allErrors: false, strict: false });
const cache = new Map<string, ValidateFunction>();

export type ContractName = 'order-event' | 'behavior-event' | 'alert' | 'push' | 'episode' | 'item-catalogue' | 'user-profile';

export function contractSchema(name: ContractName): Record<string, unknown> {
  return require(`../../schemas/${name}.schema.json`) as Record<string, unknown>;
}

/** Compiled validator for one contract (compiled once per process). */
export function contractValidator(name: ContractName): ValidateFunction {
  let v = cache.get(name);
  if (!v) { v = ajv.compile(contractSchema(name)); cache.set(name, v); }
  return v;
}

const compiledSchemas = new WeakMap<object, ValidateFunction>();
/** Compiled validator for a JSON Schema given as an object (a team's own contract), compiled once per object. */
export function schemaValidator(schema: Record<string, unknown>): ValidateFunction {
  let v = compiledSchemas.get(schema);
  if (!v) { v = ajv.compile(schema); compiledSchemas.set(schema, v); }
  return v;
}

/** One readable sentence from ajv's first error: which field, which rule. */
export function describeSchemaError(errors: ErrorObject[] | null | undefined): string {
  const e = errors?.[0];
  if (!e) return 'does not match the contract';
  const where = e.instancePath ? `field '${e.instancePath.slice(1).replace(/\//g, '.')}'` : 'record';
  if (e.keyword === 'required') return `missing required field '${(e.params as { missingProperty: string }).missingProperty}'`;
  if (e.keyword === 'enum') return `${where} must be one of ${(e.params as { allowedValues: unknown[] }).allowedValues.join(', ')}`;
  return `${where} ${e.message ?? 'is invalid'}`;
}

/** Order events inside the engine. Absent optional numbers are NaN, absent strings ''. */
export const OrderSchema = {
  ts: 'f64',
  seq: 'f64',
  venue: 'str',
  symbol: 'str',
  orderId: 'str',
  participant: 'str',
  side: 'str',
  type: 'str',
  orderType: 'str',
  price: 'f64',
  qty: 'f64',
  displayQty: 'f64',
  counterparty: 'str',
  execId: 'str',
} as const satisfies Schema;
export type OrderSchema = typeof OrderSchema;

/** Behaviour events inside the engine. */
export const BehaviorSchema = {
  ts: 'f64',
  userId: 'str',
  itemId: 'str',
  action: 'str',
  value: 'f64',
} as const satisfies Schema;
export type BehaviorSchema = typeof BehaviorSchema;
