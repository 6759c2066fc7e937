import numpy as np

from priorlab.claims.catalyst import PROTOCOL, Data, measure
from priorlab.claims.protocol import judge


def data(rng, base_worst=0.3, base_best=0.5, correct_worst=0.35, correct_best=0.7, random_best=0.6, half_best=0.65,
         **kw):
    """[A=2, B=2, P=200] per-problem accuracies around the given means (priors [2, 1, 200])."""
    def arr(mean, b=2):
        return np.clip(mean + 0.05 * rng.standard_normal((2, b, 200)), 0, 1)
    d = dict(base_worst=arr(base_worst, 1), base_best=arr(base_best, 1), correct_worst=arr(correct_worst),
             correct_best=arr(correct_best), random_best=arr(random_best), half_best=arr(half_best),
             groups_all_equal_max=0.4, clip_frac_random=0.03)
    return Data(**{**d, **kw})


def test_reproduced_when_every_clause_holds():
    # gains: correct worst +0.05; best: correct +0.2, random +0.12, half +0.15 -> clauses 0.15, 0.07, 0.10
    m = measure(data(np.random.default_rng(0), random_best=0.62), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    c = m.metrics["clauses"]
    assert abs(c["headroom"]["estimate"] - 0.15) < 0.02 and abs(c["not_training_volume"]["estimate"] - 0.10) < 0.02
    assert abs(m.effect["estimate"] - 0.07) < 0.02  # the smallest clause: random +0.12 - 0.05
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_not_reproduced_when_the_random_reward_lowers_accuracy_though_headroom_holds():
    # the headroom clause alone would say reproduced (+0.15); the random arm's gain is -0.05
    m = measure(data(np.random.default_rng(1), random_best=0.45), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert m.metrics["clauses"]["headroom"]["ci_low"] > 0.05
    assert abs(m.effect["estimate"] - (-0.05 - 0.05)) < 0.02 and m.effect["ci_high"] <= 0.05
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_not_reproduced_when_the_better_prior_gains_no_more():
    m = measure(data(np.random.default_rng(2), correct_best=0.55, random_best=0.55, half_best=0.55), n_boot=300)
    assert abs(m.metrics["clauses"]["headroom"]["estimate"]) < 0.02
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_untestable_when_a_prior_gives_grpo_no_gradient():
    m = measure(data(np.random.default_rng(3), groups_all_equal_max=0.95), n_boot=300)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and "groups_all_equal_max" in reason and "0.95" in reason
    assert [g["name"] for g in m.gates if not g["passed"]] == ["groups_all_equal_max"]


def test_untestable_when_the_budgets_give_priors_of_equal_quality():
    m = measure(data(np.random.default_rng(4), base_worst=0.5, correct_worst=0.55), n_boot=300)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["quality_gap_ci_low"]


def test_untestable_when_the_random_arm_never_clips():
    m = measure(data(np.random.default_rng(5), clip_frac_random=0.0), n_boot=300)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["clip_frac_random"]
    assert judge(PROTOCOL, m)[0] == "untestable"
