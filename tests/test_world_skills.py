"""The second skill (multiplication by a one-digit constant) and its composition with the chain, and
self-correction traces: generation, rendering, parsing, labels, verification, mixtures, evaluation."""

import random

import pytest

from priorlab.evals.entropy import world_strategy
from priorlab.evals.world_eval import self_correction
from priorlab.world.corpus import documents
from priorlab.world.formats import LABEL_NAMES, Style, labels_of, order_of, parse, render
from priorlab.world.mixtures import MixtureError, mixture_from_dict
from priorlab.world.tasks import Difficulty, Problem, get_task, held_out_problems, parse_difficulties

TASK = get_task()


def body(text: str) -> str:
    return text.split("\n", 1)[1]


# ------------------------------------------------------------------ the second skill and composition
def test_difficulty_keys_round_trip_and_validate():
    for key in ("3x1", "m1x1", "m3x1", "m6x3", "2x2"):
        assert Difficulty.from_key(key).key == key
    assert Difficulty.from_key("m3x1") == Difficulty(3, 1, mul=True)
    for bad in ("m0x1", "1x1", "m7x1", "m3x4", "x3", "mm3x1", "3*1"):
        with pytest.raises(ValueError):
            Difficulty.from_key(bad)
    assert [d.key for d in parse_difficulties("3x1,m1x1,m3x1")] == ["3x1", "m1x1", "m3x1"]


def test_multiplication_and_composed_problems_by_hand():
    g = Problem((7, 4), ("*",), 1)
    assert (g.expr, g.answer, g.difficulty.key) == ("7*4", 28, "m1x1")
    fg = Problem((7, 4, 5, 9), ("*", "+", "-"), 1)
    assert (fg.expr, fg.answer, fg.difficulty.key) == ("7*4+5-9", 24, "m3x1")
    assert TASK.prompt(fg) == "Q: 7*4+5-9=?\n"
    assert Problem.from_expr("7*4+5-9") == fg and Problem.from_expr("7*4") == g
    assert Problem.from_expr("23*4+51").digits == 2  # the constant's one digit does not set D
    for bad in ("7+4*5", "7*4*5", "*4", "7*"):
        with pytest.raises(ValueError):
            Problem.from_expr(bad)


def test_renderings_of_a_composed_problem_by_hand():
    ops, operands = ("*", "+", "-"), (7, 4, 5, 9)
    assert render(operands, ops, Style("nl")) == "Think: 7*4=28. 28+5=33. 33-9=24.\nA: 24"
    assert render(operands, ops, Style("code")) == "Code: x=7; x*=4 #28; x+=5 #33; x-=9 #24;\nA: 24"
    assert render(operands, ops, Style("nl", coarse=True)) == "Think: 7*4+5=33. 33-9=24.\nA: 24"
    assert render(operands, ops, Style("direct", check=True)) == "Check: 7*4+5-9=24.\nA: 24"
    # the multiplication stays first under pos_first; then additions, then subtractions
    p = Problem((3, 2, 5, 4), ("*", "-", "+"), 1)
    assert render(p.operands, p.ops, Style("nl", order="pos_first")) == "Think: 3*2=6. 6+4=10. 10-5=5.\nA: 5"
    parsed = parse(render(p.operands, p.ops, Style("code", order="pos_first")))
    assert order_of(p.operands, p.ops, parsed) == "pos_first" and parsed.pairs == [("*", 2), ("+", 4), ("-", 5)]


def test_labels_of_a_multiplication_step_by_hand():
    text = "Code: x=7; x*=4 #28;\nA: 28"
    expected = "ppppp" + "o" + "oo" + "e" + "o" + "oo" + "ppp" + "o" + "eee" + "o" + "o" + "pp" + "o" + "ee"
    assert "".join(parse(text).labels) == expected
    step = "e" + "pp" + "eee" + "o"  # "7" "*4" "=28" "."
    assert "".join(parse("Think: 7*4=28.\nA: 28").labels) == "pppppp" + "o" + step + "o" + "pp" + "o" + "ee"


@pytest.mark.parametrize("key", ["m1x1", "m3x1", "m4x2", "m2x3"])
def test_generation_is_deterministic_split_and_every_rendering_verifies(key):
    d = Difficulty.from_key(key)
    a = [TASK.generate(random.Random(5), d, split="train") for _ in range(3)]
    assert a[0] == a[1] == a[2] and a[0].difficulty.key == d.key
    rng = random.Random(0)
    for _ in range(40):
        p = TASK.generate(rng, d, split="test")
        assert p.split == "test" and p.ops[0] == "*" and 2 <= p.operands[1] <= 9 and "*" not in p.ops[1:]
        assert p.difficulty.key == key and Problem.from_expr(p.expr, p.digits) == p
        for style in (Style("direct"), Style("nl"), Style("nl", coarse=True), Style("code", order="pos_first"),
                      Style("nl", check=True, conf=7), Style("code", correct_step=0, correct_delta=2)):
            text = render(p.operands, p.ops, style)
            v = TASK.verify(p, text)
            parsed = parse(text)
            assert v.correct and v.well_formed, (p.expr, text)
            assert len(parsed.labels) == len(text) and "u" not in parsed.labels
            assert render(p.operands, p.ops, style) == text  # parse(render(x)) round trip: same answer, same ops
            if style.format != "direct":
                assert sorted(parsed.pairs) == sorted(zip(p.ops, p.operands[1:]))
        wrong = render(p.operands, p.ops, Style("nl", corrupt_step=0, corrupt_delta=1))
        assert not TASK.verify(p, wrong).correct


def test_held_out_composed_problems_are_disjoint_from_the_chain_and_each_other():
    fg = held_out_problems(Difficulty.from_key("m3x1"), 50, 0)
    f = held_out_problems(Difficulty.from_key("3x1"), 50, 0)
    assert len({p.expr for p in fg}) == 50 and not {p.expr for p in fg} & {p.expr for p in f}


def test_a_mixture_chooses_whether_composed_problems_are_pretrained():
    raw = {"formats": {"nl": 1.0}, "documents": 3000}
    atomic = mixture_from_dict({**raw, "difficulty": {"3x1": 0.5, "m1x1": 0.5}})
    keys = {p.difficulty.key for p, _, _ in documents(atomic, 0)}
    assert keys == {"3x1", "m1x1"}
    composed = mixture_from_dict({**raw, "difficulty": {"3x1": 1, "m1x1": 1, "m3x1": 1}})
    assert {p.difficulty.key for p, _, _ in documents(composed, 0)} == {"3x1", "m1x1", "m3x1"}
    for bad in ({"m0x1": 1}, {"m3y1": 1}, {"m3x4": 1}):
        with pytest.raises(MixtureError, match="difficulty"):
            mixture_from_dict({**raw, "difficulty": bad})


@pytest.mark.parametrize("name,digest", [
    ("balanced", "b67c0879bd71f5b1f94cdf3531985eacb285033b6a0ea9b4b96ac7781bc76b47"),
    ("affinity", "d84d296e3f59c742a9bfdfa1b6814d9af7131c1a5c5cfa4d750fde3f316e0121"),
])
def test_chain_only_mixtures_draw_the_same_corpus_as_before(name, digest):
    # sha256 of the first 500 documents, computed with the code before the second skill and self-correction
    # existed (commit 81f526d): the new dials draw no random numbers when a mixture does not use them
    import hashlib

    from priorlab.world.mixtures import load_mixture

    text = "\n\n".join(t for _, _, t in documents(load_mixture(name), 0, n=500))
    assert hashlib.sha256(text.encode()).hexdigest() == digest


def test_strategy_of_a_composed_trace():
    p = Problem((3, 2, 5, 4), ("*", "-", "+"), 1)
    assert world_strategy(p, "Think: 3*2=6. 6-5=1. 1+4=5.\nA: 5") == "nl/ltr/fine/-"
    assert world_strategy(p, "Code: x=3; x*=2 #6; x+=4 #10; x-=5 #5;\nA: 5") == "code/pos_first/fine/-"


# ------------------------------------------------------------------------------ self-correction
def test_self_correction_renderings_by_hand():
    ops, operands = ("+", "-"), (3, 5, 2)
    nl = render(operands, ops, Style("nl", correct_step=0, correct_delta=1))
    assert nl == "Think: 3+5=9. Wait, 3+5=8. 8-2=6.\nA: 6"
    code = render(operands, ops, Style("code", correct_step=1, correct_delta=-2))
    assert code == "Code: x=3; x+=5 #8; x-=2 #4; Wait, x-=2 #6;\nA: 6"
    with pytest.raises(ValueError, match="self-correction"):
        Style("direct", correct_step=0, correct_delta=1)
    with pytest.raises(ValueError, match="self-correction"):
        Style("nl", correct_step=0, correct_delta=0)


def test_self_correction_parse_and_labels_by_hand():
    text = "Think: 3+5=9. Wait, 3+5=8. 8-2=6.\nA: 6"
    p = parse(text)
    assert p.well_formed and p.answer == 6 and p.n_corrections == 1 and p.n_steps == 2 and p.n_ops == 2
    assert p.pairs == [("+", 5), ("-", 2)]  # the corrected step replaces the wrong one
    step = lambda res: "e" + "pp" + "e" * (1 + len(res)) + "o"  # noqa: E731
    expected = ("pppppp" + "o" + step("9") + "o" + "ppppp" + "o" + step("8") + "o" + step("6")
                + "o" + "pp" + "o" + "e")
    assert "".join(p.labels) == expected
    code = parse("Code: x=3; x+=5 #9; Wait, x+=5 #8;\nA: 8")
    assert code.well_formed and code.n_corrections == 1 and code.pairs == [("+", 5)] and code.n_steps == 1
    assert "".join(code.labels[19:25]) == "oppppp"  # " Wait,"
    # a correction needs a step before it; a marker without a step after it is outside the grammar
    for bad in ("Think: Wait, 3+5=8.\nA: 8", "Think: 3+5=9. Wait,\nA: 8", "Code: x=3; Wait, x+=5 #8;\nA: 8",
                "Think: 3+5=9. Wait,3+5=8.\nA: 8"):
        q = parse(bad)
        assert not q.well_formed and q.n_corrections == 0, bad


def test_self_correction_labels_cover_random_mutations():
    rng = random.Random(1)
    base = render((3, 5, 2, 7), ("+", "-", "+"), Style("nl", correct_step=1, correct_delta=3, check=True))
    for _ in range(300):
        t = list(base)
        for _ in range(rng.randint(1, 3)):
            t[rng.randrange(len(t))] = rng.choice("0123456789+-*=. Wait,#x;\n")
        text = "".join(t)
        labels = labels_of(text)
        assert len(labels) == len(text) and set(labels) <= set(LABEL_NAMES.values())


def test_self_correction_rate_is_a_mixture_dial():
    raw = {"formats": {"nl": 0.5, "code": 0.3, "direct": 0.2}, "difficulty": {"3x1": 1}, "documents": 4000}
    assert all("Wait" not in t for _, _, t in documents(mixture_from_dict(raw), 0))
    mix = mixture_from_dict({**raw, "self_correct": 0.5})
    docs = list(documents(mix, 0))
    traced = [(p, t) for p, s, t in docs if s.format != "direct" and s.shortcut is None]
    rate = sum(parse(body(t)).n_corrections > 0 for _, t in traced) / len(traced)
    assert 0.45 < rate < 0.55
    for p, t in traced:  # no noise in this mixture: every document, self-corrected or not, is right
        v = TASK.verify(p, body(t))
        assert v.well_formed and v.correct, t
    assert [t for _, _, t in documents(mix, 0, n=50)] == [t for _, _, t in docs[:50]]  # deterministic
    with pytest.raises(MixtureError, match="self_correct"):
        mixture_from_dict({**raw, "self_correct": 1.5})


def test_self_correction_summary_by_hand():
    flat = [{"corrections": 1, "correct": True}, {"corrections": 0, "correct": False},
            {"corrections": 2, "correct": False}, {"corrections": 0, "correct": True}]
    s = self_correction(flat)
    assert s == {"rate": 0.5, "per_completion": 0.75, "accuracy_with": 0.5, "accuracy_without": 0.5}
    assert self_correction([{"corrections": 0, "correct": True}])["accuracy_with"] is None


def test_rate_recipes_and_the_skills_presets():
    from priorlab.world.mixtures import load_mixture

    base = load_mixture("skills")
    derived = load_mixture("skills@self_correct=0.25")
    assert derived.self_correct == 0.25 and derived.name == "skills@self_correct=0.25"
    assert derived.formats == base.formats and derived.difficulty == base.difficulty
    assert load_mixture("skills@check=0.0").check == 0.0
    with pytest.raises(MixtureError, match="self_correct"):
        load_mixture("skills@self_correct=2")
    with pytest.raises(MixtureError, match="rate"):
        load_mixture("skills@bogus=0.5")
    # the skills prior has both atomic skills and no composition; its control lacks the multiplication
    assert "m1x1" in base.difficulty and not any(k.startswith("m") and k != "m1x1" for k in base.difficulty)
    control = load_mixture("skills-chain")
    assert not any(k.startswith("m") for k in control.difficulty)
    assert control.formats == base.formats and control.documents == base.documents
