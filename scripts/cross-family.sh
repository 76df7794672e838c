#!/usr/bin/env bash
# Cross-family evaluation of the surveillance detector (issue #18): train the detector's
# architecture on one order-flow generator family and judge it on the other, both directions.
#
#   family "market":  apps/surveillance/sim/market.ts with its hard negatives (SIM_HARD=12),
#                     seeds 1-6 generated + 7-9 injected into LOBSTER AMZN; validation seed 50
#   family "auction": apps/surveillance/sim/auction-sim.ts, seeds 1-6; validation seed 50
#
# Each model goes to a scratch registry (nothing under models/ changes); each direction's report
# is written by bench/eval-generalization.ts to bench/RESULTS-cross-family-<encoder>-<trained on>.md,
# beside the statistical baseline and the naive cancel rule on the same held-out seeds.
#
# --encoder pattern trains the pattern-feature detector (models/surveillance-pattern/train.py,
# --arch gbm or mlp via PATTERN_ARCH) on per-event pattern features (bench/pattern-features-dump.ts:
# seeds 1-3 of the family, every event) instead of the sequence transformer; about 12 minutes.
#
#   bash scripts/cross-family.sh [--encoder order|relative|pattern] [--train market|auction|both] [--epochs N] [--seeds 1001,1002,1003]
#
# Needs the training venv (bash scripts/train-all.sh makes it; or SLUICE_TRAIN_PYTHON). About
# 30 minutes on 2 cores: dumps ~6, two trainings ~6-9 each, two evaluations ~4 each.
set -euo pipefail
cd "$(dirname "$0")/.."
ENCODER=relative; EPOCHS=4; SEEDS=1001,1002,1003; TRAIN="market auction"
while [ $# -gt 0 ]; do
  case "$1" in
    --encoder) ENCODER="$2"; shift 2 ;;
    --epochs) EPOCHS="$2"; shift 2 ;;
    --seeds) SEEDS="$2"; shift 2 ;;
    --train) case "$2" in both) TRAIN="market auction" ;; market|auction) TRAIN="$2" ;; *) echo "cross-family: --train is market, auction or both" >&2; exit 2 ;; esac; shift 2 ;;
    *) echo "cross-family: unknown argument '$1' (see the header of $0)" >&2; exit 2 ;;
  esac
done
case "$ENCODER" in order|relative|pattern) ;; *) echo "cross-family: --encoder is order, relative or pattern" >&2; exit 2 ;; esac
PY=${SLUICE_TRAIN_PYTHON:-.venv-train/bin/python}
[ -x "$PY" ] || { echo "cross-family: no $PY (bash scripts/train-all.sh makes it, or set SLUICE_TRAIN_PYTHON)" >&2; exit 1; }
DATA=${SLUICE_SHARED_DATA:-../shared/data}
AMZN="$DATA/lobster/AMZN_2012-06-21_34200000_57600000_message_5.csv"
[ -f "$AMZN" ] || { echo "cross-family: no $AMZN (set SLUICE_SHARED_DATA)" >&2; exit 1; }
stamp() { echo "[$(date -u +%H:%M:%S)] $*"; }
WORK=$(mktemp -d)
trap 'rm -rf "$WORK"' EXIT
npm run build --silent
# judge FAMILY REPORT: the model trained on FAMILY (registry-FAMILY, cross-family@1) on the other family and clean LOBSTER
judge() {
  stamp "judging it on the other family and clean LOBSTER"
  EVAL_REGISTRY="$WORK/registry-$1" EVAL_MODEL_TRANSFORMER=cross-family@1 EVAL_TRAIN_FAMILY=$1 \
    EVAL_SCORERS=transformer,transformer-ungated,statistical,naive,evidence EVAL_SEEDS=$SEEDS EVAL_REPORT="$2" \
    node dist/bench/eval-generalization.js | grep -E '^(auction|market) seed|^wrote'
}
if [ "$ENCODER" = pattern ]; then
  ARCH=${PATTERN_ARCH:-gbm}
  for family in $TRAIN; do
    stamp "dumping pattern features of the $family family (seeds 1-3, validation 50) and training the $ARCH"
    node dist/bench/pattern-features-dump.js "$family" 1,2,3 "$WORK/$family-train"
    node dist/bench/pattern-features-dump.js "$family" 50 "$WORK/$family-val"
    SLUICE_MODELS_OUT="$WORK/registry-$family" "$PY" -u models/surveillance-pattern/train.py --arch "$ARCH" --name cross-family --version 1 --seed 1 \
      --train "$WORK/$family-train" --val "$WORK/$family-val" | tail -1
    judge "$family" "RESULTS-cross-family-pattern-$ARCH-$family.md"
  done
  stamp "done"
  exit 0
fi
export SIM_ENCODER=$ENCODER
dump() { node dist/models/tools/dump-surveillance.js "$@" | tail -1; }

stamp "dumping the training families ($TRAIN) with the $ENCODER encoder"
if [[ " $TRAIN " == *" market "* ]]; then
  SIM_HARD=12 dump "$WORK/market-train" 1,2,3,4,5,6 200000 10
  SIM_HARD=12 dump "$WORK/market-amzn" 7,8,9 0 10 "$AMZN"
  SIM_HARD=12 dump "$WORK/market-val" 50 200000 25
fi
if [[ " $TRAIN " == *" auction "* ]]; then
  SIM_FAMILY=auction dump "$WORK/auction-train" 1,2,3,4,5,6 0 10
  SIM_FAMILY=auction dump "$WORK/auction-val" 50 0 25
fi

for family in $TRAIN; do
  train="$WORK/$family-train"; [ "$family" = market ] && train="$train,$WORK/market-amzn"
  stamp "training on the $family family"
  SLUICE_MODELS_OUT="$WORK/registry-$family" "$PY" -u models/surveillance-detector/train.py --arch transformer \
    --name cross-family --version 1 --epochs "$EPOCHS" --seed 1 --train "$train" --val "$WORK/$family-val" | tail -1
  judge "$family" "RESULTS-cross-family-$ENCODER-$family.md"
done
stamp "done"
