import numpy as np
import pytest

from priorlab.claims import CLAIM_IDS, get_claim, parse_claims
from priorlab.claims.base import PRESETS, Lab, bootstrap, decide, room


def _effect(a, b, n_boot=500):
    return bootstrap(lambda a, b: a.mean() - b.mean(), {"a": a, "b": b}, n_boot)


def test_verdict_rule_on_synthetic_inputs():
    rng = np.random.default_rng(0)
    # clear effect: condition a solves 80% of 200 problems, b 30%, over 3 seeds -> +0.5
    a = (rng.random((3, 200)) < 0.8).astype(float)
    b = (rng.random((3, 200)) < 0.3).astype(float)
    e = _effect(a, b)
    assert e["ci_low"] > 0.3 and decide(e, 0.05) == "reproduced"
    # no effect: identical distributions, many problems -> the CI excludes a 5-point effect
    c = (rng.random((5, 2000)) < 0.5).astype(float)
    d = (rng.random((5, 2000)) < 0.5).astype(float)
    assert decide(_effect(c, d), 0.05) == "not reproduced"
    # tiny sample: 1 seed x 4 problems -> the interval is too wide to tell
    tiny_a, tiny_b = np.array([[1.0, 0.0, 1.0, 0.0]]), np.array([[0.0, 0.0, 1.0, 0.0]])
    assert decide(_effect(tiny_a, tiny_b), 0.05) == "inconclusive"


def test_decide_by_hand():
    assert decide({"estimate": 0.3, "ci_low": 0.1, "ci_high": 0.5}, 0.2) == "reproduced"
    assert decide({"estimate": 0.15, "ci_low": 0.1, "ci_high": 0.3}, 0.2) == "inconclusive"  # real but maybe small
    assert decide({"estimate": 0.0, "ci_low": 0.0, "ci_high": 0.0}, 0.0) == "not reproduced"
    assert decide({"estimate": -0.1, "ci_low": -0.2, "ci_high": 0.1}, 0.2) == "not reproduced"
    assert decide({"estimate": float("nan"), "ci_low": 0.0, "ci_high": 1.0}, 0.2) == "inconclusive"


def test_bootstrap_shares_problems_and_resamples_seeds():
    # b = a + 0.1 on every problem: the paired problem resample keeps the difference exactly 0.1
    a = np.tile(np.linspace(0, 0.8, 50), (2, 1))
    e = _effect(a + 0.1, a, n_boot=200)
    assert e["estimate"] == pytest.approx(0.1) and e["ci_low"] == pytest.approx(0.1) and e["ci_high"] == pytest.approx(0.1)
    with pytest.raises(ValueError, match="problem axis"):
        bootstrap(lambda a, b: 0.0, {"a": np.zeros((1, 3)), "b": np.zeros((1, 4))}, 10)


def test_room_marks_untestable_priors():
    assert room(0.5) == "" and "no room" in room(0.99) and "no behaviour" in room(0.0)


def test_every_claim_declares_its_protocol_and_shares_conditions():
    lab = Lab(PRESETS["quick"])
    keys = []
    for cid in CLAIM_IDS:
        m = get_claim(cid)
        assert m.INFO.id == cid and "arXiv" in m.INFO.source and m.INFO.paper
        assert m.INFO.rule or getattr(m, "PROTOCOL", None) is not None, cid  # a rule, or a pre-registered protocol
        keys += [j.key for j in m.jobs(lab, [0, 1])]
    # conditions asked for by several claims (e.g. GRPO + correct on the default prior) are one job
    assert len(set(keys)) < len(keys)
    assert parse_claims(None) == list(CLAIM_IDS) and parse_claims("one-shot,calibration") == ["one-shot", "calibration"]
    with pytest.raises(ValueError, match="unknown claim"):
        parse_claims("one-shot,free-lunch")


@pytest.mark.parametrize("preset", ["smoke", "quick"])
def test_every_claims_jobs_build_with_typed_configs(preset, monkeypatch):
    from priorlab.lab import sweep

    # building jobs runs nothing: any runner call would fail the test
    for kind in sweep.RUNNERS:
        monkeypatch.setitem(sweep.RUNNERS, kind, lambda *a: pytest.fail("a job ran while being built"))
    lab = Lab(PRESETS[preset])
    for cid in CLAIM_IDS:
        built = sweep.closure(get_claim(cid).jobs(lab, [0, 1]))
        assert built, cid
        for j in built:
            assert type(j.config) is sweep.CONFIGS[j.kind], (cid, j.name)
            assert getattr(j.config, "init", "") == ""  # filled from the dependency at run time


def test_a_wrong_config_field_fails_when_the_jobs_are_built():
    lab = Lab(PRESETS["smoke"])
    prior = lab.prior()
    with pytest.raises(TypeError, match="clip_ratio"):
        lab.rl(prior, 0, clip_ratio=0.3)  # not an RLConfig field (the clip bounds go through `overrides`)
    # a real field passes through to the config and names the condition
    one = lab.rl(prior, 0, train_problems=1)
    assert one.config.train_problems == 1 and one.label.endswith("/train_problems=1/s0")
    assert one.key != lab.rl(prior, 0).key and lab.rl(prior, 0) == lab.rl(prior, 0)


def test_results_mean_metric_by_hand(tmp_path):
    from types import SimpleNamespace

    from priorlab.claims.base import Results

    logs = {"a": [{"step": 0, "eval/acc": 0.5}, {"step": 1, "m": 1.0}, {"step": 2, "m": 3.0}],
            "b": [{"step": 1, "m": 5.0}], "c": [{"step": 0}]}
    res = Results(tmp_path, tmp_path)
    res.metrics = lambda job: logs[job.key]
    a, b, c = (SimpleNamespace(key=k) for k in "abc")
    assert res.mean_metric([[a], [b]], "m") == 3.0  # (1 + 3 + 5) / 3
    assert res.mean_metric([[a, b]], "m", first_step=True) == 3.0  # (1 + 5) / 2
    assert res.mean_metric([[c]], "m") != res.mean_metric([[c]], "m")  # NaN: no step logged it
