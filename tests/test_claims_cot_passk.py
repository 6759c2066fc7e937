import numpy as np
import pytest

from priorlab.claims.cot_passk import PROTOCOL, Data, measure
from priorlab.claims.protocol import judge
from priorlab.world.formats import Style, parse, render, steps_correct

N = 256


@pytest.mark.parametrize("text,ok", [
    ("Think: 3+5=8. 8-2=6.\nA: 6", True),
    ("Code: x=3; x+=5 #8; x-=2 #6;\nA: 6", True),
    ("Think: 3-2=1. 1+5=6.\nA: 6", True),  # subtraction first: the operations commute from the start value
    ("Think: 3+5-2=6.\nA: 6", True),  # a coarse step
    ("A: 6", True),  # a direct answer has no step to be wrong
    ("Think: 3+5=9. 9-2=6.\nA: 6", False),  # right answer, wrong step (a lucky answer)
    ("Think: 3+5=8. 7-1=6.\nA: 6", False),  # a step that does not start where the last ended
    ("Think: 3+5=8. 8-1=7.\nA: 7", False),  # not the problem's operations
    ("Think: 3+5=8.\nA: 6", False),  # an operation left out
    ("Code: x=3; x+=5 #8; x-=2 #6;\nA: 5", False),  # the answer is not the last result
    ("Think: 3+5=9. Wait, 3+5=8. 8-2=6.\nA: 6", True),  # the corrected step replaces the wrong one
    ("Code: x=3; x+=5 #9; Wait, x+=5 #8; x-=2 #6;\nA: 6", True),
    ("Think: 3+5=8. 8-2=6.\nA: 6\n", False),  # not well formed
])
def test_steps_correct_by_hand(text, ok):
    assert steps_correct((3, 5, 2), ("+", "-"), parse(text)) is ok


def test_steps_correct_with_a_multiplication():
    ops, operands = ("*", "+"), (7, 4, 5)
    assert steps_correct(operands, ops, parse("Think: 7*4=28. 28+5=33.\nA: 33"))
    assert not steps_correct(operands, ops, parse("Think: 7+5=12. 12*4=48.\nA: 33"))
    for style in (Style("nl"), Style("code", order="pos_first"), Style("nl", coarse=True)):
        assert steps_correct(operands, ops, parse(render(operands, ops, style)))
    assert not steps_correct(operands, ops, parse(render(operands, ops, Style("nl", corrupt_step=0, corrupt_delta=1))))


def counts(rng, p, b=2, P=100):
    return rng.binomial(N, np.full((2, b, P), p))


def data(rng, base=0.05, rl=0.3, flawed_base=0.3, flawed_rl=0.0):
    """Answers right with probability p per sample; a share `flawed` of the right ones have a wrong step.
    Two problem halves: the base's pass@K* is below 1 only through the hard half (rate 0)."""
    def arm(p, flawed, b):
        right = np.concatenate([counts(rng, p, b, 50), np.zeros((2, b, 50), dtype=np.int64)], axis=2)
        cot = rng.binomial(right, 1 - flawed)
        return right, cot
    (b, bc), (r, rc) = arm(base, flawed_base, 1), arm(rl, flawed_rl, 2)
    return Data(b, r, bc, rc, N)


def test_reproduced_when_rl_keeps_its_cot_advantage_at_k_star():
    # the hard half is never solved, so K* is large; base flawed 30% vs RL 0%: at K* the CoT curves differ
    # only through the problems whose right answers are rare and flawed in the base
    rng = np.random.default_rng(0)
    right = np.concatenate([rng.binomial(N, np.full((2, 1, 50), 0.004)), np.zeros((2, 1, 50), dtype=np.int64)], axis=2)
    base_cot = np.zeros_like(right)  # every right answer of the base came through a wrong step
    rl = np.concatenate([rng.binomial(N, np.full((2, 2, 50), 0.2)), np.zeros((2, 2, 50), dtype=np.int64)], axis=2)
    m = measure(Data(right, rl, base_cot, rl, N), n_boot=300)
    assert all(g["passed"] for g in m.gates), m.gates
    assert m.metrics["flawed_share"]["base"] == 1.0 and m.effect["ci_low"] > 0.3
    assert judge(PROTOCOL, m)[0] == "reproduced"


def test_not_reproduced_when_the_base_cot_coverage_is_higher():
    m = measure(data(np.random.default_rng(1), base=0.2, rl=0.2, flawed_base=0.05, flawed_rl=0.9), n_boot=300)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["rl_pass1_gain"]  # RL did not sharpen here
    m = measure(data(np.random.default_rng(1), base=0.05, rl=0.3, flawed_base=0.05, flawed_rl=0.999), n_boot=300)
    assert all(g["passed"] for g in m.gates)
    assert m.effect["estimate"] < 0 and judge(PROTOCOL, m)[0] == "not reproduced"


def test_untestable_when_the_base_has_no_flawed_right_answers_or_k_is_small():
    m = measure(data(np.random.default_rng(2), flawed_base=0.0), n_boot=200)
    assert [g["name"] for g in m.gates if not g["passed"]] == ["base_flawed_share"]
    small = data(np.random.default_rng(3))
    m = measure(Data(small.base // 2, small.rl // 2, small.base_cot // 2, small.rl_cot // 2, 128), n_boot=200)
    assert "k_max" in [g["name"] for g in m.gates if not g["passed"]]
    assert judge(PROTOCOL, m)[0] == "untestable"
