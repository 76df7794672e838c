#!/usr/bin/env bash
# Retrain every shipped model from ../shared/data and the engine's own simulators, on a fresh
# machine: makes its own virtual environment (.venv-train/, pinned by models/requirements.txt),
# builds the engine, dumps the training data with the engine's own encoders (Arrow IPC files),
# trains and exports each model, and prints each model's final metrics beside the registered
# version's. CI does not train.
#
#   bash scripts/train-all.sh [--out DIR] [--only surveillance,profile,personalization]
#
# --out DIR   write the models into the registry root DIR instead of models/ (a check that
#             the shipped models are reproducible leaves them untouched); default models/.
# --only      a subset: surveillance (detector, incremental detector, LSTM baseline, pattern-feature detector), profile (participant-profile),
#             personalization (text encoder, Games and MovieLens encoders and towers).
# Times on 2 cores (PyTorch on the CPU): venv ~3 min (≈6 GB: PyPI's torch brings CUDA
# libraries); models/RETRAIN-LOG.md has each group's measured time.
# SLUICE_TRAIN_PYTHON=/path/to/python uses that interpreter instead of making the venv.
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
OUT="$ROOT/models"
ONLY="surveillance,profile,personalization"
while [ $# -gt 0 ]; do
  case "$1" in
    --out) OUT=$(mkdir -p "$2" && cd "$2" && pwd); shift 2 ;;
    --only) ONLY="$2"; shift 2 ;;
    *) echo "train-all: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
want() { [[ ",$ONLY," == *",$1,"* ]]; }
stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }
T0=$(date +%s)
DATA=${SLUICE_SHARED_DATA:-$ROOT/../shared/data}
[ -d "$DATA" ] || { echo "train-all: no training data at $DATA (set SLUICE_SHARED_DATA)" >&2; exit 1; }

if [ -n "${SLUICE_TRAIN_PYTHON:-}" ]; then PY=$SLUICE_TRAIN_PYTHON; else
  PY=$ROOT/.venv-train/bin/python
  if ! "$PY" -c 'import torch, numpy, onnx, onnxruntime, pyarrow' >/dev/null 2>&1; then
    stamp "making .venv-train from models/requirements.txt"
    python3 -m venv "$ROOT/.venv-train"
    "$PY" -m pip install --quiet --disable-pip-version-check -r models/requirements.txt
  fi
fi
stamp "python: $("$PY" -c 'import sys, torch; print(sys.version.split()[0], "torch", torch.__version__)')"
[ -d node_modules ] || ONNXRUNTIME_NODE_INSTALL=skip npm ci --no-audit --no-fund
npm run build --silent
export SLUICE_MODELS_OUT="$OUT"
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
LOBSTER_AMZN="$DATA/lobster/AMZN_2012-06-21_34200000_57600000_message_5.csv"

surveillance() {
  stamp "surveillance: dumping training data (seeds 1-6 simulated, 7-9 on LOBSTER AMZN) and validation (seed 50)"
  node dist/models/tools/dump-surveillance.js "$WORK/surv-train" 1,2,3,4,5,6 200000 10
  node dist/models/tools/dump-surveillance.js "$WORK/surv-amzn" 7,8,9 0 10 "$LOBSTER_AMZN"
  node dist/models/tools/dump-surveillance.js "$WORK/surv-val" 50 200000 25
  for arch in transformer lstm; do
    stamp "surveillance: training the $arch"
    "$PY" -u models/surveillance-detector/train.py --arch "$arch" --version 3 --epochs 4 --seed 1 --train "$WORK/surv-train,$WORK/surv-amzn" --val "$WORK/surv-val"
  done
  # the incremental detector (surveillance-detector-incremental@1, issue #17): same data, loss and schedule
  stamp "surveillance: training the incremental detector"
  "$PY" -u models/surveillance-detector/train.py --arch incremental --version 1 --epochs 4 --seed 1 --train "$WORK/surv-train,$WORK/surv-amzn" --val "$WORK/surv-val"
  # the pattern-feature detector (surveillance-pattern@1, issue #18): the market family with its hard
  # negatives, seeds 1-3, every event; validation seed 50
  stamp "surveillance: training the pattern-feature detector"
  node dist/bench/pattern-features-dump.js market 1,2,3 "$WORK/pattern-train"
  node dist/bench/pattern-features-dump.js market 50 "$WORK/pattern-val"
  "$PY" -u models/surveillance-pattern/train.py --arch gbm --version 1 --seed 1 --train "$WORK/pattern-train" --val "$WORK/pattern-val"
}

profile() {
  stamp "participant-profile: dumping (seeds 1-4 train, 101 validation) and training versions 1 and 2"
  node dist/models/tools/dump-sequences.js "$WORK/profile-train" 1,2,3,4 100000 16
  node dist/models/tools/dump-sequences.js "$WORK/profile-val" 101 50000 4
  "$PY" -u models/participant-profile/train.py --version 1 --epochs 2 --seed 1 --train "$WORK/profile-train" --val "$WORK/profile-val"
  "$PY" -u models/participant-profile/train.py --version 2 --epochs 3 --seed 2 --train "$WORK/profile-train" --val "$WORK/profile-val"
}

personalization() {
  stamp "personalization: text encoder, Games, MovieLens (full, no-content, no-profile)"
  bash scripts/train-personalization.sh "$PY"
}

# each group on its own: one that fails is reported and the others still train
FAILED=()
for group in surveillance profile personalization; do
  if want "$group"; then
    t=$(date +%s)
    # not in an if: errexit is ignored inside a condition, subshells included
    set +e; ( set -e; "$group" ); rc=$?; set -e
    if [ "$rc" -eq 0 ]; then stamp "$group: done in $(( ($(date +%s) - t) / 60 )) min"; else stamp "$group: FAILED (exit $rc)"; FAILED+=("$group"); fi
  fi
done

stamp "done in $(( ($(date +%s) - T0) / 60 )) min; final metrics, retrained vs registered:"
node --input-type=module -e '
  import { readdirSync, existsSync, readFileSync } from "node:fs";
  const [out, shipped] = process.argv.slice(1);
  for (const name of readdirSync(out).sort()) for (const v of existsSync(`${out}/${name}`) ? readdirSync(`${out}/${name}`) : []) {
    const m = `${out}/${name}/${v}/manifest.json`, s = `${shipped}/${name}/${v}/manifest.json`;
    if (!existsSync(m)) continue;
    const got = JSON.parse(readFileSync(m, "utf8")).training.metrics ?? {};
    const reg = existsSync(s) ? JSON.parse(readFileSync(s, "utf8")).training.metrics ?? {} : {};
    console.log(`${name}@${v}`);
    const show = (v) => (v === undefined ? "-" : typeof v === "object" ? JSON.stringify(v) : String(v));
    for (const k of Object.keys(got)) console.log(`  ${k.padEnd(28)} retrained ${show(got[k]).padEnd(10)} registered ${show(reg[k])}`);
  }' "$OUT" "$ROOT/models"
if [ ${#FAILED[@]} -gt 0 ]; then echo "train-all: failed: ${FAILED[*]}" >&2; exit 1; fi
