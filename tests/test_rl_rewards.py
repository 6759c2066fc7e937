"""Tests for priorlab.rl.rewards: each reward on crafted completions, values worked out by hand next to the
assertions, plus the spec parser's errors."""

import pytest

from priorlab.rl.envs import WorldEnv, eligible_problems, incorrect_labels, score_group
from priorlab.rl.rewards import (
    BRIER_MISSING,
    REWARDS,
    RewardOutput,
    RewardSpec,
    majority_answer,
    make_reward,
    parse_spec,
    penalty_names,
    reward_names,
)
from priorlab.world.tasks import Problem

P = Problem((3, 5, 2), ("+", "-"))  # 3+5-2 = 6
RIGHT = "Think: 3+5=8. 8-2=6.\nA: 6"  # well-formed, correct
WRONG = "A: 5"  # well-formed (direct), wrong
GARBAGE = "garbage"  # no answer, not well-formed
RIGHT_C7 = "Think: 3+5=8. 8-2=6.\nConf: 7\nA: 6"
WRONG_C7 = "Conf: 7\nA: 5"
RIGHT_BROKEN_C7 = "Think: 3+5=8 oops\nConf: 7\nA: 6"  # answer right, confidence parsed, body not well-formed
TEXTS = [RIGHT, WRONG, GARBAGE, RIGHT_C7, WRONG_C7, RIGHT_BROKEN_C7]
TRUTH = [True, False, False, True, False, True]
WELL_FORMED = [1.0, 1.0, 0.0, 1.0, 1.0, 0.0]


def score(spec, texts=TEXTS, problem=P, step=0, prompt_index=0, labels=None, **kw):
    return score_group(make_reward(spec, **kw), WorldEnv(labels=labels), problem, texts, step=step,
                       prompt_index=prompt_index)


def group(r, problem, texts, step, prompt_index):
    return score_group(r, WorldEnv(), problem, texts, step=step, prompt_index=prompt_index)


def scores(spec, texts=TEXTS, **kw):
    return [o.score for o in score(spec, texts, **kw)]


def test_correct_reward_is_verify():
    assert scores("correct") == [1.0, 0.0, 0.0, 1.0, 0.0, 1.0]  # correctness ignores well-formedness


def test_format_reward_ignores_correctness():
    assert scores("format") == WELL_FORMED  # WRONG and WRONG_C7 are well-formed and get 1


@pytest.mark.parametrize("spec", ["correct", "random:0.5", "format", "majority", "brier", "correct+length:0.1",
                                  "incorrect"])
def test_shadow_correctness_logged_for_every_reward(spec):
    labels = {P.expr: 5} if spec == "incorrect" else None
    outs = score(spec, labels=labels)
    assert all(isinstance(o, RewardOutput) for o in outs) and len(outs) == len(TEXTS)
    assert [o.correct for o in outs] == TRUTH
    assert [o.components["correct"] for o in outs] == [float(t) for t in TRUTH]
    assert [o.components["format_ok"] for o in outs] == WELL_FORMED
    base = spec.split(":")[0].split("+")[0]
    for o in outs:  # score = base value + penalties
        pens = sum(v for k, v in o.components.items() if k.endswith("_penalty"))
        assert o.score == pytest.approx(o.components[base] + pens)


def test_every_registered_reward_is_covered_above():
    assert reward_names() == list(REWARDS) == ["correct", "random", "incorrect", "format", "majority", "brier"]
    assert penalty_names() == ["length", "malformed"]


# ------------------------------------------------------------------------------------------ random


def test_random_reward_reproducible_and_independent_of_text_and_group_size():
    r = make_reward("random:0.5", seed=3)
    a = [o.score for o in group(r, P, ["x"] * 16, step=4, prompt_index=2)]
    b = [o.score for o in group(r, Problem((1, 1), ("+",)), [RIGHT] * 16, step=4, prompt_index=2)]
    assert a == b  # same (seed, step, prompt, sample): same draw, whatever the text or the problem
    c = [o.score for o in group(r, P, ["y"] * 5, step=4, prompt_index=2)]
    assert c == a[:5]  # sample i's draw does not depend on how many samples the group has
    d = [o.score for o in group(make_reward("random:0.5", seed=4), P, ["x"] * 16, step=4, prompt_index=2)]
    e = [o.score for o in group(r, P, ["x"] * 16, step=5, prompt_index=2)]
    f = [o.score for o in group(r, P, ["x"] * 16, step=4, prompt_index=3)]
    assert a != d and a != e and a != f  # 2^-16 chance each of a false failure, fixed by the seeds


@pytest.mark.parametrize("p", [0.0, 0.3, 0.5, 1.0])
def test_random_reward_mean_is_p(p):
    r = make_reward(f"random:{p}", seed=1)
    vals = [o.score for k in range(50) for o in group(r, P, [GARBAGE] * 40, step=k, prompt_index=k % 7)]
    # 2000 Bernoulli(p) draws: std of the mean <= sqrt(.25/2000) = .011; allow 4 std
    assert sum(vals) / len(vals) == pytest.approx(p, abs=0.045)
    if p in (0.0, 1.0):
        assert set(vals) == {p}  # u < 0 never, u < 1 always (u in [0, 1))


def test_random_default_p_is_half_and_canonical_name():
    assert make_reward("random").name == "random:0.5"
    assert make_reward(" correct + length:0.001 + malformed:1 ").name == "correct+length:0.001+malformed:1.0"


# --------------------------------------------------------------------------------------- incorrect


def test_incorrect_labels_from_answer_table():
    probs = [P, Problem((4, 4), ("+",)), Problem((9, 1), ("-",)), Problem((2, 2), ("-",)), Problem((7, 1), ("+",))]
    answers = [
        [5, 5, 6, None],  # 3+5-2=6; majority 5 (2 votes; None casts none): wrong -> label 5
        [8, 8, 7],  # 4+4=8; majority 8 is right -> ineligible
        [None, None],  # no parsed answer -> ineligible
        [1, 3, 3, 1],  # 2-2=0; tie 1 vs 3, 1 seen first -> label 1
        [8, 9, 9, 8, 8],  # 7+1=8; majority 8 right, although 9 is a strong wrong answer -> ineligible
    ]
    labels = incorrect_labels(probs, answers)
    assert labels == {"3+5-2": 5, "2-2": 1}
    assert eligible_problems(probs, labels) == [probs[0], probs[3]]
    with pytest.raises(ValueError, match="length"):
        incorrect_labels(probs, answers[:2])


def test_incorrect_reward_rewards_the_wrong_label_only():
    outs = score("incorrect", labels={"3+5-2": 5})
    assert [o.score for o in outs] == [0.0, 1.0, 0.0, 0.0, 1.0, 0.0]  # the two texts answering 5
    assert [o.correct for o in outs] == TRUTH  # shadow stays the truth


def test_incorrect_reward_refuses_an_ineligible_problem():
    with pytest.raises(ValueError, match="no incorrect label.*eligible_problems"):
        score("incorrect", labels={"4+4": 7})


# ---------------------------------------------------------------------------------------- majority


def test_majority_answer_tie_rule():
    assert majority_answer([7, 5, 5, 7]) == 7  # tie 2-2: first seen wins
    assert majority_answer([None, 5, 7, 7, 5, 3]) == 5  # tie 2-2 after None is dropped: 5 seen first
    assert majority_answer([None, None]) is None
    assert majority_answer([]) is None


def test_majority_reward_on_group_with_tie():
    # answers [5, 6, 5, 6, None]: tie 5 vs 6 -> 5 (seen first), which is wrong
    texts = [WRONG, RIGHT, WRONG_C7, RIGHT_C7, GARBAGE]
    outs = score("majority", texts)
    assert [o.score for o in outs] == [1.0, 0.0, 1.0, 0.0, 0.0]
    assert [o.correct for o in outs] == [False, True, False, True, False]
    assert outs[0].components["label_correct"] == 0.0
    assert outs[0].components["majority_ratio"] == pytest.approx(2 / 5)


def test_majority_reward_right_label_one_sample_and_no_answer():
    outs = score("majority", [RIGHT, RIGHT_C7, WRONG])  # 6 wins 2-1
    assert [o.score for o in outs] == [1.0, 1.0, 0.0]
    assert outs[2].components["label_correct"] == 1.0 and outs[2].components["majority_ratio"] == pytest.approx(2 / 3)
    assert scores("majority", [WRONG]) == [1.0]  # a group of one is its own majority
    none = score("majority", [GARBAGE, GARBAGE])
    assert [o.score for o in none] == [0.0, 0.0] and none[0].components["majority_ratio"] == 0.0


# ------------------------------------------------------------------------------------------- brier


def test_brier_by_hand():
    outs = score("brier")
    # RIGHT, WRONG, GARBAGE: no confidence -> BRIER_MISSING
    # RIGHT_C7: 1 - (.7 - 1)^2 = 1 - .09 = .91; WRONG_C7: 0 - (.7 - 0)^2 = -.49
    # RIGHT_BROKEN_C7: confidence parsed but not well-formed -> missing, as RLCR's format gate
    expected = [BRIER_MISSING, BRIER_MISSING, BRIER_MISSING, 0.91, -0.49, BRIER_MISSING]
    assert [o.score for o in outs] == pytest.approx(expected)
    assert BRIER_MISSING == -2.0  # RLCR code total 0 = 1 + R/2
    assert outs[3].components["confidence"] == pytest.approx(0.7)
    assert outs[3].components["sq_error"] == pytest.approx(0.09)
    assert [o.components["conf_ok"] for o in outs] == [0.0, 0.0, 0.0, 1.0, 1.0, 0.0]
    assert "confidence" not in outs[0].components


def test_brier_missing_is_worse_than_any_stated_confidence():
    worst = min(c - (q / 10 - c) ** 2 for c in (0, 1) for q in range(11))  # wrong at conf 1: 0 - 1 = -1
    assert worst == -1 and BRIER_MISSING < worst
    assert scores("brier", ["Conf: 10\nA: 5", "Conf: 0\nA: 5", "Conf: 10\nA: 6"]) == pytest.approx([-1.0, 0.0, 1.0])


# --------------------------------------------------------------------------------------- penalties


def test_penalties_compose():
    outs = score("correct+length:0.01+malformed:0.5", [RIGHT, WRONG, GARBAGE])
    # RIGHT: 1 - .01*25 = .75;  WRONG: 0 - .01*4 = -.04;  GARBAGE: 0 - .01*7 - .5 = -.57
    assert len(RIGHT) == 25 and len(WRONG) == 4 and len(GARBAGE) == 7
    assert [o.score for o in outs] == pytest.approx([0.75, -0.04, -0.57])
    assert outs[2].components["length_penalty"] == pytest.approx(-0.07)
    assert outs[2].components["malformed_penalty"] == -0.5 and outs[0].components["malformed_penalty"] == 0.0
    # a penalty on a spurious reward: format penalty does not change the random draw
    r = [o.score for o in score("random:0.5+malformed:1", [GARBAGE, RIGHT], seed=2)]
    base = [o.score for o in score("random:0.5", [GARBAGE, RIGHT], seed=2)]
    assert r == [base[0] - 1.0, base[1]]


def test_zero_coefficient_penalty_is_neutral():
    assert scores("brier+length:0") == scores("brier")


# ------------------------------------------------------------------------------------------ errors


@pytest.mark.parametrize(
    "spec, match",
    [
        ("bogus", ("unknown reward 'bogus'.*valid rewards: correct, random, incorrect, format, majority, brier; "
                   "penalties: length, malformed")),
        ("correct+lenght:0.1", "unknown reward 'lenght'.*valid rewards"),
        ("", "empty term"),
        ("correct+", "empty term"),
        ("random:1.5", r"random reward p=1.5 must be in \[0, 1\]"),
        ("random:-0.1", r"random reward p=-0.1 must be in \[0, 1\]"),
        ("random:abc", "random reward p 'abc' is not a number"),
        ("random:nan", "must be finite"),
        ("correct+length:-0.001", "length penalty coefficient -0.001 must be >= 0"),
        ("correct+malformed:-1", "malformed penalty coefficient -1.0 must be >= 0"),
        ("correct+length", "penalty 'length' needs a coefficient"),
        ("correct:1", "reward 'correct' takes no argument"),
        ("length:0.1", "must start with a base reward"),
        ("correct+format", "more than one base reward"),
        ("correct+length:1+length:2", "penalty 'length' appears twice"),
    ],
)
def test_bad_specs_raise_value_error_naming_the_problem(spec, match):
    with pytest.raises(ValueError, match=match):
        make_reward(spec)


def test_bad_seed_labels_and_indices():
    with pytest.raises(ValueError, match="needs labels"):
        score("incorrect")
    with pytest.raises(ValueError, match="seed=-1"):
        make_reward("random", seed=-1)
    with pytest.raises(ValueError, match="step=-1"):
        group(make_reward("random"), P, [RIGHT], step=-1, prompt_index=0)


# ------------------------------------------------------------------------------ specs and verdicts
def test_parse_spec_once_gives_the_canonical_spec():
    spec = parse_spec(" random : 0.3 + length:1e-3 ")
    assert spec == RewardSpec("random", 0.3, (("length", 0.001),))
    assert spec.name == "random:0.3+length:0.001" and not spec.needs_labels
    assert parse_spec(spec) is spec  # parsed specs pass through
    assert parse_spec("incorrect").needs_labels
    assert make_reward(spec, seed=2).name == spec.name


def test_the_scorer_reads_verdicts_of_any_environment():
    from priorlab.common.verdict import Verdict

    # string answer keys (as the math grader gives) and a diagnostic the reward must log as a component
    vs = [Verdict(True, "1/2", True, "boxed", 0.9, "\\frac12", {"grade_failed": 0.0}),
          Verdict(False, "3", True, "boxed", None, "3", {"grade_failed": 1.0}),
          Verdict(True, "1/2", True, "boxed", 0.2, "0.5", {"grade_failed": 0.0})]
    texts = ["a", "bb", "ccc"]
    maj = make_reward("majority+length:0.5").score(texts, vs, step=0, prompt_index=0)
    # majority "1/2" (2 of 3; its first holder is correct); length penalty -0.5 * len
    assert [o.score for o in maj] == [1.0 - 0.5, 0.0 - 1.0, 1.0 - 1.5]
    assert maj[1].components == {"correct": 0.0, "format_ok": 1.0, "grade_failed": 1.0, "label_correct": 1.0,
                                 "majority_ratio": 2 / 3, "majority": 0.0, "length_penalty": -1.0}
    brier = make_reward("brier").score(texts, vs, step=0, prompt_index=0)
    # c - (q - c)^2: 1 - .01 = .99; no confidence -> -2; 1 - .64 = .36
    assert [round(o.score, 6) for o in brier] == [0.99, BRIER_MISSING, 0.36]
    inc = make_reward("incorrect").score(texts, vs, step=0, prompt_index=0, label_hits=[False, True, False],
                                         label_diagnostics=[{"label_grade_failed": 0.0}] * 3)
    assert [o.score for o in inc] == [0.0, 1.0, 0.0] and [o.correct for o in inc] == [True, False, True]
    assert list(inc[0].components) == ["correct", "format_ok", "grade_failed", "label_grade_failed", "incorrect"]
    with pytest.raises(ValueError, match="label_hits"):
        make_reward("incorrect").score(texts, vs, step=0, prompt_index=0)
