import numpy as np

from priorlab.claims.protocol import judge
from priorlab.claims.spurious_rewards import PROTOCOL, Data, measure


def data(rng, base=0.5, correct=0.8, random=0.75, **kw):
    """[A=2, B=2, P=200] per-problem accuracies around the given means."""
    def arr(mean, b=2):
        return np.clip(mean + 0.05 * rng.standard_normal((2, b, 200)), 0, 1)
    d = dict(base=arr(base, 1), correct=arr(correct), random=arr(random), clip_frac_random=0.03,
             would_clip_frac_unclipped=0.03, accurate_format_share=0.3, format_groups_all_equal=0.4)
    return Data(**{**d, **kw})


def test_measure_reproduced_when_gates_pass_and_random_recovers_most_of_the_gain():
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert abs(m.effect["estimate"] - 0.25 / 0.3) < 0.05
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_measure_not_reproduced_when_random_gives_no_gain():
    m = measure(data(np.random.default_rng(1), random=0.5), n_boot=300)
    assert abs(m.effect["estimate"]) < 0.1 and m.effect["ci_high"] <= 0.5
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_measure_untestable_when_clipping_never_acted():
    m = measure(data(np.random.default_rng(2), clip_frac_random=0.001), n_boot=300)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and "clip_frac_random" in reason and "0.001" in reason


def test_measure_untestable_when_correct_reward_gives_no_gain():
    m = measure(data(np.random.default_rng(3), correct=0.5, random=0.5), n_boot=300)
    assert judge(PROTOCOL, m)[0] == "untestable"
    assert [g["name"] for g in m.gates if not g["passed"]] == ["correct_gain_ci_low"]
