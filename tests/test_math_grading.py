import json
import time
from pathlib import Path

import pytest

from priorlab.math.grading import (
    Grade,
    Grader,
    answer_key,
    extract_boxed,
    extract_hash,
    gold_answer,
    gsm8k_gold,
    mv_equal,
    plain_int,
    pred_answer,
    summarize,
)
from tests.conftest import FIXTURES, SHARED_DATA


def rows(path: Path) -> list[dict]:
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


def real(path: Path, *args):
    """A parameter set on a real benchmark file (marker shared_data) next to the fixture's."""
    return pytest.param(path, *args, id="shared-data", marks=pytest.mark.shared_data)


@pytest.fixture(scope="module")
def math_grader():
    with Grader("math", timeout=10, workers=2) as g:
        yield g


# ------------------------------------------------------------------------------------------- extraction


@pytest.mark.parametrize("text, want", [
    ("so $\\boxed{5}$.", "5"),
    ("\\boxed{1} then \\boxed{\\frac{1}{2}}", "\\frac{1}{2}"),  # the last box
    ("\\boxed{\\left( 3, \\frac{\\pi}{2} \\right)}", "\\left( 3, \\frac{\\pi}{2} \\right)"),  # nested braces
    ("\\boxed{\\{1, 2\\}}", "\\{1, 2\\}"),  # escaped braces do not close the box
    ("\\fbox{42}", "42"),
    ("\\boxed{7} and finally \\fbox{8}", "8"),  # last of either kind
    ("the answer is \\boxed 5$.", "5"),  # Hendrycks' space form
    ("\\boxed {12}", "12"),
    ("\\boxed{\\boxed{3}}", "3"),
])
def test_extract_boxed(text, want):
    assert extract_boxed(text) == want


@pytest.mark.parametrize("text", ["no box here", "\\boxed{12", "\\boxed{1} ... \\boxed{\\frac{1}{2}", "\\boxedx{3}"])
def test_extract_boxed_none(text):
    # a truncated last box is no answer: the earlier complete box is not used
    assert extract_boxed(text) is None


def test_empty_box_is_no_prediction():
    assert extract_boxed("\\boxed{}") == ""
    assert pred_answer("\\boxed{ }", "math") is None


def test_plain_int():
    assert [plain_int(s) for s in ("-3", "1,450,000", "\\$18", "$18$", "025", "1{,}000", "18.", "\\textbf{(073)}")] \
        == [-3, 1450000, 18, 18, 25, 1000, 18, 73]
    assert [plain_int(s) for s in ("18.5", "1,2", "x", "\\frac{1}{2}", "")] == [None] * 5


def test_gsm8k_gold_and_hash():
    assert gsm8k_gold("She makes 9 * 2 = $18.\n#### 18") == "18"
    assert gsm8k_gold("... #### 1,450,000") == "1450000"
    assert extract_hash("#### 3\nmore\n#### 4 ") == "4"  # the last marker
    with pytest.raises(ValueError, match="no '#### N'"):
        gsm8k_gold("just a rationale")
    with pytest.raises(ValueError, match="not a number"):
        gsm8k_gold("#### twelve")


def test_gold_answer_per_style():
    assert gold_answer("\\frac{1}{2}", "math") == "\\frac{1}{2}"
    assert gold_answer("so it is \\boxed{7}.", "math") == "7"  # a solution as answer field: its last box
    assert gold_answer("033", "int") == "33"
    assert gold_answer("rationale\n#### 5", "gsm8k") == "5"
    with pytest.raises(ValueError, match="not an integer"):
        gold_answer("\\frac{1}{2}", "int")
    with pytest.raises(ValueError, match="empty"):
        gold_answer("  ", "math")
    with pytest.raises(ValueError, match="unknown grading style"):
        gold_answer("1", "latex")


def test_pred_answer_gsm8k_falls_back_to_hash_only_for_gsm8k():
    assert pred_answer("blah\n#### 42", "gsm8k") == "42"
    assert pred_answer("blah \\boxed{41}\n#### 42", "gsm8k") == "41"  # the box wins
    assert pred_answer("blah\n#### 42", "math") is None
    assert pred_answer("blah\n#### 42", "int") is None


def test_answer_key_normalises_spacing_not_value():
    assert answer_key("\\left( 3, \\dfrac{\\pi}{2} \\right)") == answer_key("(3,\\frac{\\pi}{2})")
    assert answer_key("1,000") == answer_key("1000") == "1000"
    assert answer_key("0.5") != answer_key("\\frac{1}{2}")  # voting is over strings, documented


# ---------------------------------------------------------------------------------------- equivalence


def test_equivalent_forms_grade_correct(math_grader):
    cases = [("\\boxed{0.5}", "\\frac{1}{2}"), ("\\boxed{\\dfrac12}", "\\frac{1}{2}"),
             ("\\boxed{\\{2,1\\}}", "\\{1,2\\}"), ("\\boxed{x=5}", "5"), ("\\boxed{1,000}", "1000"),
             ("\\boxed{\\$18}", "18")]
    grades = math_grader.grade([t for t, _ in cases], [g for _, g in cases])
    assert [(g.status, g.correct) for g in grades] == [("ok", True)] * len(cases)
    wrong = math_grader.grade(["\\boxed{(2,1)}", "\\boxed{0.51}", "\\boxed{7}"], ["(1,2)", "\\frac{1}{2}", "8"])
    assert [(g.status, g.correct) for g in wrong] == [("ok", False)] * 3


def test_gold_goes_first(math_grader):
    # Math-Verify's verify is asymmetric (Math-Verify #25): an interval prediction matches an inequality gold,
    # not the other way round. The grader must pass the gold first.
    gold, pred = "x>1", "(1,\\infty)"
    assert mv_equal(gold, pred) and not mv_equal(pred, gold)
    assert math_grader.grade([f"\\boxed{{{pred}}}"], [gold])[0].correct
    assert not math_grader.grade([f"\\boxed{{{gold}}}"], [pred])[0].correct


def test_timeout_is_counted_and_the_pool_recovers():
    with Grader("math", timeout=1, workers=1) as g:
        # 2^(2^40) has ~3e11 digits: sympy never finishes
        slow, fast = g.grade(["\\boxed{3}", "\\boxed{\\frac{2}{4}}"], ["2^{2^{40}}", "\\frac{1}{2}"])
    assert (slow.status, slow.correct) == ("timeout", False) and "longer than 1 s" in slow.error
    assert (fast.status, fast.correct) == ("ok", True)  # graded by the replacement worker


def test_errors_and_missing_answers_are_not_silent_zeros(math_grader):
    grades = math_grader.grade(["\\boxed{1}", "\\boxed{1}", "no box", "\\boxed{1}"], ["1/0", "}{", "1", " "])
    assert [g.status for g in grades] == ["error", "error", "no_answer", "error"]
    assert "evaluate" in grades[0].error  # sympy: Can't evaluate nan or zoo
    assert "does not parse" in grades[1].error and grades[3].error.startswith("gold:")
    s = summarize(grades)
    # 4 rows, 0 correct; 3 errors leave 1 graded row (the no_answer one)
    assert s["status_counts"] == {"ok": 0, "no_answer": 1, "timeout": 0, "error": 3}
    assert (s["accuracy"], s["accuracy_graded"]) == (0.0, 0.0)


def test_summarize_arithmetic():
    gs = [Grade(True, "ok", "1", "1"), Grade(False, "ok", "2", "1"), Grade(False, "timeout", "3", "1"),
          Grade(False, "no_answer", None, "1")]
    s = summarize(gs)
    assert s["accuracy"] == 1 / 4 and s["accuracy_graded"] == 1 / 3  # 1 of 4; 1 of the 3 not timed out


def test_integer_fast_path_needs_no_worker():
    g = Grader("int", workers=1)
    assert [x.correct for x in g.grade(["\\boxed{025}", "\\boxed{24}"], ["25", "25"])] == [True, False]
    assert not g.pool._workers  # plain integers never reach Math-Verify
    g.close()


# ------------------------------------------------------------ benchmark files: tests/fixtures, then the real ones


@pytest.mark.parametrize("path, n, same_answer, false_equal", [
    pytest.param(FIXTURES / "math500_sample.jsonl", 14, 0, [], id="fixture"),
    # measured on MATH-500 with math-verify 0.9.0: 3 equal pairs after the rotation, two with literally the
    # same answer (7, 3), one assignment x=5 vs 5, which Math-Verify equates by design
    real(SHARED_DATA / "math500.jsonl", 500, 2, [("5", "x=5")]),
])
def test_math_boxed_solutions_match_answer_field(math_grader, path, n, same_answer, false_equal):
    probs = rows(path)
    assert len(probs) == n
    grades = math_grader.grade([p["solution"] for p in probs], [p["answer"] for p in probs])
    bad = [(p["unique_id"], p["answer"], g) for p, g in zip(probs, grades) if not g.correct]
    # every solution's last \boxed{} is its answer field (fixture: \dfrac vs \frac, spacing in intervals,
    # unions, sets and lists; MATH-500: 500 / 500 agree)
    assert not bad, bad
    # rotate by one: each solution against the next problem's answer
    rot = math_grader.grade([probs[(i + 1) % n]["solution"] for i in range(n)], [p["answer"] for p in probs])
    assert all(g.status == "ok" for g in rot)
    assert [(g.gold, g.pred) for g in rot if g.correct and g.gold.strip() != g.pred.strip()] == false_equal
    assert sum(g.correct and g.gold.strip() == g.pred.strip() for g in rot) == same_answer


@pytest.mark.parametrize("path, n, first_gold", [
    pytest.param(FIXTURES / "gsm8k_sample.jsonl", 10, "33", id="fixture"),
    real(SHARED_DATA / "gsm8k_test.jsonl", 1319, "18"),  # Janet's ducks
])
def test_gsm8k_golds_parse_and_grade(path, n, first_gold):
    probs = rows(path)
    assert len(probs) == n
    golds = [gsm8k_gold(p["answer"]) for p in probs]
    assert all(plain_int(g) is not None for g in golds)
    assert golds[0] == first_gold
    g = Grader("gsm8k", workers=1)
    ok = g.grade([p["answer"] for p in probs], [p["answer"] for p in probs])  # the rationale's own '#### N'
    assert all(x.correct for x in ok)
    rot = g.grade([probs[(i + 1) % n]["answer"] for i in range(n)], [p["answer"] for p in probs])
    assert all(x.correct == (golds[i] == golds[(i + 1) % n]) for i, x in enumerate(rot))
    assert not g.pool._workers  # integers only: no Math-Verify needed
    g.close()


def test_gsm8k_fixture_golds_with_thousands_separators():
    golds = [gsm8k_gold(p["answer"]) for p in rows(FIXTURES / "gsm8k_sample.jsonl")]
    assert golds == ["33", "1728", "450", "150", "4000", "282", "35", "150000", "175", "1640"]


@pytest.mark.parametrize("path, n, no_box_id, n_correct, textbf_id, textbf", [
    # fixture: id 5 ends without a box; id 8 boxes \textbf{(073)}; '000' and '024' are 0 and 24
    pytest.param(FIXTURES / "aime_sample.jsonl", 10, 5, 9, 8, "\\textbf{(073)}", id="fixture"),
    # measured on AIME 2024: 29 solutions end in a box and all 29 agree (one as \textbf{(073)}); id 60 has no box
    real(SHARED_DATA / "aime24.jsonl", 30, 60, 29, 75, "\\textbf{(073)}"),
])
def test_aime_integer_answers(path, n, no_box_id, n_correct, textbf_id, textbf):
    probs = rows(path)
    assert len(probs) == n
    golds = [gold_answer(str(p["answer"]), "int") for p in probs]
    assert all(0 <= int(x) <= 999 for x in golds) and "25" in golds  # '025' -> 25
    with Grader("int", workers=1) as g:
        grades = g.grade([p["solution"] for p in probs], [str(p["answer"]) for p in probs])
    by_id = {p["id"]: x for p, x in zip(probs, grades)}
    assert by_id[no_box_id].status == "no_answer"
    assert sum(x.correct for x in grades) == n_correct and by_id[textbf_id].pred == textbf


# ------------------------------------------------------- the pool under threads and processes (verl, OpenRLHF, Ray)


def fixture_pairs():
    """The MATH-500 fixture's solutions against their own and the next problem's answers (28 texts, golds)."""
    probs = rows(FIXTURES / "math500_sample.jsonl")
    n = len(probs)
    texts = [p["solution"] for p in probs] + [probs[(i + 1) % n]["solution"] for i in range(n)]
    return texts, [p["answer"] for p in probs] * 2


def grade_one_per_call(pair):
    """One completion per call, as verl's and OpenRLHF's reward loops do, on this process's shared grader."""
    from priorlab.math.grading import shared_grader

    return shared_grader("math", 10.0).grade([pair[0]], [pair[1]])[0]


def test_eight_threads_grade_as_serially():
    from concurrent.futures import ThreadPoolExecutor

    texts, golds = fixture_pairs()
    with Grader("math", timeout=10, workers=2) as g:
        serial = g.grade(texts, golds)
    with Grader("math", timeout=10, workers=2) as g, ThreadPoolExecutor(8) as ex:
        threaded = list(ex.map(lambda p: g.grade([p[0]], [p[1]])[0], zip(texts, golds)))
        batched = list(ex.map(lambda _: g.grade(texts, golds), range(4)))  # 4 threads, each the whole list
        assert len(g.pool._workers) <= 2  # the pool, not the callers, bounds the subprocesses
    assert threaded == serial and all(b == serial for b in batched)
    assert sum(x.correct for x in serial) == 14  # each solution matches its own answer, none the next one's


def test_timeouts_hold_under_threads():
    from concurrent.futures import ThreadPoolExecutor

    # 2^(2^40) never finishes; four such calls among eight, on two workers with a 1 s limit
    jobs = [("\\boxed{3}", "2^{2^{40}}") if i % 2 else ("\\boxed{\\frac{2}{4}}", "\\frac{1}{2}") for i in range(8)]
    with Grader("math", timeout=1, workers=2) as g:
        g.grade(["\\boxed{x}"], ["y"])  # both workers' start-up is not part of what is timed
        g.grade(["\\boxed{x}", "\\boxed{y}"], ["z", "w"])
        t0 = time.monotonic()
        with ThreadPoolExecutor(8) as ex:
            out = list(ex.map(lambda j: g.grade([j[0]], [j[1]])[0], jobs))
        elapsed = time.monotonic() - t0
    assert [x.status for x in out] == ["ok", "timeout"] * 4 and all(x.correct for x in out[::2])
    # four 1 s timeouts on two workers: at least 2 s; and they end (2^(2^40) alone would never), replacements
    # starting at once
    assert 2.0 <= elapsed < 60.0, elapsed


@pytest.mark.parametrize("method", ["fork", "spawn"])
def test_several_processes_grade_as_one(method):
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    from priorlab.math.grading import shared_grader

    texts, golds = fixture_pairs()
    with Grader("math", timeout=10, workers=1) as g:
        serial = g.grade(texts, golds)
    parent = shared_grader("math", 10.0)
    parent.grade(["\\boxed{x}", "\\boxed{y}"], ["z", "w"])  # its workers are running when the children fork
    before = {w.proc.pid for w in parent.pool._workers}
    with ProcessPoolExecutor(2, mp_context=mp.get_context(method)) as ex:
        children = list(ex.map(grade_one_per_call, zip(texts, golds)))
    assert children == serial
    assert parent.grade(texts, golds) == serial  # the children neither used nor closed the parent's workers
    assert before <= {w.proc.pid for w in parent.pool._workers}
