import pytest

from priorlab.world.classes import classes_of, in_class
from priorlab.world.corpus import correct_probability, documents
from priorlab.world.formats import Style, parse, render
from priorlab.world.mixtures import MixtureError, load_mixture, mixture_from_dict
from priorlab.world.tasks import Problem, get_task


def test_classes_by_hand():
    assert classes_of(Problem.from_expr("3-5+4")) == ("negative-intermediate",)  # 3-5 = -2
    assert classes_of(Problem.from_expr("4+2-4")) == ("repeated-operand",)
    assert classes_of(Problem.from_expr("3-5+3")) == ("negative-intermediate", "repeated-operand")
    assert classes_of(Problem.from_expr("9-5+1")) == ()
    assert not in_class(Problem.from_expr("5-5"), "negative-intermediate")  # 0 is not below 0
    with pytest.raises(ValueError, match="valid"):
        in_class(Problem.from_expr("1+2"), "odd")


@pytest.mark.parametrize("fmt", ["nl", "code", "direct"])
def test_class_error_makes_the_answer_off_by_one_and_round_trips(fmt):
    p = Problem.from_expr("4+2-4")
    text = render(p.operands, p.ops, Style(fmt, class_error=True))
    parsed = parse(text)
    assert parsed.well_formed and parsed.format == fmt and parsed.answer == p.answer + 1
    assert len(parsed.labels) == len(text) and "u" not in parsed.labels
    assert not get_task().verify(p, text).correct


def test_mixture_validates_fails_on():
    base = {"formats": {"code": {"share": 1.0, "fails_on": "repeated-operand"}}}
    assert mixture_from_dict(base).formats["code"].fails_on == "repeated-operand"
    with pytest.raises(MixtureError, match="formats.code.fails_on"):
        mixture_from_dict({"formats": {"code": {"share": 1.0, "fails_on": "odd"}}})
    with pytest.raises(MixtureError, match="fails_on_rate"):
        mixture_from_dict({"formats": {"code": {"share": 1.0, "fails_on": "repeated-operand", "fails_on_rate": 2}}})


def test_affinity_corpus_fails_exactly_on_the_class_of_each_format():
    mix = load_mixture("affinity")
    task, seen = get_task(), {("code", True): [], ("code", False): [], ("nl", True): [], ("nl", False): []}
    for p, style, text in documents(mix, seed=1, n=3000):
        if style.format == "code" and style.shortcut is None and style.corrupt_step is None:
            seen[("code", in_class(p, "repeated-operand"))].append(task.verify(p, text.split("\n", 1)[1]).correct)
        if style.format == "nl" and style.shortcut is None and style.corrupt_step is None:
            seen[("nl", in_class(p, "negative-intermediate"))].append(task.verify(p, text.split("\n", 1)[1]).correct)
    assert all(len(v) > 20 for v in seen.values())
    assert not any(seen[("code", True)]) and all(seen[("code", False)])
    # nl's sign-drop acts on its own trace order (pos_first may avoid the negative value), so most, not all
    assert sum(seen[("nl", True)]) / len(seen[("nl", True)]) < 0.5 and all(seen[("nl", False)])


def test_correct_probability_with_affinity_by_hand():
    mix = mixture_from_dict({"formats": {"code": {"share": 1.0, "corrupt": 0.2, "fails_on": "repeated-operand",
                                                  "fails_on_rate": 0.5}}})
    assert correct_probability(Problem.from_expr("4+2-4"), "code", mix) == pytest.approx(0.8 * 0.5)
    assert correct_probability(Problem.from_expr("4+2-3"), "code", mix) == pytest.approx(0.8)


def test_mixtures_without_affinity_draw_the_same_documents():
    """The affinity draw happens only where a rule applies, so adding `fails_on: null` changes nothing."""
    raw = {"formats": {"code": {"share": 0.5}, "nl": {"share": 0.5, "corrupt": 0.1}}, "difficulty": {"3x1": 1.0},
           "documents": 300}
    a = [t for _, _, t in documents(mixture_from_dict(raw), seed=0)]
    raw["formats"]["code"]["fails_on"] = None
    assert a == [t for _, _, t in documents(mixture_from_dict(raw), seed=0)]


def test_order_of_recovers_the_planning_choice_and_it_changes_correctness_under_sign_drop():
    from priorlab.world.formats import order_of

    p = Problem.from_expr("3-5+4")  # left to right passes through -2; adding first does not
    got = {}
    for order in ("ltr", "pos_first"):
        for fmt in ("nl", "code"):
            text = render(p.operands, p.ops, Style(fmt, order=order, misconception="sign-drop"))
            assert order_of(p.operands, p.ops, parse(text)) == order
            got[(order, fmt)] = get_task().verify(p, text).correct
    assert got == {("ltr", "nl"): False, ("ltr", "code"): False, ("pos_first", "nl"): True, ("pos_first", "code"): True}
    q = Problem.from_expr("3+5-4")  # both orders write the same trace
    assert order_of(q.operands, q.ops, parse(render(q.operands, q.ops, Style("nl")))) == "either"
    assert order_of(q.operands, q.ops, parse("A: 4")) is None
