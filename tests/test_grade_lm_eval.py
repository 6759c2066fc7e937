"""`priorlab grade` on lm-evaluation-harness's --log_samples files, and pass@k over repeated completions."""

import json
from pathlib import Path

import pytest

from priorlab.math import lm_eval
from tests.conftest import run_cli

FIXTURE = Path(__file__).parent / "fixtures" / "lm_eval_samples_gsm8k.jsonl"  # 3 docs x 2 filters, repeats 4


def test_samples_keep_one_filter_and_flatten_the_generations():
    rows, bad, kept = lm_eval.samples(FIXTURE)
    assert kept == "strict-match" and bad == [] and [r["doc_id"] for r in rows] == [0, 1, 2]
    assert rows[1]["prediction"] == ["6*7 = 41 #### 41", "#### 40", "I think #### 42", "#### 43"]
    assert rows[1]["answer"] == "Work it out.\n#### 42"
    rows2, _, kept2 = lm_eval.samples(FIXTURE, "flexible-extract")
    assert kept2 == "flexible-extract" and len(rows2) == 3
    with pytest.raises(ValueError, match="no sample logged under filter 'nope'"):
        lm_eval.samples(FIXTURE, "nope")
    assert lm_eval.looks_like(FIXTURE)


def test_grade_reads_lm_eval_samples_and_gives_passk_by_hand(tmp_path):
    proc = run_cli("grade", FIXTURE, "--style", "gsm8k", "--out", tmp_path / "g")  # format recognised
    s = json.loads((tmp_path / "g" / "summary.json").read_text())
    assert (s["format"], s["lm_eval_filter"], s["records"], s["n"]) == ("lm-eval", "strict-match", 3, 12)
    graded = [json.loads(x) for x in (tmp_path / "g" / "graded.jsonl").read_text().splitlines()]
    c = [sum(r["correct"]) for r in graded]
    assert c == [2, 1, 0]  # '#### 72' twice (the bare 'The answer is 72' has no '####'), '#### 42' once
    # unbiased pass@k, n = 4: 1 - C(n-c, k) / C(n, k), averaged over the 3 documents
    assert s["passk"]["k"] == [1, 2, 4]
    assert s["passk"]["mean"] == pytest.approx([(2 / 4 + 1 / 4) / 3, ((1 - 1 / 6) + (1 - 3 / 6)) / 3, 2 / 3])
    assert "pass@k over 3 records x 4 completions" in proc.stdout


def test_bad_lm_eval_inputs(tmp_path):
    ll = tmp_path / "samples_arc.jsonl"  # a loglikelihood task: resps are (logprob, is_greedy) pairs
    ll.write_text(json.dumps({"doc_id": 0, "target": 1, "resps": [[[-1.5, False]], [[-0.2, True]]],
                              "filter": "none"}) + "\n")
    proc = run_cli("grade", ll, "--out", tmp_path / "g", check=False)
    assert proc.returncode == 2 and "a loglikelihood task has no generations" in proc.stderr
    assert "Traceback" not in proc.stderr
    plain = tmp_path / "plain.jsonl"
    plain.write_text(json.dumps({"q": "x", "a": "1"}) + "\n")
    proc = run_cli("grade", plain, "--out", tmp_path / "g2", check=False)
    assert proc.returncode == 2 and "--prediction-field and --answer-field are needed" in proc.stderr


def test_passk_for_records_with_lists_of_completions(tmp_path):
    f = tmp_path / "preds.jsonl"
    f.write_text("".join(json.dumps({"completion": comps, "answer": "5"}) + "\n" for comps in (
        ["\\boxed{5}", "\\boxed{4}"], ["\\boxed{3}", "\\boxed{3}"])))
    run_cli("grade", f, "--prediction-field", "completion", "--answer-field", "answer", "--out", tmp_path / "g")
    s = json.loads((tmp_path / "g" / "summary.json").read_text())
    assert s["format"] == "records" and s["passk"]["k"] == [1, 2] and s["passk"]["mean"] == pytest.approx([0.25, 0.5])
