from priorlab.evals.shortcuts import detect, operand_answer_share, shortcut_rates
from priorlab.world.formats import parse
from priorlab.world.tasks import Problem

P = Problem((3, 5, 2), ("+", "-"))  # answer 6


def flags(text, finished=True):
    return detect(P, parse(text), finished)


def test_each_detector_on_crafted_texts():
    assert flags("A: 5")["operand_repeat"]  # wrong and copies the operand 5
    assert not flags("A: 6")["operand_repeat"]  # 6 is not an operand
    assert flags("Think: 3+5=8.\nA: 8")["skipped_step"]  # 1 of the 2 operations written
    assert not flags("Think: 3+5=8. 8-2=6.\nA: 6")["skipped_step"]
    assert not flags("A: 7")["skipped_step"]  # direct answers have no steps to skip
    assert flags("A: 6\nA: 6")["answer_repeated"]
    assert flags("Think: 3+5=8. 8-", finished=False)["truncated"]
    clean = flags("Code: x=3; x+=5 #8; x-=2 #6;\nA: 6")
    assert not clean["any"]


def test_rates_average_the_flags():
    rates = shortcut_rates([flags("A: 5"), flags("A: 6"), flags("A: 6\nA: 6"), flags("A: 6")])
    assert rates["operand_repeat"] == 0.25 and rates["answer_repeated"] == 0.25 and rates["any"] == 0.5


def test_operand_copies_count_whether_they_succeed_or_fail():
    q = Problem((3, 5, 5), ("+", "-"))  # answer 3 = the first operand
    assert detect(q, parse("A: 3"))["operand_repeat"]  # right, but nothing computed it: a successful copy
    assert detect(q, parse("A: 5"))["operand_repeat"]  # wrong copy
    assert not detect(q, parse("Think: 3+5=8. 8-5=3.\nA: 3"))["operand_repeat"]  # a full trace computed it
    assert detect(q, parse("Think: 3+5=8.\nA: 3"))["operand_repeat"]  # half a trace, then the operand
    assert operand_answer_share([P, q]) == 0.5
