import itertools
import random

import pytest

from priorlab.world.formats import FORMATS, ORDERS, Style
from priorlab.world.tasks import ArithmeticTask, Difficulty, Problem, get_task

TASK = ArithmeticTask()


def _problems(n=60, seed=0):
    rng = random.Random(seed)
    return [TASK.generate(rng, Difficulty(rng.randint(2, 6), rng.randint(1, 3)), split=rng.choice(["train", "test"]))
            for _ in range(n)]


def test_problem_answer_and_prompt():
    p = Problem((23, 45, 17), ("+", "-"), 2)
    assert p.expr == "23+45-17" and p.answer == 51  # 23+45=68, 68-17=51
    assert TASK.prompt(p) == "Q: 23+45-17=?\n"
    assert Problem.from_expr("23+45-17") == p


def test_verify_accepts_every_gold_rendering():
    for p in _problems():
        for fmt, order, coarse, check, conf in itertools.product(FORMATS, ORDERS, (False, True), (False, True), (None, 0, 7, 10)):
            text = TASK.render(p, Style(fmt, order=order, coarse=coarse, check=check, conf=conf))
            v = TASK.verify(p, text)
            assert v.correct and v.well_formed and v.format == fmt and v.answer == p.answer, text
            assert v.confidence == (None if conf is None else conf / 10)


def test_verify_rejects_every_corrupted_rendering():
    for p in _problems():
        for fmt, delta in itertools.product(FORMATS, (-3, -1, 1, 2)):
            n_steps = len(p.operands) - 1
            for step in range(n_steps if fmt != "direct" else 1):
                text = TASK.render(p, Style(fmt, corrupt_step=step, corrupt_delta=delta))
                v = TASK.verify(p, text)
                assert v.well_formed and not v.correct and v.answer == p.answer + delta, text


def test_sign_drop_misconception_is_systematic():
    p = Problem((3, 5, 2), ("-", "+"))  # 3-5 = -2 -> written 2; 2+2 = 4 instead of 0
    text = TASK.render(p, Style("nl", misconception="sign-drop"))
    assert text == "Think: 3-5=2. 2+2=4.\nA: 4"
    assert not TASK.verify(p, text).correct
    q = Problem((5, 3, 2), ("-", "+"))  # no negative intermediate: the rule does not fire
    assert TASK.verify(q, TASK.render(q, Style("nl", misconception="sign-drop"))).correct


def test_shortcuts_render_wrong_or_copied_answers():
    p = Problem((3, 5, 2), ("+", "+"))
    assert TASK.render(p, Style("nl", shortcut="operand")) == "A: 2"
    assert TASK.render(p, Style("code", shortcut="skip")) == "Code: x=3; x+=5 #8;\nA: 8"


def test_planning_choices_change_path_not_answer():
    p = Problem((3, 5, 7, 2), ("-", "+", "-"))
    ltr = TASK.render(p, Style("nl"))
    pos = TASK.render(p, Style("nl", order="pos_first"))
    coarse = TASK.render(p, Style("nl", coarse=True))
    assert ltr == "Think: 3-5=-2. -2+7=5. 5-2=3.\nA: 3"
    assert pos == "Think: 3+7=10. 10-5=5. 5-2=3.\nA: 3"
    assert coarse == "Think: 3-5+7=5. 5-2=3.\nA: 3"


def test_splits_are_disjoint_and_stable():
    rng = random.Random(1)
    d = Difficulty(3, 1)
    train = {TASK.generate(rng, d, "train").expr for _ in range(3000)}
    test = {TASK.generate(rng, d, "test").expr for _ in range(500)}
    assert train and test and not train & test
    assert all(Problem.from_expr(e).split == "test" for e in test)


def test_generation_is_seeded():
    a = [TASK.generate(random.Random(5), Difficulty(4, 2)) for _ in range(3)]
    b = [TASK.generate(random.Random(5), Difficulty(4, 2)) for _ in range(3)]
    assert a == b and all(10 <= x <= 99 for x in a[0].operands)


@pytest.mark.parametrize("bad", [dict(n_operands=1), dict(n_operands=7), dict(digits=4), dict(ops="*")])
def test_difficulty_validation(bad):
    with pytest.raises(ValueError):
        Difficulty(**bad)


def test_unknown_task_and_split():
    with pytest.raises(ValueError, match="unknown task"):
        get_task("chess")
    with pytest.raises(ValueError, match="split"):
        TASK.generate(random.Random(0), Difficulty(), split="val")
