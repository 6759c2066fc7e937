import numpy as np
import pytest

from priorlab.claims.distillation_expands import HOLE, PROTOCOL, STUDENT, Data, format_stats, hole_mask, measure
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
    (dict(rl=(0.3, 0.005)), "rl_pass1_gain", None),  # RL left the student where it was
])
def test_measure_untestable_names_the_failed_gate(kw, gate, value):
    m = measure(data(np.random.default_rng(2), **kw), n_boot=100)
    verdict, reason = judge(PROTOCOL, m)
    assert verdict == "untestable" and f"gate {gate}:" in reason
    assert value is None or f"measured {value}" in reason


def test_hole_mask_by_hand():
    # 3-5+4: 3-5 = -2 (negative intermediate); 4+2-4 never goes below 0; 2-2: 0 is not below 0; 1+2-5: final -2
    assert hole_mask(["3-5+4", "4+2-4", "2-2", "1+2-5"]).tolist() == [True, False, False, True]
    assert HOLE == "negative-intermediate"


def test_measure_reports_pass_at_k_star_inside_and_outside_the_hole():
    n = 4
    # two problems, the first in the hole; one prior seed, one RL seed. The student's pass@4 is 0 on problem 1
    # and 1 on problem 2, mean 0.5 <= .95, so K* = 4 (the largest k of n = 4)
    student = np.array([[[0, 2]]])
    distilled = np.array([[[3, 4]]])
    rl = np.array([[[0, 4]]])
    d = Data(student, distilled, rl, n, code_share=1.0, code_accuracy=0.9, hole=np.array([True, False]))
    m = measure(d, n_boot=50)
    assert m.metrics["k_compared"] == 4 and m.metrics["hole_share"] == 0.5
    # pass@4 with n = 4 is 1 when any sample is right, else 0
    assert m.metrics[f"pass@4 student on {HOLE}"] == 0.0
    assert m.metrics["pass@4 student on other problems"] == 1.0
    assert m.metrics[f"pass@4 distilled on {HOLE}"] == 1.0
    assert m.metrics[f"pass@4 RL on {HOLE}"] == 0.0
    # RL's pass@1 gain: (0 + 4) / 8 - (0 + 2) / 8 = 0.25
    gain = next(g for g in m.gates if g["name"] == "rl_pass1_gain")
    assert gain["value"] == pytest.approx(0.25)


def test_the_student_is_the_affinity_world_without_code():
    from priorlab.world.corpus import documents
    from priorlab.world.mixtures import load_mixture

    mix, base = load_mixture(STUDENT), load_mixture("affinity")
    assert mix.formats["code"].share == 0.0
    nl = mix.formats["nl"]
    assert (nl.misconception, nl.misconception_rate) == ("sign-drop", 1.0)  # every negative intermediate dropped
    # the others keep their ratio: nl 0.6 : direct 0.1
    assert mix.formats["nl"].share / mix.formats["direct"].share == pytest.approx(6.0)
    assert mix.difficulty == base.difficulty
    docs = [text for _, _, text in documents(mix, seed=0, n=2000)]
    assert not any("Code:" in d for d in docs) and sum("Think:" in d for d in docs) > 1500
