import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { OperatorHarness } from './harness.js';
import { filterDef, keyByDef, mapDef } from './primitives.js';

const S = { ts: 'f64', v: 'f64', k: 'str' } as const;
const rows = [{ ts: 1, v: 5, k: 'a' }, { ts: 2, v: -1, k: 'b' }, { ts: 3, v: 7, k: 'a' }];

test('filter keeps matching records and their keys', () => {
  const h = new OperatorHarness(filterDef(S, (c, i) => c.v[i] > 0), { input: S });
  h.push(rows, { keys: ['x', 'y', 'z'] });
  assert.equal(h.output().map((r) => r.ts), [1, 3]);
  assert.equal(h.outputKeys(), ['x', 'z']);
});

test('map turns each record into another schema', () => {
  const O = { ts: 'f64', double: 'f64' } as const;
  const h = new OperatorHarness(mapDef(S, O, (r) => ({ ts: r.ts, double: r.v * 2 })), { input: S });
  h.push(rows);
  assert.equal(h.output().map((r) => r.double), [10, -2, 14]);
});

test('keyBy attaches a key per record', () => {
  const h = new OperatorHarness(keyByDef(S, (c, i) => c.k[i]), { input: S });
  h.push(rows);
  assert.equal(h.outputKeys(), ['a', 'b', 'a']);
});

test('configuration is validated', () => {
  assert.throws(() => filterDef(S, 'x' as never), /keep must be a function/);
});

test.run();
