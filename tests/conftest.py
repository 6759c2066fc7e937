import os
import subprocess
import sys
from pathlib import Path

import pytest

FIXTURES = Path(__file__).parent / "fixtures"  # small MATH-500-, GSM8K- and AIME-shaped files written for the tests
SHARED_DATA = Path(__file__).parents[2] / "shared" / "data"  # the real benchmark files, next to the repository

TINY_MIXTURE = """\
formats:
  code: {share: 0.5}
  nl: {share: 0.3, corrupt: 0.2}
  direct: {share: 0.2, corrupt: 0.5}
difficulty: {"2x1": 0.5, "3x1": 0.5}
documents: 3000
"""


def pytest_collection_modifyitems(config, items):
    """Tests marked `shared_data` read the real benchmark files in ../shared/data (outside the repository);
    without that folder they are skipped, saying so, rather than counted as passing."""
    if SHARED_DATA.is_dir():
        return
    skip = pytest.mark.skip(reason="../shared/data not found: real-benchmark checks not run")
    for item in items:
        if item.get_closest_marker("shared_data"):
            item.add_marker(skip)


@pytest.fixture(autouse=True)
def _isolated_cache(tmp_path, monkeypatch):
    """Every test gets its own pretraining cache, never the user's."""
    monkeypatch.setenv("PRIORLAB_CACHE", str(tmp_path / "cache"))


@pytest.fixture
def tiny_mixture(tmp_path):
    path = tmp_path / "tiny.yaml"
    path.write_text(TINY_MIXTURE)
    return path


def run_cli(*args, env=None, check=True, timeout=300):
    """Run `priorlab ARGS` in a fresh interpreter, as a user would."""
    proc = subprocess.run([sys.executable, "-m", "priorlab.cli", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=timeout)
    if check and proc.returncode != 0:
        raise AssertionError(f"priorlab {' '.join(map(str, args))} failed:\n{proc.stdout}\n{proc.stderr}")
    return proc
