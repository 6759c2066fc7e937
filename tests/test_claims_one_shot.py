import numpy as np

from priorlab.claims.one_shot import PROTOCOL, Data, example_accuracy, measure
from priorlab.claims.protocol import judge


def data(rng, base=0.4, full=0.7, one=0.65, **kw):
    """[A=2, B=2, P=200] per-problem accuracies around the given means (base [2, 1, 200])."""
    def arr(mean, b=2):
        return np.clip(mean + 0.05 * rng.standard_normal((2, b, 200)), 0, 1)
    d = dict(base=arr(base, 1), full=arr(full), one=arr(one), example_accuracy_first_step=0.5,
             example_accuracy_end=0.97)
    return Data(**{**d, **kw})


def test_reproduced_when_the_example_saturates_and_one_example_recovers_most_of_the_gain():
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert abs(m.effect["estimate"] - 0.25 / 0.3) < 0.05  # (0.65 - 0.4) / (0.7 - 0.4)
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_not_reproduced_when_one_example_gives_a_small_part_of_the_gain():
    m = measure(data(np.random.default_rng(1), one=0.43), n_boot=300)  # 0.03 / 0.3 = 0.1
    assert all(g["passed"] for g in m.gates)
    assert abs(m.effect["estimate"] - 0.1) < 0.05 and m.effect["ci_high"] <= 0.5
    assert judge(PROTOCOL, m)[0] == "not reproduced"


def test_untestable_when_the_example_was_never_fitted():
    m = measure(data(np.random.default_rng(2), example_accuracy_end=0.6), n_boot=300)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and "example_accuracy_end" in reason and "0.6" in reason
    assert [g["name"] for g in m.gates if not g["passed"]] == ["example_accuracy_end"]


def test_untestable_when_the_base_already_solved_the_example():
    m = measure(data(np.random.default_rng(3), example_accuracy_first_step=0.95), n_boot=300)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["example_accuracy_first_step"]
    assert judge(PROTOCOL, m)[0] == "untestable"


def test_untestable_when_the_full_set_gives_no_gain():
    m = measure(data(np.random.default_rng(4), full=0.4, one=0.4), n_boot=300)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["full_gain_ci_low"]
    assert "full_gain_ci_low" in judge(PROTOCOL, m)[1]


def test_untestable_when_the_base_has_no_room():
    m = measure(data(np.random.default_rng(5), base=0.97, full=0.99, one=0.99), n_boot=300)
    assert "base_accuracy_high" in [g["name"] for g in m.gates if not g["passed"]]
    assert judge(PROTOCOL, m)[0] == "untestable"


def test_example_accuracy_reads_first_step_and_last_quarter():
    # run 1: 8 steps, last quarter = last 2 steps (0.9, 1.0) -> 0.95; run 2: 3 steps, last quarter = last step 1.0
    first, end, reached = example_accuracy([[0.5, 0.6, 0.7, 0.8, 0.85, 0.88, 0.9, 1.0], [0.3, 0.95, 1.0], []])
    assert first == (0.5 + 0.3) / 2 and abs(end - (0.95 + 1.0) / 2) < 1e-12
    assert reached == [7, 2]  # the RL step (1-based) where the accuracy first reached 0.9
    assert all(np.isnan(x) for x in example_accuracy([])[:2])
