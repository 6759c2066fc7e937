import json

import pytest

pytest.importorskip("transformers")

from priorlab.evals.math_eval import majority_correct, summarize
from priorlab.math.grading import Grade
from tests.conftest import FIXTURES, SHARED_DATA, run_cli
from tests.tiny_hf import cli, save_tiny_qwen, write_jsonl

ROWS = [{"problem": "What is 1+1?", "answer": "2", "solution": "1+1 = \\boxed{2}"},
        {"problem": "Half of 1?", "answer": "\\frac{1}{2}", "solution": "It is \\boxed{\\frac12}"}]



@pytest.fixture(scope="module")
def model(tmp_path_factory):
    return save_tiny_qwen(tmp_path_factory.mktemp("m") / "q", chat_template=True)


def g(correct, pred):
    return Grade(correct, "ok" if pred is not None else "no_answer", pred, "2")


def test_majority_vote_by_answer_key_ties_to_first_seen():
    # answers 3, 2, 2, none: the majority 2 is correct
    assert majority_correct([g(False, "3"), g(True, "2"), g(True, "2"), g(False, None)])
    # 3, 2 tie: the first seen (3, wrong) wins
    assert not majority_correct([g(False, "3"), g(True, "2")])
    assert not majority_correct([g(False, None), g(False, None)])


def test_summary_numbers_by_hand():
    # problem 0: 2 of 4 correct; problem 1: 0 of 4 (no answers)
    grades = [[g(True, "2"), g(False, "3"), g(True, "2"), g(False, "5")], [g(False, None)] * 4]
    texts = ["\\boxed{2} <confidence>0.9</confidence>"] + ["x"] * 7
    s, curve = summarize(grades, texts, [1, 2, 4], n_boot=50, seed=0)
    assert s["accuracy"] == s["pass@1"] == pytest.approx(2 / 8)
    # pass@2 of problem 0 = 1 - C(2,2)/C(4,2) = 1 - 1/6; problem 1: 0 -> mean 5/12
    assert s["pass@2"] == pytest.approx(5 / 12) and s["pass@4"] == pytest.approx(0.5)
    assert s["maj@4"] == 0.5  # problem 0: answer 2 (twice) is the majority
    assert s["status_counts"] == {"ok": 4, "no_answer": 4, "timeout": 0, "error": 0}
    assert s["format_ok"] == 0.5
    assert s["calibration"]["n_scored"] == 1 and s["calibration"]["n_missing"] == 7
    assert curve["k"] == [1, 2, 4]


@pytest.mark.parametrize("template", ["plain", "qwen-math", "chat"])
def test_eval_pass_at_k_through_the_cli(tmp_path, model, template):
    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    r, out = cli("eval", "--model", f"hf:{model}", "--data", data, "--samples", 4, "--k", "1,2,4",
                 "--max-new-tokens", 8, "--template", template, "--n-boot", 50, "--out", tmp_path / "ev")
    assert r.exit_code == 0, out
    s = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert (s["n_problems"], s["samples"], s["template"], s["style"]) == (2, 4, template, "math")
    assert {"pass@1", "pass@2", "pass@4", "maj@4"} <= set(s) and sum(s["status_counts"].values()) == 8
    lines = (tmp_path / "ev" / "samples.jsonl").read_text().splitlines()
    assert len(lines) == 8 and json.loads(lines[5])["id"] == "2" and json.loads(lines[5])["sample"] == 1
    assert json.loads((tmp_path / "ev" / "passk.json").read_text())["curves"]["model"]["k"] == [1, 2, 4]
    if template == "plain":  # same seed -> the same completions
        cli("eval", "--model", f"hf:{model}", "--data", data, "--samples", 4, "--k", "1,2,4", "--max-new-tokens", 8,
            "--n-boot", 50, "--out", tmp_path / "ev2")
        assert (tmp_path / "ev2" / "samples.jsonl").read_text() == "\n".join(lines) + "\n"


@pytest.mark.parametrize("path, golds", [
    pytest.param(FIXTURES / "gsm8k_sample.jsonl", ["33", "1728", "450"], id="fixture"),  # '#### 1,728' -> 1728
    pytest.param(SHARED_DATA / "gsm8k_test.jsonl", ["18", "3", "70000"], id="shared-data",
                 marks=pytest.mark.shared_data),  # Janet's ducks first
])
def test_eval_reads_gsm8k_lines(tmp_path, model, path, golds):
    import pyarrow.parquet as pq

    r, out = cli("eval", "--model", model, "--data", path, "--limit", 3, "--samples", 2,
                 "--max-new-tokens", 4, "--n-boot", 20, "--out", tmp_path / "ev")
    assert r.exit_code == 0, out
    s = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert (s["layout"], s["style"], s["n_problems"]) == ("gsm8k", "gsm8k", 3)
    # the gold of each problem is the number after '####', two samples each
    table = pq.read_table(tmp_path / "ev" / "correctness.parquet").to_pylist()
    assert [r["gold"] for r in table] == [g for g in golds for _ in range(2)]


def test_bad_inputs_one_error_line_exit_2(tmp_path, model):
    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    plain = save_tiny_qwen(tmp_path / "plain")
    cases = [
        (("eval", "--model", f"hf:{model}"), "pass the problems with --data"),
        (("eval", "--model", f"hf:{model}", "--data", tmp_path / "nope.jsonl"), "nope.jsonl: data file not found"),
        (("eval", "--model", f"hf:{model}", "--data", data, "--question-field", "q"), "no question field 'q'"),
        (("eval", "--model", f"hf:{plain}", "--data", data, "--template", "chat"), "has no chat template"),
        (("eval", "--model", f"hf:{model}", "--data", data, "--backend", "vllm"), "--backend vllm:"),
        (("eval", "--model", "hf:Qwen/Qwen2.5-Math-1.5B", "--data", data), "never downloads models"),
        (("eval", "--model", f"hf:{tmp_path / 'missing'}", "--data", data), "no such local checkpoint directory"),
        (("rl", "--init", f"hf:{model}", "--out", tmp_path / "rl"), "pass the training problems with --data"),
        (("rl", "--init", f"hf:{model}", "--data", data, "--algo", "hicra", "--out", tmp_path / "rl"),
         "planning-token labels"),
        (("sft", "--model", f"hf:{model}", "--out", tmp_path / "sft"), "records with --data"),
    ]
    for args, msg in cases:
        r, out = cli(*args)
        assert r.exit_code == 2, (args, out)
        assert msg in out and "Traceback" not in out, (args, out)
    assert not (tmp_path / "rl").exists() and not (tmp_path / "sft").exists()


def test_missing_vllm_as_a_user_sees_it(tmp_path, model):
    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    p = run_cli("eval", "--model", f"hf:{model}", "--data", data, "--backend", "vllm", check=False)
    assert p.returncode == 2 and "Traceback" not in p.stderr
    assert [line for line in p.stderr.splitlines() if line.startswith("error:")] != []


def test_compare_by_hand():
    import numpy as np

    from priorlab.evals.math_eval import HFEvalConfig, compare
    from priorlab.math.data import DataSpec

    cfg = HFEvalConfig(model="hf:m", data=DataSpec("d.jsonl"), samples=2, n_boot=200, baseline="hf:b")
    base = {"correct": np.array([[True, False], [False, False]])}
    model = {"correct": np.array([[True, True], [True, False]])}
    c = compare(base, model, [1, 2], cfg)
    # accuracy 1/4 -> 3/4; pass@1 .25 -> .75; pass@2: problem 0 solved by both, problem 1 only by the model
    assert (c["accuracy"]["baseline"], c["accuracy"]["model"]) == (0.25, 0.75)
    assert c["accuracy"]["delta"] == pytest.approx(0.5)
    assert c["passk"]["base"] == [0.25, 0.5] and c["passk"]["other"] == [0.75, 1.0]
    assert c["passk"]["diff"] == pytest.approx([0.5, 0.5]) and c["passk"]["crossover_k"] is None


def test_eval_with_a_baseline_through_the_cli(tmp_path, model):
    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    other = save_tiny_qwen(tmp_path / "other", seed=1)
    r, out = cli("eval", "--model", f"hf:{model}", "--baseline", f"hf:{other}", "--data", data, "--samples", 4,
                 "--max-new-tokens", 8, "--n-boot", 50, "--out", tmp_path / "ev")
    assert r.exit_code == 0, out
    assert "model - baseline" in out
    s = json.loads((tmp_path / "ev" / "summary.json").read_text())
    cmp = s["compare"]
    assert cmp["baseline"] == f"hf:{other}" and cmp["passk"]["k"] == [1, 2, 4]
    base = json.loads((tmp_path / "ev" / "baseline" / "summary.json").read_text())
    assert cmp["accuracy"]["baseline"] == base["accuracy"] and cmp["accuracy"]["model"] == s["accuracy"]
    assert len((tmp_path / "ev" / "baseline" / "samples.jsonl").read_text().splitlines()) == 8
    assert (tmp_path / "ev" / "passk.png").is_file()
    import pyarrow.parquet as pq

    table = pq.read_table(tmp_path / "ev" / "correctness.parquet").to_pylist()
    assert len(table) == 2 * 2 * 4 and table[0]["model"] == "model" and table[-1]["model"] == "baseline"
    assert [r["gold"] for r in table[:8:4]] == ["2", "\\frac{1}{2}"]
    for name, acc in (("model", s["accuracy"]), ("baseline", base["accuracy"])):
        rows = [r for r in table if r["model"] == name]
        assert sum(r["correct"] for r in rows) / len(rows) == acc
    # the two models sample different completions (same seed, different weights)
    ours = (tmp_path / "ev" / "samples.jsonl").read_text()
    assert ours != (tmp_path / "ev" / "baseline" / "samples.jsonl").read_text()
    # a baseline that is a priorlab run directory is refused in one line
    r, out = cli("eval", "--model", f"hf:{model}", "--baseline", tmp_path, "--data", data, "--samples", 2)
    assert r.exit_code == 2 and "--baseline" in out and "Traceback" not in out


def test_vllm_backend_plumbing_with_a_stand_in_vllm(tmp_path, model, monkeypatch):
    # No GPU or vllm here: a stand-in module with vLLM's call shapes (LLM, SamplingParams, generate on
    # token prompts -> outputs[i].outputs[j].text) checks what priorlab asks of vLLM and how it reads
    # the answer back (prompt-major, n per prompt), through the CLI.
    import sys
    import types

    import torch

    seen = {}

    class SamplingParams:
        def __init__(self, **kw):
            seen["params"] = kw

    class LLM:
        def __init__(self, model, **kw):
            seen["llm"] = (model, kw)

        def get_tokenizer(self):
            from transformers import AutoTokenizer

            return AutoTokenizer.from_pretrained(str(model))

        def generate(self, prompts, params):
            seen["prompts"] = prompts
            n = seen["params"]["n"]
            answers = ["2", "\\frac{1}{2}"]
            return [types.SimpleNamespace(outputs=[types.SimpleNamespace(text=f"so \\boxed{{{answers[i] if j == 0 else 7}}}")
                                                   for j in range(n)]) for i in range(len(prompts))]

    monkeypatch.setitem(sys.modules, "vllm", types.SimpleNamespace(LLM=LLM, SamplingParams=SamplingParams))
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    data = write_jsonl(tmp_path / "d.jsonl", ROWS)
    r, out = cli("eval", "--model", f"hf:{model}", "--data", data, "--backend", "vllm", "--samples", 4,
                 "--temperature", 0.6, "--max-new-tokens", 64, "--seed", 3, "--n-boot", 20, "--out", tmp_path / "ev")
    assert r.exit_code == 0, out
    p = seen["params"]
    assert (p["n"], p["temperature"], p["max_tokens"], p["seed"], p["repetition_penalty"]) == (4, 0.6, 64, 3, 1.0)
    assert seen["llm"][0] == str(model) and len(seen["prompts"]) == 2
    assert all("prompt_token_ids" in x for x in seen["prompts"])
    s = json.loads((tmp_path / "ev" / "summary.json").read_text())
    # sample 0 of each problem is right, samples 1-3 answer 7: pass@1 = 1/4, pass@4 = 1
    assert s["backend"] == "vllm" and s["pass@1"] == pytest.approx(0.25) and s["pass@4"] == 1.0
