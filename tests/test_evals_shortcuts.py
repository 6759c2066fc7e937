from priorlab.evals.shortcuts import detect, shortcut_rates
from priorlab.world.formats import parse
from priorlab.world.tasks import Problem

P = Problem((3, 5, 2), ("+", "-"))  # answer 6


def flags(text, finished=True):
    return detect(P, parse(text), finished)


def test_each_detector_on_crafted_texts():
    assert flags("A: 5")["operand_repeat"]  # wrong and copies the operand 5
    assert not flags("A: 6")["operand_repeat"]  # right answers never count, even if they equal an operand
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
