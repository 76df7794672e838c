/**
 * The model registry: a directory of `<name>/<version>/` folders, each holding the
 * model file and `manifest.json` (schemas/model-manifest.schema.json) — its inputs,
 * outputs and shapes, feature order, normalization constants, thresholds, and how it
 * was trained. Loading checks the manifest against its schema and the file against
 * the manifest's sha256, so a truncated or swapped file is refused before any worker
 * tries it; the workers then check the ONNX graph's inputs and outputs against the
 * manifest (see worker.ts).
 */
import { createHash } from 'node:crypto';
import { existsSync, readdirSync, readFileSync, realpathSync, statSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join, relative, resolve, isAbsolute, sep } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { ValidateFunction } from 'ajv';
import { describeSchemaError } from '../contracts.js';
import { ModelLoadError } from './errors.js';

const require = createRequire(import.meta.url);
const Ajv2020 = require('ajv/dist/2020.js').default as new (o: object) => { compile(s: object): ValidateFunction };
let validateManifest: ValidateFunction | undefined;

export interface TensorSpec {
  name: string;
  dtype: 'float32' | 'int64';
  shape: number[];
  /**
   * the Arrow columns this input is assembled from, one per value of a row, in order (a
   * tabular model: [rows, k] from k named numeric columns); absent: the batch carries a
   * fixed-size-list column of the input's own name (see arrow-batch.ts)
   */
  columns?: string[];
}

export interface ModelManifest {
  name: string;
  version: string;
  file: string;
  sha256: string;
  opset?: number;
  description?: string;
  inputs: TensorSpec[];
  outputs: TensorSpec[];
  features: Record<string, string[]>;
  normalization?: Record<string, { mean: number[]; std: number[] }>;
  classes?: string[];
  thresholds?: Record<string, number>;
  training: { data: string; command: string; seeds?: Record<string, unknown>; metrics?: Record<string, unknown>; parameters?: number };
  /** an incremental model's two graphs from the same weights (issue #17); see IncrementalSpec */
  incremental?: IncrementalSpec;
}

/**
 * An incremental sequence model: `prefill` turns a whole window [B, length, width] into
 * score, logits and the window's per-event state rows [B, length, stateWidth]; `step` takes
 * one new event [B, width], the key's `length − 1` previous state rows (oldest first) and
 * their ages in events [B, length − 1], and returns score, logits and the new event's state
 * row [B, stateWidth]. Both equal the full model on the same window (to 1e-4), so a key's
 * cached rows are only a cache: prefill rebuilds them from the key's event ring.
 */
export interface IncrementalSpec {
  length: number;
  width: number;
  stateWidth: number;
  prefill: { file: string; sha256: string };
  step: { file: string; sha256: string };
}

/** A model version found, checked and ready to hand to a pool. */
export interface ModelRef {
  name: string;
  version: string;
  /** absolute path of the model file */
  path: string;
  manifest: ModelManifest;
}

/** The repository's own models/ directory (models ship with the code). */
export const defaultModelsDir = resolve(dirname(fileURLToPath(import.meta.url)), '../../../models');

export class ModelRegistry {
  constructor(readonly root: string = defaultModelsDir) {}

  /** versions of a model, oldest first */
  versions(name: string): string[] {
    const dir = join(this.root, name);
    if (!existsSync(dir)) return [];
    return readdirSync(dir).filter((v) => /^[0-9]+$/.test(v) && statSync(join(dir, v)).isDirectory()).sort((a, b) => Number(a) - Number(b));
  }

  /** a version (default: the latest), with manifest and file checked */
  load(name: string, version?: string): ModelRef {
    const versions = this.versions(name);
    const v = version ?? versions.at(-1);
    if (v === undefined) throw new ModelLoadError(`${name}`, `no versions under ${join(this.root, name)}`);
    const dir = join(this.root, name, v);
    const mpath = join(dir, 'manifest.json');
    if (!existsSync(mpath)) throw new ModelLoadError(`${name}@${v}`, `no manifest at ${mpath}`);
    let manifest: ModelManifest;
    try { manifest = JSON.parse(readFileSync(mpath, 'utf8')) as ModelManifest; } catch (e) {
      throw new ModelLoadError(`${name}@${v}`, `manifest is not JSON: ${(e as Error).message}`);
    }
    checkManifest(manifest, `${name}@${v}`);
    if (manifest.name !== name || manifest.version !== v) {
      throw new ModelLoadError(`${name}@${v}`, `manifest says ${manifest.name}@${manifest.version}; it must match its folder`);
    }
    const path = confinedPath(dir, manifest.file, `${name}@${v}`);
    const inc = manifest.incremental;
    if (inc) {
      for (const g of [inc.prefill, inc.step]) verifyFile(confinedPath(dir, g.file, `${name}@${v}`), { ...manifest, sha256: g.sha256 });
    }
    return { name, version: v, path, manifest: verifyFile(path, manifest) };
  }
}

/**
 * The model file must lie inside its version folder: a manifest is data (it may come with a
 * model from elsewhere), and `file: "../../../x.onnx"`, an absolute path or a symlink out of
 * the folder would load a file nobody reviewed. Checked on the resolved real path.
 */
export function confinedPath(dir: string, file: string, model: string): string {
  const outside = () => new ModelLoadError(model, `manifest 'file' must name a file inside ${dir}, got '${file}'`);
  if (isAbsolute(file) || file.split(/[\\/]/).includes('..')) throw outside();
  const path = join(dir, file);
  if (!existsSync(path)) return path; // verifyFile says it is missing
  const rel = relative(realpathSync(dir), realpathSync(path));
  if (rel === '' || rel.startsWith('..' + sep) || rel === '..' || isAbsolute(rel)) throw outside();
  return path;
}

/** A model outside a registry (tests, ad-hoc files): manifest given, file checked. */
export function modelFromFile(path: string, manifest: ModelManifest): ModelRef {
  checkManifest(manifest, `${manifest.name}@${manifest.version}`);
  return { name: manifest.name, version: manifest.version, path: resolve(path), manifest: verifyFile(resolve(path), manifest) };
}

function checkManifest(m: unknown, id: string): asserts m is ModelManifest {
  validateManifest ??= new Ajv2020({ allErrors: false, strict: false }).compile(require('../../../schemas/model-manifest.schema.json') as object);
  if (!validateManifest(m)) throw new ModelLoadError(id, `manifest invalid: ${describeSchemaError(validateManifest.errors)}`);
  const mm = m as ModelManifest;
  for (const t of mm.inputs) {
    const f = mm.features[t.name];
    if (f && f.length !== t.shape.at(-1)) throw new ModelLoadError(id, `manifest lists ${f.length} features for input '${t.name}' but its last axis is ${t.shape.at(-1)}`);
    const width = t.shape.slice(1).reduce((a, d) => a * d, 1);
    if (t.columns && t.columns.length !== width) throw new ModelLoadError(id, `input '${t.name}' lists ${t.columns.length} columns for rows of ${width} values`);
    const n = mm.normalization?.[t.name];
    if (n && (n.mean.length !== t.shape.at(-1) || n.std.length !== t.shape.at(-1))) throw new ModelLoadError(id, `normalization for '${t.name}' must have ${t.shape.at(-1)} means and stds`);
  }
}

function verifyFile(path: string, m: ModelManifest): ModelManifest {
  if (!existsSync(path)) throw new ModelLoadError(`${m.name}@${m.version}`, `model file missing: ${path}`);
  const sha = createHash('sha256').update(readFileSync(path)).digest('hex');
  if (sha !== m.sha256) throw new ModelLoadError(`${m.name}@${m.version}`, `model file ${path} is corrupt or not the one the manifest describes (sha256 ${sha.slice(0, 12)}…, manifest ${m.sha256.slice(0, 12)}…)`);
  return m;
}
