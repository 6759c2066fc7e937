import json

import pytest

from priorlab.evals.evaluate import EvalConfig, parse_difficulties, score, summarize, test_problems as draw
from priorlab.world.tasks import Difficulty, Problem
from tests.conftest import run_cli


def test_summary_by_hand():
    p1, p2 = Problem((1, 2), ("+",)), Problem((5, 3, 1), ("-", "+"))  # answers 3 and 3
    comps = [[{"text": "A: 3", "finished": True, "length": 4, "logprob": 0.0},
              {"text": "Think: 1+2=4.\nA: 4", "finished": True, "length": 18, "logprob": 0.0}],
             [{"text": "Code: x=5; x-=3 #2;\nA: 2", "finished": True, "length": 24, "logprob": 0.0},
              {"text": "garbage", "finished": False, "length": 7, "logprob": 0.0}]]
    s = summarize([p1, p2], score([p1, p2], comps), k=2)
    assert s["accuracy"] == 0.25 and s["pass@2"] == 0.5  # 1 of 4 samples; p1 solved, p2 not
    assert s["accuracy_by_difficulty"] == {"2x1": 0.5, "3x1": 0.0}
    assert s["format_shares"] == {"direct": 0.25, "nl": 0.25, "code": 0.25, "none": 0.25}
    assert s["well_formed"] == 0.75 and s["mean_length"] == pytest.approx(53 / 4)
    assert s["shortcuts"]["skipped_step"] == 0.25 and s["shortcuts"]["truncated"] == 0.25


def test_eval_problems_are_distinct_test_split_and_seeded():
    ps = draw(Difficulty(3, 1), 50, seed=0)
    assert len({p.expr for p in ps}) == 50 and all(p.split == "test" for p in ps)
    assert ps == draw(Difficulty(3, 1), 50, seed=0)
    assert len(draw(Difficulty(2, 1), 500, seed=0)) < 500  # the 2x1 test space is small: no repeats


def test_config_validation():
    with pytest.raises(ValueError, match="--difficulty"):
        parse_difficulties("3by1")
    with pytest.raises(ValueError, match="--temperature"):
        EvalConfig(temperature=-1)


def test_end_to_end_pretrain_then_eval(tmp_path, tiny_mixture):
    """The whole foundation from the CLI: a few hundred steps at the smallest size, then an evaluation."""
    run_cli("pretrain", "--mixture", tiny_mixture, "--size", "xs", "--tokens", 16 * 64 * 200, "--batch-size", 16,
            "--seq-len", 64, "--quiet", "--out", tmp_path / "pt")
    proc = run_cli("eval", "--model", tmp_path / "pt", "--problems", 10, "--samples", 4, "--difficulty", "2x1,3x1",
                   "--out", tmp_path / "ev")
    s = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert s["n_problems"] == 20 and set(s["accuracy_by_difficulty"]) == {"2x1", "3x1"}
    assert s["well_formed"] > 0.5  # 200 steps are enough to learn the grammar
    assert "pass@4" in proc.stdout and (tmp_path / "ev" / "samples.jsonl").read_text().count("\n") == 80
