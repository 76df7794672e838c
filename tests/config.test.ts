/**
 * One configuration validator (src/config.ts) for every operator factory: a misspelt option
 * is SLUICE_ERR_CONFIG naming the operator, the option and the known ones; a count that is
 * not a positive integer says what it got.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { ConfigError } from '../src/errors.js';
import { positiveInt, rejectUnknown } from '../src/config.js';
import { adaptiveThreshold } from '../operators/threshold.js';
import { alerts } from '../apps/surveillance/alerts.js';
import { shedStale } from '../operators/shed.js';
import { statisticalScore } from '../apps/surveillance/statistical-score.js';
import { window } from '../operators/window.js';
import { normalize } from '../operators/normalize.js';
import { parse } from '../operators/parse.js';

const refuses = (make: () => unknown, re: RegExp) => {
  try { make(); assert.unreachable('accepted'); } catch (e) {
    assert.instance(e, ConfigError);
    assert.is((e as ConfigError).code, 'SLUICE_ERR_CONFIG');
    assert.match((e as Error).message, re);
  }
};

test('rejectUnknown: names the operator, the option and what it knows', () => {
  refuses(() => rejectUnknown('op', { sise: 3 }, ['size']), /^op: unknown option 'sise' \(known: size\)$/);
  rejectUnknown('op', { size: 3 }, ['size']);
  rejectUnknown('op', undefined, ['size']);
});

test('positiveInt: integers ≥ 1 only', () => {
  assert.is(positiveInt('op', 'n', 3), 3);
  for (const bad of [0, -1, 1.5, '3', NaN, undefined]) refuses(() => positiveInt('op', 'n', bad), /op: options\.n must be a positive integer, got /);
});

test('every operator factory refuses a misspelt option', () => {
  refuses(() => adaptiveThreshold({ targetrate: 0.01 } as never), /adaptiveThreshold: unknown option 'targetrate'/);
  refuses(() => alerts({ cooldown: 5 } as never), /alerts: unknown option 'cooldown'/);
  refuses(() => shedStale({ maxAgeMs: 5, maxAge: 5 } as never), /shedStale: unknown option 'maxAge'/);
  refuses(() => statisticalScore({ zalert: 3 } as never), /statisticalScore: unknown option 'zalert'/);
  refuses(() => window({ kind: 'tumbling', size: 10, aggregates: {}, lateness: 1 } as never), /window: unknown option 'lateness'/);
  refuses(() => window({ kind: 'tumbling', size: 0, aggregates: {} } as never), /window: options\.size must be a positive integer, got 0/);
  refuses(() => normalize({ fields: ['x'], method: 'robust', warmUp: 3 } as never), /normalize: unknown option 'warmUp'/);
  refuses(() => parse({ format: 'json', contract: 'order-event', maxLine: 5 } as never), /parse: unknown option 'maxLine'/);
});

test.run();
