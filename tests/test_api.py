"""The Python API: `import priorlab` (lazy, documented names), `Run`, and README's example run as written."""

import json
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import priorlab
from priorlab.run import Run

ROOT = Path(__file__).resolve().parents[1]


def test_import_loads_no_torch_and_every_name_resolves_with_a_docstring():
    code = "import sys, priorlab; print('torch' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True).stdout.strip() == "False"
    for name in priorlab.__all__:
        if name == "__version__":
            continue
        obj = getattr(priorlab, name)
        assert (obj.__doc__ or "").strip(), name
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        priorlab.nope  # noqa: B018
    assert (ROOT / "src" / "priorlab" / "py.typed").is_file()


def test_run_reads_a_run_directory(tmp_path):
    run_dir = tmp_path / "r"
    (run_dir / "checkpoints" / "step_00000004").mkdir(parents=True)
    (run_dir / "checkpoints" / "step_00000000").mkdir()
    (run_dir / "config.json").write_text(json.dumps({"reward": "correct"}))
    rows = [{"step": 1, "reward/mean": 0.5}, {"step": 2, "reward/mean": 0.75, "eval/acc_t1": 0.4, "note": "x"}]
    (run_dir / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    run = Run.load(run_dir)
    assert run.config == {"reward": "correct"} and not run.finished
    assert [s for s, _ in run.checkpoints] == [0, 4]
    t = run.metrics_table()
    assert list(t) == ["step", "reward/mean", "eval/acc_t1"]
    assert np.array_equal(t["reward/mean"], [0.5, 0.75]) and np.isnan(t["eval/acc_t1"][0])
    steps, acc = run.metric("eval/acc_t1")
    assert steps.tolist() == [2] and acc.tolist() == [0.4]
    with pytest.raises(KeyError, match="it has: eval/acc_t1, note, reward/mean, step"):
        run.metric("loss")
    with pytest.raises(ValueError, match="not a run directory"):
        Run.load(tmp_path)


def test_readme_python_example_runs_as_written(tmp_path):
    readme = (ROOT / "README.md").read_text()
    section = readme.split("## Python API", 1)[1]
    code = re.search(r"```python\n(.*?)```", section, flags=re.S).group(1)
    proc = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.strip().splitlines()[-3:]  # after retest's own log line
    assert lines[0].startswith("one-shot ") and lines[1].startswith("correct ")
    assert lines[2] == f"pass@4 with 3 of 16 right: {priorlab.pass_at_k(n=16, c=3, k=4)}"
    assert (tmp_path / "runs" / "api-demo" / "report.html").is_file()
