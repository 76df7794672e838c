// Assemble apps/personalization/dots.wat into dots.wasm (committed, so installs need no toolchain).
// wabt (the WebAssembly Binary Toolkit, compiled to JS) does the assembling: a hand-encoded
// binary would be unreadable and unreviewable.
import { readFileSync, writeFileSync } from 'node:fs';
import wabtInit from 'wabt';

const wabt = await wabtInit();
const src = new URL('../apps/personalization/dots.wat', import.meta.url);
const mod = wabt.parseWat('dots.wat', readFileSync(src, 'utf8'), { simd: true });
mod.validate();
const { buffer } = mod.toBinary({});
writeFileSync(new URL('../apps/personalization/dots.wasm', import.meta.url), buffer);
console.log(`dots.wasm: ${buffer.length} bytes`);
