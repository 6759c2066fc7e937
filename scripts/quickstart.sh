#!/usr/bin/env bash
# Set up on first use, then run the main job: re-test the twelve claims on the `quick` preset
# (2 seeds, all runs on this machine's cores; finished runs are reused if interrupted and rerun).
# Writes runs/retest/report.html and runs/retest/report.json.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/priorlab retest --preset quick --out "${OUT:-runs/retest}" "$@"
