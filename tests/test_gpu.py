"""CUDA checks: the `hf:` paths with --device cuda, and the world model's sampler on a GPU.

Marked `gpu` and deselected by default (CI has no GPU). On a machine with CUDA:

    .venv/bin/python -m pytest -m gpu tests/test_gpu.py

Without CUDA every test here is skipped, and says so.
"""

import json

import pytest
import torch

pytest.importorskip("transformers")
from safetensors.torch import load_file

from priorlab.model.gpt import GPT, GPTConfig
from priorlab.model.sampling import sample, sequence_logprobs
from tests.tiny_hf import ADDITION_ROWS, cli, save_tiny_qwen, write_jsonl

pytestmark = [pytest.mark.gpu,
              pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")]



@pytest.fixture()
def setup(tmp_path):
    return save_tiny_qwen(tmp_path / "base"), write_jsonl(tmp_path / "d.jsonl", ADDITION_ROWS)


def test_hf_eval_on_cuda_is_seeded_and_records_the_device(tmp_path, setup):
    model, data = setup
    args = ("eval", "--model", f"hf:{model}", "--data", data, "--samples", 4, "--k", "1,2,4", "--max-new-tokens", 8,
            "--template", "qwen-math", "--device", "cuda", "--n-boot", 50)
    for out_dir in ("a", "b"):
        r, out = cli(*args, "--out", tmp_path / out_dir)
        assert r.exit_code == 0, out
    s = json.loads((tmp_path / "a" / "summary.json").read_text())
    assert "cuda" in json.dumps(s) and sum(s["status_counts"].values()) == 16
    assert 0.0 <= s["pass@1"] <= s["pass@4"] <= 1.0
    # the same seed on the same GPU gives the same completions
    assert (tmp_path / "a" / "samples.jsonl").read_text() == (tmp_path / "b" / "samples.jsonl").read_text()


def test_hf_rl_and_sft_steps_on_cuda(tmp_path, setup):
    base, data = setup
    r, out = cli("rl", "--init", f"hf:{base}", "--data", data, "--reward", "random:0.5", "--steps", 2,
                 "--prompts-per-step", 2, "--group-size", 4, "--minibatches", 2, "--max-new-tokens", 8, "--lr", 1e-2,
                 "--template", "qwen-math", "--device", "cuda", "--out", tmp_path / "rl")
    assert r.exit_code == 0, out
    rows = [json.loads(x) for x in (tmp_path / "rl" / "metrics.jsonl").read_text().splitlines()]
    assert [x["step"] for x in rows if "loss/ratio_max" in x] == [1, 2]
    before = load_file(base / "model.safetensors")
    after = load_file(tmp_path / "rl" / "model" / "model.safetensors")
    assert any(not torch.equal(before[k], after[k]) for k in before)  # saved to CPU files, and moved
    r, out = cli("sft", "--model", f"hf:{base}", "--data", data, "--steps", 20, "--lr", 1e-2, "--device", "cuda",
                 "--out", tmp_path / "sft")
    assert r.exit_code == 0, out
    losses = [json.loads(x)["loss/sft"] for x in (tmp_path / "sft" / "metrics.jsonl").read_text().splitlines()]
    assert losses[-1] < losses[0]


def test_world_model_sampler_on_cuda_agrees_with_cpu():
    torch.manual_seed(0)
    model = GPT(GPTConfig(vocab_size=13, n_layer=2, n_head=2, n_embd=32, block_size=48)).eval()
    with torch.no_grad():  # large weights: greedy choices with clear margins, so CPU and GPU agree
        for p in model.parameters():
            p.mul_(8)
    prompts = [[1, 2, 3, 4, 5], [6, 7], [8, 9, 10]]
    cpu = sample(model, prompts, max_new_tokens=20, eos_id=None, pad_id=0, temperature=0)
    gpu_model = model.cuda()
    gpu = sample(gpu_model, prompts, max_new_tokens=20, eos_id=None, pad_id=0, temperature=0)
    assert gpu.tokens.is_cuda
    assert torch.equal(gpu.tokens.cpu(), cpu.tokens)
    assert torch.allclose(gpu.logprobs.cpu(), cpu.logprobs, atol=1e-4)
    drawn = [sample(gpu_model, prompts, max_new_tokens=20, eos_id=None, pad_id=0, seed=3) for _ in range(2)]
    assert torch.equal(drawn[0].tokens, drawn[1].tokens)
    # the trainer's log-probabilities of what the sampler drew, on the GPU
    ids = torch.cat([torch.tensor([[0, 0, 0] + prompts[1]], device="cuda"), drawn[0].tokens[1:2]], 1)
    mask = torch.arange(ids.shape[1], device="cuda")[None] >= 3  # left padding, then prompt and completion
    logp, _ = sequence_logprobs(gpu_model, ids, mask, None, None)
    assert torch.allclose(logp[0, 5:], drawn[0].logprobs[1], atol=1e-4)


def test_vllm_backend_on_a_gpu_machine(tmp_path, setup):
    """Without vllm: one clear error. With it: the backend's completions are graded like the HF backend's."""
    import importlib.util

    model, data = setup
    args = ("eval", "--model", f"hf:{model}", "--data", data, "--samples", 4, "--max-new-tokens", 8, "--n-boot", 20,
            "--backend", "vllm", "--device", "cuda", "--out", tmp_path / "v")
    r, out = cli(*args)
    if importlib.util.find_spec("vllm") is None:
        assert r.exit_code == 2 and "vllm is not installed" in out and "Traceback" not in out, out
        assert not (tmp_path / "v").exists()
    else:
        assert r.exit_code == 0, out
        s = json.loads((tmp_path / "v" / "summary.json").read_text())
        assert sum(s["status_counts"].values()) == 8 and s["backend"] == "vllm"
