#!/usr/bin/env bash
# A Python with pyarrow for the Arrow read-back test (tests/arrow-ipc.test.ts) and for anyone
# opening Sluice's Arrow outputs: makes .venv-arrow/ once (pyarrow pinned) and prints its python.
# SLUICE_PYTHON set: that interpreter is used as it is (it must import pyarrow).
set -euo pipefail
cd "$(dirname "$0")/.."
if [ -n "${SLUICE_PYTHON:-}" ]; then echo "$SLUICE_PYTHON"; exit 0; fi
PY=.venv-arrow/bin/python
if ! [ -x "$PY" ] || ! "$PY" -c 'import pyarrow' >/dev/null 2>&1; then
  python3 -m venv .venv-arrow >&2
  "$PY" -m pip install --quiet --disable-pip-version-check 'pyarrow==21.0.0' >&2
fi
echo "$(pwd)/$PY"
