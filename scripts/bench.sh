#!/usr/bin/env bash
# Runs the engine-core benchmark pinned to one core when taskset is available.
set -euo pipefail
cd "$(dirname "$0")/.."
npm run build --silent
if command -v taskset >/dev/null 2>&1; then
  BENCH_PINNED="yes (taskset -c 0)" exec taskset -c 0 node dist/bench/run.js
fi
exec node dist/bench/run.js
