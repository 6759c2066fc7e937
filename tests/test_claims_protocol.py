import json

import pytest

from priorlab.claims.protocol import Gate, Measurement, Protocol, judge, load_overrides

P = Protocol(claim="x", conditions="a vs b", metric="m", delta=0.1,
             gates=(Gate("clip", ">=", 0.01, "clipping must act"), Gate("all_equal", "<=", 0.8, "signal")))


def eff(est, lo, hi):
    return {"estimate": est, "ci_low": lo, "ci_high": hi}


def test_gate_check_values_and_missing():
    g = Gate("clip", ">=", 0.01, "")
    assert g.check(0.01)["passed"] and not g.check(0.0099)["passed"]
    assert not g.check(None)["passed"] and not g.check(float("nan"))["passed"]
    assert g.check(float("nan"))["value"] is None
    with pytest.raises(ValueError, match="op"):
        Gate("x", "==", 1, "")


def test_judge_rule_all_four_verdicts():
    ok = P.check({"clip": 0.05, "all_equal": 0.3})
    assert judge(P, Measurement(eff(0.3, 0.1, 0.5), ok)) == ("reproduced", "")
    assert judge(P, Measurement(eff(0.02, -0.03, 0.08), ok)) == ("not reproduced", "")
    assert judge(P, Measurement(eff(0.05, 0.01, 0.2), ok))[0] == "inconclusive"  # CI low > 0 but below delta
    assert judge(P, Measurement(eff(float("nan"), 0, 1), ok))[0] == "inconclusive"
    bad = P.check({"clip": 0.001, "all_equal": 0.3})
    v, reason = judge(P, Measurement(eff(0.3, 0.1, 0.5), bad))
    assert v == "untestable" and "clip" in reason and "0.001" in reason and ">= 0.01" in reason
    v, reason = judge(P, Measurement(eff(0.3, 0.1, 0.5), P.check({"clip": 0.05})))
    assert v == "untestable" and "all_equal: measured not measured" in reason


def test_protocol_sha_override_and_rule_text():
    q = P.override({"delta": 0.2, "gates": {"clip": 0.05}})
    assert q.delta == 0.2 and q.gates[0].threshold == 0.05 and q.overridden == ("gates.clip", "delta")
    assert q.sha256() != P.sha256() and P.sha256() == Protocol(**{**P.__dict__}).sha256()
    assert "clip >= 0.01" in P.rule() and "effect >= 0.1" in P.rule()
    with pytest.raises(ValueError, match="unknown gate 'nope'"):
        P.override({"gates": {"nope": 1}})
    with pytest.raises(ValueError, match="not a finite number"):
        P.override({"delta": float("nan")})
    with pytest.raises(ValueError, match="unknown measured|unknown gates"):
        P.check({"other": 1})


def test_load_overrides(tmp_path):
    f = tmp_path / "p.yaml"
    f.write_text(json.dumps({"x": {"delta": 0.3}}))
    assert load_overrides(f, ["x"]) == {"x": {"delta": 0.3}}
    with pytest.raises(ValueError, match="not in this retest"):
        load_overrides(f, ["y"])
    f.write_bytes(b"\xff\xfe\x00")
    with pytest.raises(ValueError, match="cannot read"):
        load_overrides(f, ["x"])
