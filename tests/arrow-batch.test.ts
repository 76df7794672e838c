/**
 * Arrow record batches into the inference workers (src/inference/arrow-batch.ts): the wire
 * form carries the schema and moves the column buffers without a copy; a model takes either
 * its input's own list column or the named columns its manifest declares; batches that do
 * not fit are typed errors; scores equal the packed-array path's.
 */
import { test } from 'uvu';
import * as assert from 'uvu/assert';
import { tableFromArrays } from 'apache-arrow';
import { fromWire, inputBatch, tensorsOf, toWire, BatchShapeError } from '../src/inference/arrow-batch.js';
import { InferenceCode, ModelLoadError, ModelShapeError } from '../src/inference/errors.js';
import { InferencePool } from '../src/inference/pool.js';
import { ModelRegistry, modelFromFile } from '../src/inference/registry.js';

const registry = new ModelRegistry();
const fixtures = new ModelRegistry(new URL('../../tests/fixtures/models', import.meta.url).pathname);
const OPTS = { workers: 1, warmup: [1, 8] };

test('inputBatch → transfer → tensors: the schema travels, the rows stay in the same buffer; apache-arrow round trip', () => {
  const spec = { name: 'events', dtype: 'float32' as const, shape: [-1, 32, 16] };
  const packed = Float32Array.from({ length: 3 * 512 }, (_, i) => i * 0.5);
  const wire = inputBatch([spec], [packed], 3);
  assert.equal(wire.columns.map((c) => [c.name, c.type, c.listSize]), [['events', 'float32', 512]]);
  assert.is(wire.columns[0].values.buffer, packed.buffer, 'the batch holds the encoder\'s buffer, not a copy');
  // as apache-arrow sees it, and back to the wire form over the same memory
  const rb = fromWire(wire);
  assert.is(rb.numRows, 3);
  assert.is(String(rb.schema.fields[0].type), 'FixedSizeList[512]<Float32>');
  assert.is(toWire(rb).columns[0].values.buffer, packed.buffer);
  const moved = structuredClone(wire, { transfer: [packed.buffer] });
  assert.is(packed.byteLength, 0, 'the buffer moved');
  const t = tensorsOf(moved, [spec]).events;
  assert.is(t.data.buffer, moved.columns[0].values.buffer, 'the tensor is a view over the moved buffer');
  assert.equal(t.dims, [3, 32, 16]);
  assert.is(t.data[1023], 511.5);
  assert.throws(() => inputBatch([spec], [new Float32Array(100)], 3), (e: unknown) => e instanceof BatchShapeError);
  assert.throws(() => tensorsOf({ length: 4, columns: [{ name: 'events', type: 'float32', listSize: 512, values: new Float32Array(512) }] }, [spec]), (e: unknown) => e instanceof BatchShapeError && /512 values for 4 rows/.test((e as Error).message));
});

test('a model declaring named columns in its manifest takes a tabular Arrow batch (the lookup fixture: score = a / 10)', async () => {
  const ref = fixtures.load('lookup', '1');
  const manifest = { ...ref.manifest, inputs: [{ ...ref.manifest.inputs[0], columns: ['a', 'b', 'c', 'd'] }] };
  const pool = await InferencePool.open(modelFromFile(ref.path, manifest), OPTS);
  try {
    // float64 and int32 columns are converted to the model's float32 in the worker; extra columns are ignored
    const table = tableFromArrays({ a: Float64Array.from([3, 7, 0, 9]), b: Int32Array.from([1, 2, 3, 4]), c: new Float64Array(4), d: new Float32Array(4), note: Float64Array.from([9, 9, 9, 9]) });
    const r = await pool.runBatch(table.batches[0]);
    const got = [...(r.outputs.score.data as Float32Array)].map((x) => Math.round(x * 1000) / 1000);
    assert.equal(got, [0.3, 0.7, 0, 0.9]);
    const missing = tableFromArrays({ a: Float64Array.from([1]), b: Float64Array.from([1]), c: Float64Array.from([1]) });
    try { await pool.runBatch(missing.batches[0]); assert.unreachable('ran without column d'); } catch (e) {
      assert.instance(e, ModelShapeError);
      assert.is((e as ModelShapeError).code, InferenceCode.SHAPE);
      assert.match((e as Error).message, /needs column 'd'/);
    }
    // the pool is still serving after a refused batch
    const again = await pool.runBatch(tableFromArrays({ a: Float32Array.from([5]), b: Float32Array.from([0]), c: Float32Array.from([0]), d: Float32Array.from([0]) }).batches[0]);
    assert.ok(Math.abs((again.outputs.score.data as Float32Array)[0] - 0.5) < 1e-6);
  } finally { await pool.close(); }
  const bad = { ...ref.manifest, inputs: [{ ...ref.manifest.inputs[0], columns: ['a', 'b'] }] };
  assert.throws(() => modelFromFile(ref.path, bad), (e: unknown) => e instanceof ModelLoadError && /lists 2 columns for rows of 4/.test((e as Error).message));
});

test('participant-profile: scores through an Arrow batch equal the packed-array path; a list of the wrong width is a ModelShapeError', async () => {
  const pool = await InferencePool.open(registry.load('participant-profile', '2'), OPTS);
  try {
    const n = 20;
    const x = Float32Array.from({ length: n * 512 }, (_, i) => Math.sin(i * 0.37) * 0.8);
    const packed = await pool.run({ events: { data: x.slice(), dims: [n, 32, 16] } });
    const viaArrow = await pool.runBatch(inputBatch(pool.model.manifest.inputs, [x], n));
    assert.is(x.byteLength, 0, 'the batch\'s buffer was transferred');
    const a = packed.outputs.score.data as Float32Array, b = viaArrow.outputs.score.data as Float32Array;
    for (let i = 0; i < n; i++) assert.ok(Math.abs(a[i] - b[i]) < 1e-6, `row ${i}: ${a[i]} vs ${b[i]}`);
    const narrow = fromWire(inputBatch([{ name: 'events', dtype: 'float32', shape: [-1, 16, 16] }], [new Float32Array(2 * 256)], 2));
    try { await pool.runBatch(narrow); assert.unreachable(); } catch (e) {
      assert.instance(e, ModelShapeError);
      assert.match((e as Error).message, /fixed-size list of 512/);
    }
  } finally { await pool.close(); }
});

test.run();
