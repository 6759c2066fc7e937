#!/usr/bin/env bash
# Type-check the package with mypy (configured in pyproject.toml's [tool.mypy]); run by .ci/run after the tests.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/setup.sh
exec .venv/bin/python -m mypy "$@"
