import json
import time

from priorlab.claims import CLAIM_IDS
from priorlab.claims.base import VERDICTS
from priorlab.lab.retest import plan
from tests.conftest import run_cli


def test_smoke_preset_end_to_end_and_reuse(tmp_path):
    out = tmp_path / "rt"
    estimate = plan(None, "smoke", out=out, workers=2)  # the built-in cost model: nothing is cached yet
    proc = run_cli("retest", "--preset", "smoke", "--workers", 2, "--out", out, "--quiet", timeout=900)
    rep = json.loads((out / "report.json").read_text())
    # the plan's estimate against the measured wall time: a ratio, within 3x either way (not a timed test)
    assert estimate.cached == 0 and 1 / 3 <= estimate.wall_s / rep["elapsed_s"] <= 3, (estimate.wall_s, rep["elapsed_s"])
    assert rep["preset"] == "smoke" and rep["elapsed_s"] > 0 and "torch" in rep["versions"]
    assert [c["id"] for c in rep["claims"]] == list(CLAIM_IDS)
    for c in rep["claims"]:
        assert c["verdict"] in VERDICTS, c["id"]
        for key in ("claim", "source", "effect", "ci_low", "ci_high", "seeds", "metrics", "paper", "rule", "gates",
                    "verdict_holm", "mde", "protocol_sha256", "protocol_spec", "mechanism_active", "effect_greedy"):
            assert key in c, (c["id"], key)
        assert c["gates"] and len(c["protocol_sha256"]) == 64, c["id"]  # every claim declares its mechanism's gates
        failed = [g["name"] for g in c["gates"] if not g["passed"]]
        assert (c["verdict"] == "untestable") == bool(failed) == (c["mechanism_active"] is False), c["id"]
        if failed:
            assert all(name in c["reason"] for name in failed), c["id"]  # an untestable claim names each failed gate
        if c["effect"] is not None:  # (a min over clauses may sit outside its percentile interval)
            assert c["ci_low"] <= c["ci_high"]
        assert c["verdict_holm"] in VERDICTS and (c["verdict_holm"] == "untestable") == (c["verdict"] == "untestable")
        assert c["seeds"] == [0, 1]
    html = (out / "report.html").read_text()
    assert html.count("<section") == len(CLAIM_IDS) + 1 and "data:image/png;base64," in html and "http" not in html.split("<body>")[1]
    assert "mechanism active?" in html and "Holm-adjusted" in html and "gate (mechanism precondition)" in html
    # the claims grouped by question, the literature's disagreements side by side with what the world says
    assert sorted(c for g in rep["groups"] for c in g["claims"]) == sorted(CLAIM_IDS)
    assert [d["claims"] for d in rep["disagreements"]] == [["spurious-rewards", "contamination"],
                                                           ["passk-boundary", "prolonged-rl"], ["passk-boundary", "cot-passk"]]
    assert all(d["says"] for d in rep["disagreements"]) and "what this world says" in html
    assert "spurious-rewards" in proc.stdout
    # a second run reuses every finished job: only the analysis is redone
    t = time.perf_counter()
    run_cli("retest", "--preset", "smoke", "--out", out, "--quiet")
    assert time.perf_counter() - t < 60
    assert json.loads((out / "report.json").read_text())["claims"] == rep["claims"]


def test_bad_inputs(tmp_path):
    for args, needle in [(["--claims", "free-lunch"], "free-lunch"), (["--preset", "huge"], "--preset"),
                         (["--seeds", "0"], "--seeds"), (["--prior-seeds", "0"], "--prior-seeds"),
                         (["--engine", "slurm"], "--engine")]:
        proc = run_cli("retest", "--out", tmp_path / "x", *args, check=False)
        assert proc.returncode == 2 and needle in proc.stderr and "Traceback" not in proc.stderr, proc.stderr


def test_holm_verdicts_by_hand():
    from priorlab.lab.retest import holm_verdicts

    def e(verdict, effect, delta, p0, pd):
        return {"verdict": verdict, "effect": effect, "delta": delta, "p_le_0": p0, "p_ge_delta": pd}

    # p_le_0 = 0.01, 0.02, 0.5 -> Holm 0.03, 0.04, 0.5; p_ge_delta = 0.9, 0.9, 0.004 -> 0.9, 0.9, 0.012
    entries = [e("reproduced", 0.3, 0.1, 0.01, 0.9), e("reproduced", 0.3, 0.1, 0.02, 0.9),
               e("not reproduced", 0.0, 0.1, 0.5, 0.004), {"verdict": "untestable", "effect": None, "p_le_0": None}]
    holm_verdicts(entries)
    assert [x["verdict_holm"] for x in entries] == ["inconclusive", "inconclusive", "not reproduced", "untestable"]
    assert entries[0]["p_le_0_holm"] == 0.03 and entries[1]["p_le_0_holm"] == 0.04
    single = [e("reproduced", 0.3, 0.1, 0.01, 0.9)]
    holm_verdicts(single)  # one claim: nothing to adjust
    assert single[0]["verdict_holm"] == "reproduced"


def test_protocol_overrides(tmp_path):
    from priorlab.claims import get_claim
    from priorlab.lab.retest import protocols_for

    f = tmp_path / "p.yaml"
    f.write_text("spurious-rewards: {delta: 0.3, gates: {clip_frac_random: 0.05}}\n")
    mods = {"spurious-rewards": get_claim("spurious-rewards"), "one-shot": get_claim("one-shot")}
    got = protocols_for(mods, f)
    assert got["spurious-rewards"].delta == 0.3 and got["spurious-rewards"].overridden == ("gates.clip_frac_random", "delta")
    assert got["one-shot"] == mods["one-shot"].PROTOCOL and not got["one-shot"].overridden
    assert got["spurious-rewards"].sha256() != mods["spurious-rewards"].PROTOCOL.sha256()
    proc = run_cli("retest", "--claims", "one-shot", "--protocol", f, "--preset", "smoke", "--out", tmp_path / "x",
                   check=False)
    assert proc.returncode == 2 and "--protocol" in proc.stderr and "spurious-rewards" in proc.stderr


def test_smoke_report_carries_a_plumbing_banner(tmp_path):
    from priorlab.lab.report import render

    rep = {"preset": "smoke", "claims": [], "elapsed_s": 60.0, "versions": {"code": "x", "torch": "2"}}
    assert "only check the plumbing" in render(rep, tmp_path)
    assert "only check the plumbing" not in render({**rep, "preset": "quick"}, tmp_path)
