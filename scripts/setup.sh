#!/usr/bin/env bash
# Create .venv and install priorlab with its test extras, once; re-run only when pyproject.toml changes.
# torch is pinned to 2.13.0 first: pyproject's range (torch>=2.4,<3, so that priorlab installs beside a trainer's
# torch) could otherwise pull a multi-GB CUDA build. antlr 4.13.2 is the Math-Verify parser runtime the tests ran on.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=${PYTHON:-python3}
stamp=.venv/.priorlab-installed
want=$(sha256sum pyproject.toml | cut -c1-16)
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ]; then exit 0; fi
[ -x .venv/bin/python ] || "$PY" -m venv .venv
.venv/bin/python -m pip install -q --upgrade pip
.venv/bin/python -m pip install -q torch==2.13.0 antlr4-python3-runtime==4.13.2
.venv/bin/python -m pip install -q -e ".[test]"
echo "$want" > "$stamp"
