#!/usr/bin/env bash
# Set up on first use, then run the main job on the embedded default world: pretrain the default
# model on the default prior (cached after the first run) and evaluate it at the RL difficulty.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
OUT=${OUT:-runs/quickstart}
.venv/bin/priorlab pretrain --mixture code-prior --size s --seed 0 --out "$OUT/pretrain" --resume
.venv/bin/priorlab eval --model "$OUT/pretrain" --difficulty 3x1 --problems 100 --samples 64 --out "$OUT/eval"
