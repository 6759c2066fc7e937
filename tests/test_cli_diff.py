import json

import pytest
import torch

from priorlab.common.checkpoints import save_weights
from priorlab.model.gpt import GPT, config_for_size
from priorlab.world.tokenizer import Tokenizer
from tests.conftest import run_cli


def save(dirpath, state: dict, size: str = "xs") -> None:
    cfg = config_for_size(size, Tokenizer().vocab_size, 128)
    model = GPT(cfg)
    model.load_state_dict(state)
    meta = {"stage": "test", "model_config": cfg.__dict__, "vocab_version": Tokenizer.version}
    save_weights(dirpath, model, meta)


@pytest.fixture
def checkpoints(tmp_path):
    """A base and two runs: run A changes 7 entries by +1 (seen in bf16 and fp32) and 5 entries by a
    relative 2^-18 (seen in fp32 only); run B changes 4 entries by +1, 2 of them shared with run A."""
    torch.manual_seed(0)
    base = {k: v.to(torch.bfloat16).to(torch.float32)  # bf16-exact weights: a 2^-18 nudge never rounds across
            for k, v in GPT(config_for_size("xs", Tokenizer().vocab_size, 128)).state_dict().items()}
    name = "blocks.1.mlp.c_fc.weight"  # [256, 64]
    a = {k: v.clone() for k, v in base.items()}
    big_a = [(0, 0), (0, 1), (3, 5), (10, 10), (100, 63), (255, 0), (7, 7)]
    tiny_a = [(1, 1), (2, 2), (4, 4), (5, 5), (6, 6)]
    for i, j in big_a:
        a[name][i, j] += 1.0
    for i, j in tiny_a:
        a[name][i, j] *= 1 + 2.0**-18
    b = {k: v.clone() for k, v in base.items()}
    big_b = [(0, 0), (3, 5), (20, 20), (30, 30)]
    for i, j in big_b:
        b[name][i, j] += 1.0
    b["wte.weight"][0, 0] += 1.0  # one change outside the blocks: layer group `other`
    for d, st in (("base", base), ("a", a), ("b", b)):
        save(tmp_path / d, st)
    return tmp_path, name


def test_diff_counts_exactly_the_changed_entries(checkpoints):
    root, name = checkpoints
    proc = run_cli("diff", root / "base" / "model.safetensors", root / "a", root / "b", "--out", root / "d",
                   "--atol", 1e-5)
    d = json.loads((root / "d" / "diff.json").read_text())
    ra, rb = d["per_run"]
    # run A: 7 big changes (bf16 and fp32 see them), 5 relative 2^-18 nudges (fp32 only; |delta| < 1e-5)
    g = ra["global"]
    assert (g["changed_bf16"], g["changed_fp32"], g["changed_atol"]) == (7, 12, 7)
    assert ra["per_tensor"][name]["changed_fp32"] == 12
    assert ra["per_layer"]["blocks.1"]["changed_bf16"] == 7 and ra["per_layer"]["blocks.0"]["changed_bf16"] == 0
    # run B: 4 in blocks.1, 1 in wte (group `other`)
    assert rb["global"]["changed_bf16"] == 5 and rb["per_layer"]["other"]["changed_bf16"] == 1
    # overlap of the bf16 masks: A 7, B 5, shared (0,0) and (3,5) -> J = 2 / (7 + 5 - 2)
    ov = d["overlap"][0]["global"]
    assert (ov["intersection"], ov["union"]) == (2, 10) and ov["jaccard"] == pytest.approx(0.2)
    assert ra["per_tensor"][name]["rank"] >= 1 and "mean_rank_frac" in ra["global"]

    summary = json.loads((root / "d" / "summary.json").read_text())
    assert summary["global"] == [ra["global"], rb["global"]] and summary["overlap"][0]["global"] == ov
    for i, run in enumerate((ra, rb)):  # one sparsity figure per run, its JSON the per-layer fractions
        fig = json.loads((root / "d" / f"sparsity_per_layer_{i}.json").read_text())
        assert fig["groups"] == list(run["per_layer"])
        assert fig["series"]["frac_bf16"] == [run["per_layer"][g]["frac_bf16"] for g in fig["groups"]]
        assert (root / "d" / f"sparsity_per_layer_{i}.png").read_bytes()[:4] == b"\x89PNG"
    printed = " ".join(proc.stdout.split())
    assert "overlap of the bf16 changed sets" in printed and "blocks.1" in printed and "#1 b" in printed


def test_diff_single_run_and_no_rank(checkpoints):
    root, _ = checkpoints
    run_cli("diff", root / "base", root / "a", "--out", root / "d", "--no-rank")
    d = json.loads((root / "d" / "diff.json").read_text())
    assert d["overlap"] == [] and d["measures"] == ["bf16", "fp32"]
    assert d["per_run"][0]["global"]["n_matrices_ranked"] == 0
    assert (root / "d" / "sparsity_per_layer.png").is_file()
    assert json.loads((root / "d" / "config.json").read_text())["rank"] is False


@pytest.mark.parametrize("case, message", [
    ("missing", "checkpoint not found"),
    ("incompatible", "tensor names differ from base"),
    ("atol", "--atol must be a finite number >= 0"),
    ("garbage", "unreadable safetensors file"),
])
def test_diff_bad_input_is_one_error_line_and_no_files(checkpoints, case, message):
    root, _ = checkpoints
    run = root / "a"
    extra = []
    if case == "missing":
        run = root / "nowhere"
    elif case == "incompatible":  # 3 layers instead of 2
        torch.manual_seed(1)
        save(root / "s", GPT(config_for_size("s", Tokenizer().vocab_size, 128)).state_dict(), size="s")
        run = root / "s"
    elif case == "atol":
        extra = ["--atol", -1]
    else:
        (root / "g.safetensors").write_bytes(b"not a safetensors file at all")
        run = root / "g.safetensors"
    proc = run_cli("diff", root / "base", run, "--out", root / "d", *extra, check=False)
    assert proc.returncode == 2 and message in proc.stderr
    assert proc.stderr.strip().startswith("error:") and len(proc.stderr.strip().splitlines()) <= 2
    assert not (root / "d").exists()
