import numpy as np
import pytest

from priorlab.claims.hard_samples import PROTOCOL, Data, measure
from priorlab.claims.protocol import judge


def data(rng, hard=0.15, matched=0.05, problems=200, **kw):
    """[A=2, B=2, P] per-problem shortcut rates (4 samples each) around the given means."""
    def arr(p):
        return (rng.random((2, 2, problems, 4)) < p).mean(axis=-1)
    d = dict(shortcut_hard=arr(hard), shortcut_matched=arr(matched), hard_base_pass_rate=0.03,
             matched_base_pass_rate=0.6, hard_signal_groups=0.2)
    return Data(**{**d, **kw})


def test_measure_reproduced_when_hard_only_rl_takes_more_shortcuts():
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert m.effect["estimate"] == pytest.approx(0.10, abs=0.03)  # 0.15 - 0.05
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_measure_not_reproduced_when_both_arms_take_as_many_shortcuts():
    m = measure(data(np.random.default_rng(1), hard=0.05, problems=1000), n_boot=300)  # narrow enough to exclude 0.02
    assert abs(m.effect["estimate"]) < 0.02 and m.effect["ci_high"] <= 0.02
    assert judge(PROTOCOL, m)[0] == "not reproduced"


@pytest.mark.parametrize("gate, value", [("hard_base_pass_rate", 0.6), ("hard_signal_groups", 0.0),
                                         ("matched_base_pass_rate", 0.05)])
def test_measure_untestable_names_the_failed_gate(gate, value):
    m = measure(data(np.random.default_rng(2), **{gate: value}), n_boot=100)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and reason.startswith(f"gate {gate}: measured {value:.4g}")
    assert [g["name"] for g in m.gates if not g["passed"]] == [gate]


def test_measure_untestable_when_the_training_signal_was_not_logged():
    m = measure(data(np.random.default_rng(3), hard_signal_groups=float("nan")), n_boot=100)
    assert judge(PROTOCOL, m)[1] == "gate hard_signal_groups: measured not measured, needs >= 0.05"
