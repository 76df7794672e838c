/**
 * The embedded runtime, in rooms of one job each under src/runtime/: runtime.ts (graph and
 * pump), cell.ts (the operator cell), drivers.ts (sources and sinks), checkpoints.ts (the
 * checkpoint protocol), options.ts (configuration, view, summary). This module is the door.
 */
export { Runtime } from './runtime/runtime.js';
export type { Checkpoint, RunSummary, RuntimeObserver, RuntimeOptions, RuntimeView, StageStats } from './runtime/options.js';
