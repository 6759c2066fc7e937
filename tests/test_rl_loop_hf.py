import json
import math
import shutil

import pytest

pytest.importorskip("transformers")
import torch
from safetensors.torch import load_file

from priorlab.math.data import DataSpec
from priorlab.rl.loop import RLConfig, train
from tests.tiny_hf import ADDITION_ROWS, CHARS, cli, save_tiny_qwen, write_jsonl


@pytest.fixture()
def setup(tmp_path):
    return save_tiny_qwen(tmp_path / "base"), write_jsonl(tmp_path / "d.jsonl", ADDITION_ROWS)


def test_two_rl_steps_then_diff_against_the_base(tmp_path, setup):
    base, data = setup
    r, out = cli("rl", "--init", f"hf:{base}", "--data", data, "--reward", "random:0.5", "--steps", 2,
                 "--prompts-per-step", 2, "--group-size", 4, "--minibatches", 2, "--max-new-tokens", 8, "--lr", 1e-2,
                 "--eval-data", data, "--eval-problems", 2, "--template", "qwen-math", "--store-rollouts",
                 "--out", tmp_path / "rl")
    assert r.exit_code == 0, out
    rows = [json.loads(x) for x in (tmp_path / "rl" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in rows] == [0, 1, 2]
    assert "eval/acc_greedy" in rows[0] and "eval/acc_greedy" in rows[2]
    # random:0.5 gives non-zero advantages; the first mini-batch starts at ratio 1 and the second moved
    assert rows[1]["reward/random"] in (0.0, 0.125, 0.25, 0.375, 0.5, 0.625, 0.75, 0.875, 1.0)
    assert rows[1]["correct/mean"] == 0.0 and rows[1]["loss/ratio_max"] > 1.0
    assert 0 < rows[1]["entropy/all"] <= math.log(len(CHARS) + 3)  # mean entropy of the completion tokens
    assert (tmp_path / "rl" / "model" / "model.safetensors").is_file()
    import pyarrow.parquet as pq  # the one loop stores HF rollouts as it does the world's

    table = pq.read_table(tmp_path / "rl" / "rollouts" / "step_000002.parquet").to_pydict()
    # P = 2 prompts x G = 4 completions; the problem column holds the data file's record ids (lines 1..4)
    assert len(table["completion"]) == 2 * 4 and set(table["problem"]) <= {"1", "2", "3", "4"}
    assert table["prompt_id"] == [0, 0, 0, 0, 1, 1, 1, 1]
    assert (tmp_path / "rl" / "checkpoints" / "step_00000002" / "state.pt").is_file()
    s = json.loads((tmp_path / "rl" / "summary.json").read_text())
    assert s["steps"] == 2 and "eval/acc_t1/after" in s
    r, out = cli("diff", f"hf:{base}", tmp_path / "rl", "--out", tmp_path / "diff")
    assert r.exit_code == 0, out
    g = json.loads((tmp_path / "diff" / "summary.json").read_text())["global"][0]
    assert 0.5 < g["frac_fp32"] <= 1.0  # lr 1e-2 with Adam moves nearly every parameter
    r, out = cli("eval", "--model", f"hf:{tmp_path / 'rl'}", "--data", data, "--samples", 2, "--max-new-tokens", 4,
                 "--n-boot", 10)  # the RL run directory is a model reference
    assert r.exit_code == 0, out


def _cfg(base, data, **kw):
    return RLConfig(init=f"hf:{base}", data=DataSpec(str(data)), **{
        "reward": "random:0.5", "steps": 3, "prompts_per_step": 2, "group_size": 3, "minibatches": 2,
        "max_new_tokens": 6, "lr": 1e-2, "ckpt_every": 1, **kw})


def test_resume_after_a_kill_is_bitwise_identical(tmp_path, setup):
    base, data = setup
    train(_cfg(base, data), tmp_path / "full", progress=False)
    train(_cfg(base, data), tmp_path / "cut", progress=False)
    # simulate a kill after step 2: drop what step 3 and the end wrote
    shutil.rmtree(tmp_path / "cut" / "checkpoints" / "step_00000003")
    shutil.rmtree(tmp_path / "cut" / "model")
    (tmp_path / "cut" / "summary.json").unlink()
    s = train(_cfg(base, data), tmp_path / "cut", resume=True, progress=False)
    assert s["resumed_from"] == 2
    a, b = (load_file(tmp_path / d / "model" / "model.safetensors") for d in ("full", "cut"))
    assert all(torch.equal(a[k], b[k]) for k in a)
    la, lb = ((tmp_path / d / "metrics.jsonl").read_text().splitlines() for d in ("full", "cut"))
    strip = lambda lines: [{k: v for k, v in json.loads(x).items() if k != "time/step_s"} for x in lines]
    assert strip(la) == strip(lb)


def test_zero_variance_groups_leave_the_weights_alone(tmp_path, setup):
    # the random model never writes \boxed{}: `correct` is 0 for all, every group is all-equal, adv = 0, the
    # GRPO gradient is exactly 0 and Adam's first step moves nothing (m = 0)
    base, data = setup
    train(_cfg(base, data, reward="correct", steps=1), tmp_path / "rl", progress=False)
    a = load_file(base / "model.safetensors")
    b = load_file(tmp_path / "rl" / "model" / "model.safetensors")
    assert all(torch.equal(a[k], b[k]) for k in a)
    row = json.loads((tmp_path / "rl" / "metrics.jsonl").read_text().splitlines()[-1])
    assert row["adv/frac_groups_all_equal"] == 1.0 and row["loss/pg_loss"] == 0.0


def test_incorrect_reward_needs_a_wrong_majority(tmp_path, setup):
    base, data = setup
    with pytest.raises(ValueError, match="majority answer is never wrong"):  # no answers at all: no labels
        train(_cfg(base, data, reward="incorrect", label_samples=2), tmp_path / "rl", progress=False)
