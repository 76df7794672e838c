#!/usr/bin/env bash
# Runs every uvu test file under dist/ and ends with one plain line: "tests: N passed, N failed".
# SLUICE_TEST_PATTERN narrows the files (a regular expression on their paths; default: all).
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
node node_modules/uvu/bin.js dist "${SLUICE_TEST_PATTERN:-\.test\.js\$}" "$@" 2>&1 | tee "$log"
rc=${PIPESTATUS[0]}
# strip colour codes, then read uvu's totals
clean=$(sed -E 's/\x1b\[[0-9;]*m//g' "$log")
total=$(printf '%s\n' "$clean" | awk '/Total:/ {print $2}' | tail -1)
passed=$(printf '%s\n' "$clean" | awk '/Passed:/ {print $2}' | tail -1)
rm -f "$log"
total=${total:-0}; passed=${passed:-0}
echo "tests: ${passed} passed, $((total - passed)) failed"
if [ "$total" -eq 0 ]; then echo "no tests ran"; exit 1; fi
exit "$rc"
