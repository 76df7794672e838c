/**
 * The one way the engine loads apache-arrow.
 *
 * Loaded on first use: every process imports batches, few convert them to Arrow (the library
 * costs tens of ms and MBs at start-up), and pools fed packed arrays never need it.
 * Always through require, so every module gets the same (CommonJS) build: apache-arrow ships
 * a CommonJS and an ES-module build, and objects made by one are not recognised by the other
 * (instanceof checks inside the library fail), so a batch built here and written by the IPC
 * sink, or read back by a tool, must come from one instance.
 */
import { createRequire } from 'node:module';
import type * as ArrowModule from 'apache-arrow';

let arrowModule: typeof ArrowModule | undefined;

export const loadArrow = (): typeof ArrowModule => (arrowModule ??= createRequire(import.meta.url)('apache-arrow') as typeof ArrowModule);
