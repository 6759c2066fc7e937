import numpy as np
import pytest

from priorlab.claims.distillation_expands import PROTOCOL, Data, format_stats, measure
from priorlab.claims.protocol import judge
from priorlab.evals.snapshot import FORMAT_CODES


def counts(rng, easy, hard, n=128, b=2, a=2, p=200):
    """Correct samples of n per problem [a, b, p]: the first half of the problems solved with probability
    `easy` per sample, the second half with `hard`."""
    probs = np.where(np.arange(p) < p // 2, easy, hard)
    return rng.binomial(n, np.broadcast_to(probs, (a, b, p)))


def data(rng, distilled=(0.7, 0.1), rl=(0.6, 0.0), student=(0.3, 0.005), **kw):
    d = dict(student=counts(rng, *student, b=1), distilled=counts(rng, *distilled), rl=counts(rng, *rl), n=128,
             code_share=0.97, code_accuracy=0.8)
    return Data(**{**d, **kw})


def test_format_stats_by_hand():
    code, nl = FORMAT_CODES.index("code"), FORMAT_CODES.index("nl")
    a = {"format": np.array([[code, code], [nl, code]]), "correct": np.array([[True, False], [True, True]])}
    b = {"format": np.array([[nl, nl]]), "correct": np.array([[False, False]])}
    # 3 of 6 samples are code; 2 of those 3 are right
    assert format_stats([a, b]) == (0.5, pytest.approx(2 / 3))
    share, acc = format_stats([b])
    assert share == 0.0 and np.isnan(acc)


def test_measure_reproduced_when_the_distilled_student_covers_more():
    # student: pass@128 on the hard half 1 - .995^128 ~ .47 (mean ~ .74 <= .95 -> K* = 128);
    # distilled: hard .1 -> ~1; RL: hard 0 -> 0; the easy halves are 1 -> effect ~ +.5
    m = measure(data(np.random.default_rng(0)), n_boot=300)
    assert all(g["passed"] for g in m.gates) and m.metrics["k_compared"] == 128
    assert abs(m.effect["estimate"] - 0.5) < 0.05
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_measure_not_reproduced_when_the_distilled_student_covers_no_more_than_rl():
    m = measure(data(np.random.default_rng(1), distilled=(0.6, 0.0), rl=(0.6, 0.01)), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert m.effect["ci_high"] <= 0.05
    assert judge(PROTOCOL, m)[0] == "not reproduced"


@pytest.mark.parametrize("kw, gate, value", [
    (dict(code_share=0.4), "code_share", "0.4"),  # the student did not take up the teacher's format
    (dict(code_accuracy=0.2), "code_accuracy", "0.2"),  # the format without the arithmetic
    (dict(code_share=0.0, code_accuracy=float("nan")), "code_accuracy", "not measured"),
    (dict(student=(0.99, 0.99)), "student_room", None),
])
def test_measure_untestable_names_the_failed_gate(kw, gate, value):
    m = measure(data(np.random.default_rng(2), **kw), n_boot=100)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and f"gate {gate}:" in reason
    assert value is None or f"measured {value}" in reason
