import json
import time

from priorlab.claims import CLAIM_IDS
from priorlab.claims.base import VERDICTS
from tests.conftest import run_cli


def test_smoke_preset_end_to_end_and_reuse(tmp_path):
    out = tmp_path / "rt"
    proc = run_cli("retest", "--preset", "smoke", "--out", out, "--quiet", timeout=900)
    rep = json.loads((out / "report.json").read_text())
    assert rep["preset"] == "smoke" and rep["elapsed_s"] > 0 and "torch" in rep["versions"]
    assert [c["id"] for c in rep["claims"]] == list(CLAIM_IDS)
    for c in rep["claims"]:
        assert c["verdict"] in VERDICTS, c["id"]
        for key in ("claim", "source", "effect", "ci_low", "ci_high", "seeds", "metrics", "paper", "rule"):
            assert key in c, (c["id"], key)
        if c["verdict"] == "untestable":
            assert c["reason"], c["id"]  # an untestable claim says why
        else:
            assert c["effect"] is None or c["ci_low"] <= c["effect"] <= c["ci_high"]
        assert c["seeds"] == [0, 1]
    html = (out / "report.html").read_text()
    assert html.count("<section") == 12 and "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    assert "spurious-rewards" in proc.stdout
    # a second run reuses every finished job: only the analysis is redone
    t = time.perf_counter()
    run_cli("retest", "--preset", "smoke", "--out", out, "--quiet")
    assert time.perf_counter() - t < 60
    assert json.loads((out / "report.json").read_text())["claims"] == rep["claims"]


def test_bad_inputs(tmp_path):
    for args, needle in [(["--claims", "free-lunch"], "free-lunch"), (["--preset", "huge"], "--preset"),
                         (["--seeds", "0"], "--seeds"), (["--engine", "slurm"], "--engine")]:
        proc = run_cli("retest", "--out", tmp_path / "x", *args, check=False)
        assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr
