/**
 * A model slot: the live model version a scoring stage uses, an optional shadow
 * (candidate) version run on the same inputs, and hot swapping between versions.
 *
 * swap() opens and warms the new version first, then switches: batches sent before the
 * switch finish on the old version, batches after it go to the new one, so every
 * event is scored exactly once, by the version current when its batch left. The old
 * pool closes once its last batch is back.
 */
import { ConfigError } from '../errors.js';
import { InferencePool, type PoolOptions } from './pool.js';
import type { ModelRef, ModelRegistry } from './registry.js';

export class ModelSlot {
  #live: InferencePool;
  #shadow: InferencePool | undefined;
  swaps = 0;

  private constructor(live: InferencePool, readonly options: PoolOptions, readonly registry?: ModelRegistry) { this.#live = live; }

  static async open(model: ModelRef, options: PoolOptions = {}, registry?: ModelRegistry): Promise<ModelSlot> {
    return new ModelSlot(await InferencePool.open(model, options), options, registry);
  }

  get live(): InferencePool { return this.#live; }
  get shadow(): InferencePool | undefined { return this.#shadow; }
  /** `name@version` of the live model */
  get version(): string { return this.#live.id; }

  #resolve(to: ModelRef | string): ModelRef {
    if (typeof to !== 'string') return to;
    if (!this.registry) throw new ConfigError('ModelSlot: a version string needs the slot to be opened with a registry');
    return this.registry.load(this.#live.model.name, to);
  }

  /** Make `to` the live version (loaded and warmed before the switch). */
  async swap(to: ModelRef | string): Promise<void> {
    const next = await InferencePool.open(this.#resolve(to), this.options);
    const old = this.#live;
    this.#live = next;
    this.swaps++;
    await old.close(); // waits for the batches already sent to it
  }

  /** Run `candidate` beside the live version; both scores are recorded. */
  async startShadow(candidate: ModelRef | string): Promise<void> {
    const next = await InferencePool.open(this.#resolve(candidate), this.options);
    const old = this.#shadow;
    this.#shadow = next;
    await old?.close();
  }

  async stopShadow(): Promise<void> {
    const old = this.#shadow;
    this.#shadow = undefined;
    await old?.close();
  }

  /** Promote the shadow to live (the old live version is closed). */
  async promoteShadow(): Promise<void> {
    const s = this.#shadow;
    if (!s) throw new ConfigError('ModelSlot: no shadow to promote');
    this.#shadow = undefined;
    const old = this.#live;
    this.#live = s;
    this.swaps++;
    await old.close();
  }

  async close(): Promise<void> {
    await Promise.all([this.#live.close(), this.#shadow?.close()]);
  }
}
