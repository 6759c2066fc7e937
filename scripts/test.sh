#!/usr/bin/env bash
# Set up on first use, then run the default test suite (slow end-to-end tests: add `-m slow`).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m pytest -q "$@"
