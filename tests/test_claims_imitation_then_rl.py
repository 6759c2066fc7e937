import numpy as np
import pytest

from priorlab.claims.imitation_then_rl import PROTOCOL, Data, measure
from priorlab.claims.protocol import judge


def data(rng, rl_only=0.5, srl_only=0.45, srl_rl=0.6, **kw):
    """[A=2, B=2, P=200] per-problem accuracies around the given means."""
    def arr(mean):
        return np.clip(mean + 0.05 * rng.standard_normal((2, 2, 200)), 0, 1)
    d = dict(rl_only=arr(rl_only), srl_only=arr(srl_only), srl_rl=arr(srl_rl), code_share=0.95, code_accuracy=0.7)
    return Data(**{**d, **kw})


def test_measure_reproduced_when_srl_then_rlvr_beats_both():
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert abs(m.effect["estimate"] - 0.1) < 0.01  # .6 - max(.5, .45)
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_measure_not_reproduced_when_srl_then_rlvr_only_matches_rlvr():
    m = measure(data(np.random.default_rng(1), srl_rl=0.5), n_boot=300)
    assert abs(m.effect["estimate"]) < 0.01 and m.effect["ci_high"] <= 0.02
    assert judge(PROTOCOL, m)[0] == "not reproduced"


@pytest.mark.parametrize("kw, gate", [
    (dict(code_share=0.3), "code_share"),  # SRL left the student in its own format
    (dict(code_accuracy=0.1), "code_accuracy"),  # the expert's steps' form, not their arithmetic
])
def test_measure_untestable_names_the_failed_gate(kw, gate):
    m = measure(data(np.random.default_rng(2), **kw), n_boot=100)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and f"gate {gate}:" in reason
    assert [g["name"] for g in m.gates if not g["passed"]] == [gate]
