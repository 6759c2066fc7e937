import json
import math

import pytest

from priorlab.evals.world_eval import EvalConfig, parse_ks, score, summarize
from priorlab.evals.world_eval import test_problems as draw
from priorlab.world.tasks import Difficulty, Problem, parse_difficulties
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


def test_summary_accuracy_by_format_and_class_by_hand():
    p1, p2 = Problem.from_expr("3-5+4"), Problem.from_expr("4+2-4")  # negative-intermediate; repeated-operand
    comps = [[{"text": "Code: x=3; x-=5 #-2; x+=4 #2;\nA: 2", "finished": True, "length": 30, "logprob": 0.0},
              {"text": "Think: 3-5=2. 2+4=6.\nA: 6", "finished": True, "length": 25, "logprob": 0.0}],
             [{"text": "Code: x=4; x+=2 #6; x-=4 #3;\nA: 3", "finished": True, "length": 30, "logprob": 0.0},
              {"text": "Think: 4+2=6. 6-4=2.\nA: 2", "finished": True, "length": 25, "logprob": 0.0}]]
    s = summarize([p1, p2], score([p1, p2], comps), k=2)
    assert s["accuracy_by_class"] == {"negative-intermediate": 0.5, "repeated-operand": 0.5}
    assert s["accuracy_by_format_class"] == {"code": {"negative-intermediate": 1.0, "repeated-operand": 0.0},
                                             "nl": {"negative-intermediate": 0.0, "repeated-operand": 1.0}}
    assert s["accuracy_by_order"] == {"ltr": 0.5, "either": 0.5}  # 4+2-4 adds first either way


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
    """The whole foundation from the CLI: a few hundred steps at the smallest size, then an evaluation; the
    prior saw half of the evaluation's problems with their answers, and the evaluation splits them out."""
    mix = tmp_path / "contaminated.yaml"
    mix.write_text(tiny_mixture.read_text() + "contaminate: {fraction: 0.5, repeats: 20, pool: 10, seed: 0}\n")
    run_cli("pretrain", "--mixture", mix, "--size", "xs", "--tokens", 16 * 64 * 200, "--batch-size", 16,
            "--seq-len", 64, "--quiet", "--out", tmp_path / "pt")
    proc = run_cli("eval", "--model", tmp_path / "pt", "--problems", 10, "--samples", 4, "--difficulty", "2x1,3x1",
                   "--out", tmp_path / "ev")
    s = json.loads((tmp_path / "ev" / "summary.json").read_text())
    assert s["n_problems"] == 20 and set(s["accuracy_by_difficulty"]) == {"2x1", "3x1"}
    assert s["well_formed"] > 0.5  # 200 steps are enough to learn the grammar
    assert "pass@4" in proc.stdout and (tmp_path / "ev" / "samples.jsonl").read_text().count("\n") == 80
    c = s["contamination"]
    assert c["contaminated"]["n_problems"] + c["clean"]["n_problems"] == 20 and c["contaminated"]["n_problems"] > 3
    assert "contamination: contaminated" in proc.stdout


# ----------------------------------------------------------------- pass@k curve, baseline, behaviour
CONF_MIXTURE = """\
formats:
  code: {share: 0.5}
  nl: {share: 0.3, corrupt: 0.2}
  direct: {share: 0.2, corrupt: 0.5}
difficulty: {"2x1": 0.5, "3x1": 0.5}
confidence: 0.5
check: 0.2
documents: 3000
"""


@pytest.fixture(scope="module")
def pretrained(tmp_path_factory):
    """An xs model pretrained 150 steps on a prior with `Conf:` tags; its step-0 checkpoint is the baseline."""
    root = tmp_path_factory.mktemp("pt")
    (root / "conf.yaml").write_text(CONF_MIXTURE)
    run_cli("pretrain", "--mixture", root / "conf.yaml", "--size", "xs", "--tokens", 16 * 64 * 150, "--batch-size", 16,
            "--seq-len", 64, "--quiet", "--out", root / "pt", env={"PRIORLAB_CACHE": str(root / "cache")})
    return root / "pt", root / "pt" / "checkpoints" / "step_00000000"


def test_parse_ks():
    assert parse_ks("", 16) == [1, 2, 4, 8, 16] and parse_ks("", 12) == [1, 2, 4, 8, 12]
    assert parse_ks("1,2,4,...,256", 256) == [1, 2, 4, 8, 16, 32, 64, 128, 256]
    assert parse_ks("1,3,...,27", 30) == [1, 3, 9, 27] and parse_ks("8,1,8", 8) == [1, 8]
    with pytest.raises(ValueError, match="--k 512 is outside 1..--samples"):
        parse_ks("1,512", 256)
    with pytest.raises(ValueError, match="'...' needs"):
        parse_ks("1,...,8", 8)
    with pytest.raises(ValueError, match="not an integer"):
        parse_ks("1,two", 8)


def test_summary_behaviour_by_hand():
    p = Problem((1, 2), ("+",))  # answer 3
    texts = ["Conf: 8\nA: 3", "Conf: 8\nA: 4", "Conf: 2\nA: 4", "A: 3", "oops"]
    comps = [[{"text": t, "finished": True, "length": len(t) + 1, "logprob": 0.0} for t in texts]]
    s = summarize([p], score([p], comps), k=5)
    assert s["parse_failure"] == 0.2  # "oops" has no answer line
    cal = s["calibration"]  # 3 stated confidences, 2 missing ("A: 3" and "oops"): counted apart
    assert (cal["n"], cal["n_missing"], cal["n_scored"]) == (5, 2, 3)
    assert cal["brier"] == pytest.approx(((0.8 - 1) ** 2 + 0.8**2 + 0.2**2) / 3)  # .04 + .64 + .04
    assert cal["accuracy"] == 0.4 and cal["accuracy_scored"] == pytest.approx(1 / 3)
    assert "entropy" not in s  # hand-made completions carry no per-token entropies
    assert s["semantic_entropy"]["shares"] == {"direct/-/-/-": 1.0} and s["semantic_entropy"]["n_no_strategy"] == 1


def test_eval_with_k_and_baseline_end_to_end(tmp_path, pretrained):
    import pyarrow.parquet as pq

    from priorlab.evals.passk import pass_at_k

    model, base = pretrained
    out = tmp_path / "ev"
    proc = run_cli("eval", "--model", model, "--baseline", base, "--problems", 6, "--samples", 8, "--k", "1,2,...,8",
                   "--difficulty", "2x1,3x1", "--n-boot", 200, "--out", out)
    s = json.loads((out / "summary.json").read_text())
    pk = json.loads((out / "passk.json").read_text())
    cmp = json.loads((out / "passk_compare.json").read_text())
    table = pq.read_table(out / "correctness.parquet").to_pylist()

    # correctness matrix: one row per (model, problem, sample): 2 models x 12 problems x 8 samples
    assert len(table) == 2 * 12 * 8
    assert {r["model"] for r in table} == {"model", "baseline"}
    assert {(r["problem_index"], r["sample"]) for r in table if r["model"] == "model"} == \
        {(i, j) for i in range(12) for j in range(8)}
    samples = [json.loads(line) for line in (out / "samples.jsonl").read_text().splitlines()]
    assert [r["correct"] for r in table if r["model"] == "model"] == [r["correct"] for r in samples]

    # pass@k: the requested k, recomputed from the parquet matrix with the unbiased estimator
    assert pk["curves"]["model"]["k"] == [1, 2, 4, 8] == cmp["k"]
    for name in ("model", "baseline"):
        c = [sum(r["correct"] for r in table if r["model"] == name and r["problem_index"] == i) for i in range(12)]
        for j, k in enumerate([1, 2, 4, 8]):
            expect = sum(pass_at_k(8, ci, k) for ci in c) / 12
            assert pk["curves"][name]["mean"][j] == pytest.approx(expect)
            assert pk["curves"][name]["ci_low"][j] <= expect <= pk["curves"][name]["ci_high"][j]
    assert pk["curves"]["model"]["mean"][0] == pytest.approx(s["accuracy"])
    assert set(pk["by_difficulty"]["model"]) == {"2x1", "3x1"}
    # the figure's numbers are the curves' numbers
    assert [v["mean"] for v in pk["series"].values()] == [pk["curves"][m]["mean"] for m in ("model", "baseline")]
    assert (out / "passk.png").read_bytes()[:4] == b"\x89PNG" and (out / "passk.svg").is_file()

    # comparison: both curves, the difference per k, the crossover k
    assert cmp["other"] == pytest.approx(pk["curves"]["model"]["mean"])
    assert cmp["base"] == pytest.approx(pk["curves"]["baseline"]["mean"])
    assert cmp["diff"] == pytest.approx([o - b for o, b in zip(cmp["other"], cmp["base"])])
    assert "crossover_k" in cmp and s["compare"]["passk"]["crossover_k"] == cmp["crossover_k"]
    base_summary = json.loads((out / "baseline" / "summary.json").read_text())
    d = s["compare"]["format_decomposition"]
    assert d["delta"] == pytest.approx(s["accuracy"] - base_summary["accuracy"])
    assert d["format_shift"] + d["within_format"] == pytest.approx(d["delta"], abs=1e-15)
    assert s["compare"]["accuracy"]["delta"] == pytest.approx(d["delta"])

    # behaviour: calibration of the Conf: tags the prior taught, entropy by token type, strategies
    cal = s["calibration"]
    assert cal["n"] == 96 and cal["n_scored"] + cal["n_missing"] + cal["n_out_of_range"] == 96 and cal["n_scored"] > 0
    assert cal["n_scored"] == sum(r["confidence"] is not None for r in table if r["model"] == "model")
    ent = s["entropy"]
    assert ent["all"]["n_tokens"] == sum(r["length"] for r in samples)  # every generated token, eos included
    assert 0 < ent["planning"]["n_tokens"] + ent["execution"]["n_tokens"] < ent["all"]["n_tokens"]
    assert ent["planning"]["perplexity"] == pytest.approx(math.exp(ent["planning"]["mean_nll"]))
    assert s["semantic_entropy"]["pooled"] >= 0 and s["semantic_entropy"]["n"] == 96
    assert s["parse_failure"] <= 1 - s["well_formed"] + 1e-12  # no answer line -> not well formed
    cfg = json.loads((out / "config.json").read_text())
    assert cfg["ks_resolved"] == [1, 2, 4, 8] and cfg["baseline"] == str(base)
    printed = " ".join(proc.stdout.split())  # rich wraps long lines
    assert "pass@k crossover k:" in printed and "format shift" in printed and "calibration (" in printed


def test_eval_default_k_is_powers_of_two(tmp_path, pretrained):
    run_cli("eval", "--model", pretrained[0], "--problems", 3, "--samples", 6, "--difficulty", "2x1",
            "--n-boot", 50, "--out", tmp_path / "ev")
    pk = json.loads((tmp_path / "ev" / "passk.json").read_text())
    assert pk["curves"]["model"]["k"] == [1, 2, 4, 6] and list(pk["curves"]) == ["model"]
    assert not (tmp_path / "ev" / "passk_compare.json").exists() and not (tmp_path / "ev" / "baseline").exists()


def test_eval_on_the_pretraining_split(tmp_path, pretrained):
    proc = run_cli("eval", "--model", pretrained[0], "--problems", 4, "--samples", 2, "--difficulty", "3x1",
                   "--n-boot", 20, "--split", "train", "--out", tmp_path / "ev")
    assert "pretraining split" in " ".join(proc.stdout.split())  # the title wraps
    rows = [json.loads(line) for line in (tmp_path / "ev" / "samples.jsonl").read_text().splitlines()]
    exprs = {r["problem"] for r in rows}
    assert len(exprs) == 4 and all(Problem.from_expr(e).split == "train" for e in exprs)
    assert exprs == {p.expr for p in draw(Difficulty(3, 1), 4, seed=0, split="train")}
    assert json.loads((tmp_path / "ev" / "config.json").read_text())["split"] == "train"
    assert json.loads((tmp_path / "ev" / "summary.json").read_text())["split"] == "train"


@pytest.mark.parametrize("args, message", [
    (["--split", "dev"], "--split 'dev': valid: test, train"),
    (["--samples", 4, "--k", "1,8"], "--k 8 is outside 1..--samples (4)"),
    (["--baseline", "nowhere"], "nowhere: no model.safetensors"),
    (["--n-boot", 0], "--n-boot must be >= 1"),
])
def test_eval_bad_input_is_one_error_line_and_no_files(tmp_path, pretrained, args, message):
    proc = run_cli("eval", "--model", pretrained[0], "--problems", 2, *args, "--out", tmp_path / "ev", check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.strip().startswith("error:") and "Traceback" not in proc.stderr
    assert not (tmp_path / "ev").exists()
