import numpy as np
import pytest

from priorlab.claims.calibration import PROTOCOL, Data, ece_all, measure, scored
from priorlab.claims.protocol import judge


def arm(rng, b=2, p=200, n=4, conf="calibrated", acc=None, untagged=0.0):
    """(confidence, correctness) [A=2, b, p, n]. Each problem has a success probability q in tenths;
    `calibrated` states q, a number states that constant; `acc` overrides the success probability."""
    q = rng.integers(1, 10, size=(2, b, p, 1)) / 10 * np.ones((1, 1, 1, n))
    truth = q if acc is None else np.full_like(q, acc)
    correct = (rng.random(q.shape) < truth).astype(float)
    c = q.copy() if conf == "calibrated" else np.full_like(q, conf)
    c[rng.random(q.shape) < untagged] = np.nan
    return c, correct


def data(rng, base=dict(conf=0.9, acc=0.5), binary=dict(conf=0.9, acc=0.6), brier=dict(conf="calibrated"), **kw):
    (c0, y0), (cb, yb), (cr, yr) = arm(rng, b=1, **base), arm(rng, **binary), arm(rng, **brier)
    d = dict(conf_base=c0, correct_base=y0, conf_binary=cb, correct_binary=yb, conf_brier=cr, correct_brier=yr,
             binary_groups_all_equal=0.3, brier_groups_all_equal=0.1)
    return Data(**{**d, **kw})


def test_reproduced_when_the_binary_arm_is_overconfident_and_the_brier_arm_calibrated():
    m = measure(data(np.random.default_rng(0)), n_boot=200)
    assert all(g["passed"] for g in m.gates)
    assert abs(m.metrics["base_ece"] - 0.4) < 0.03  # one bin: |0.9 - 0.5|
    assert abs(m.effect["estimate"] - 0.3) < 0.04  # |0.9 - 0.6| minus a calibrated arm's binning noise
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_not_reproduced_when_both_arms_are_equally_miscalibrated():
    # 2 x 2 x 200 x 16 samples per arm: the ECE difference's standard error is about 0.006
    m = measure(data(np.random.default_rng(1), binary=dict(conf=0.9, acc=0.6, n=16), brier=dict(conf=0.9, acc=0.6, n=16)),
                n_boot=200)
    assert abs(m.effect["estimate"]) < 0.015 and m.effect["ci_high"] <= 0.02
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_untagged_samples_are_scored_as_confidence_zero():
    # both arms state calibrated confidences; the binary arm drops the tag on half of its samples (accuracy
    # ~0.5 there): on the tagged samples alone the arms are alike, on every sample the binary arm is worse
    # by about 0.5 x 0.5 = 0.25 (its untagged half sits in bin 0 with accuracy 0.5)
    rng = np.random.default_rng(2)
    d = data(rng, binary=dict(conf="calibrated", untagged=0.5))
    assert np.isnan(d.conf_binary).mean() == pytest.approx(0.5, abs=0.02)
    tagged = np.isfinite(d.conf_binary)
    assert abs(ece_all(d.conf_binary[tagged], d.correct_binary[tagged]) - ece_all(d.conf_brier, d.correct_brier)) < 0.03
    m = measure(d, n_boot=200)
    assert abs(m.effect["estimate"] - 0.25) < 0.04 and judge(PROTOCOL, m)[0] == "reproduced"
    assert scored(np.array([np.nan, 0.7, 1.5, -0.1])).tolist() == [0.0, 0.7, 0.0, 0.0]


def test_untestable_when_the_base_is_already_calibrated():
    m = measure(data(np.random.default_rng(3), base=dict(conf="calibrated")), n_boot=200)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and [g["name"] for g in m.gates if not g["passed"]] == ["base_ece"]
    assert "base_ece" in reason and m.metrics["base_ece"] < 0.05


@pytest.mark.parametrize("gate", ["binary_groups_all_equal", "brier_groups_all_equal"])
def test_untestable_when_a_reward_gives_grpo_no_gradient(gate):
    m = measure(data(np.random.default_rng(4), **{gate: 0.95}), n_boot=100)
    assert [g["name"] for g in m.gates if not g["passed"]] == [gate]
    assert gate in judge(PROTOCOL, m)[1]
