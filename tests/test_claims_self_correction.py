import numpy as np

from priorlab.claims.protocol import judge
from priorlab.claims.self_correction import PROTOCOL, Data, measure, mixtures


def rates(rng, mean, b=2):
    """[A=2, b, P=200] per-problem shares of 8 samples with a correction, around `mean`."""
    return rng.binomial(8, mean, (2, b, 200)) / 8


def data(rng, base_with=0.08, rl_with=0.16, base_without=0.0, rl_without=0.0, **kw):
    d = dict(base_with=rates(rng, base_with, 1), rl_with=rates(rng, rl_with), base_without=rates(rng, base_without, 1),
             rl_without=rates(rng, rl_without), groups_all_equal=0.5)
    return Data(**{**d, **kw})


def test_reproduced_when_rl_amplifies_only_the_present_behaviour():
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert abs(m.effect["estimate"] - 0.08) < 0.02
    assert abs(m.metrics["rates"]["base_with"] - 0.08) < 0.01
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_not_reproduced_when_rl_leaves_the_rate_alone_or_lowers_it():
    m = measure(data(np.random.default_rng(1), rl_with=0.05), n_boot=300)
    assert m.effect["estimate"] < 0 and m.effect["ci_high"] <= PROTOCOL.delta
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_not_reproduced_when_rl_creates_it_from_nothing_even_more():
    # the control's manipulation check reads its base (0.0), so the gates pass; RL then writes corrections there
    # too (+0.12 against the dial's +0.08): only when present = -0.04
    m = measure(data(np.random.default_rng(2), rl_without=0.12), n_boot=300)
    assert m.metrics["clauses"]["amplified"]["ci_low"] > 0.05
    assert abs(m.metrics["clauses"]["only_when_present"]["estimate"] + 0.04) < 0.015
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_untestable_when_the_dial_did_not_take_or_the_control_already_corrects():
    m = measure(data(np.random.default_rng(3), base_with=0.005), n_boot=200)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and "base_rate_with" in reason
    m = measure(data(np.random.default_rng(3), base_without=0.05, groups_all_equal=0.9), n_boot=200)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["base_rate_without", "groups_all_equal"]


def test_the_two_priors_differ_only_in_the_dial():
    from priorlab.world.mixtures import load_mixture

    with_, without = (load_mixture(m) for m in mixtures().values())
    assert with_.self_correct == 0.1 and without.self_correct == 0.0
    assert with_.formats == without.formats and with_.difficulty == without.difficulty
