"""Pretraining throughput of the default model size: tokens/s and achieved FLOP/s as a fraction of a
fp32 matmul peak measured in the same run. Prints one JSON object.

    .venv/bin/python bench/pretrain.py [--size s] [--steps 30] [--threads 2]

Training FLOPs per token follow the PaLM appendix-B count: 6·N (N = non-embedding parameters plus the
tied output projection, which is a real matmul here) + 12·L·T·C for attention scores and values
(forward + backward), T the sequence length, C the width. The peak is the best of a few large square
fp32 matmuls (torch.mm, 2048²) on the same threads.
"""

from __future__ import annotations

import argparse
import json
import platform
import time

import numpy as np
import torch

from priorlab.model.gpt import GPT, config_for_size
from priorlab.pretrain import BLOCK_SIZE, PretrainConfig, _wrap, get_batch, make_optimizer
from priorlab.world.corpus import build_corpus
from priorlab.world.mixtures import load_mixture, mixture_from_dict
from priorlab.world.tokenizer import Tokenizer


def matmul_peak(n: int = 2048, repeats: int = 5) -> float:
    a, b = torch.randn(n, n), torch.randn(n, n)
    torch.mm(a, b)
    best = float("inf")
    for _ in range(repeats):
        t = time.perf_counter()
        torch.mm(a, b)
        best = min(best, time.perf_counter() - t)
    return 2 * n**3 / best


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--size", default="s")
    ap.add_argument("--steps", type=int, default=30)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    cfg = PretrainConfig(size=args.size)
    tok = Tokenizer()
    mix = load_mixture(cfg.mixture)
    mix = mixture_from_dict({**mix.to_dict(), "documents": 20_000}, mix.name)
    corpus = build_corpus(mix, 0, tok)
    stream = _wrap(corpus, cfg.seq_len)
    torch.manual_seed(0)
    model = GPT(config_for_size(cfg.size, tok.vocab_size, BLOCK_SIZE))
    opt = make_optimizer(model, cfg)
    times = []
    for step in range(args.steps + 5):
        x, y = get_batch(corpus, stream, step, 0, cfg.batch_size, cfg.seq_len)
        t = time.perf_counter()
        _, loss = model(x, y)
        opt.zero_grad(set_to_none=True)
        loss.backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        loss.item()
        if step >= 5:  # warm-up
            times.append(time.perf_counter() - t)
    step_s = float(np.median(times))
    tokens = cfg.batch_size * cfg.seq_len
    mc = model.cfg
    n_matmul = sum(p.numel() for n, p in model.named_parameters() if p.dim() == 2)  # blocks + tied head
    flops_per_token = 6 * n_matmul + 12 * mc.n_layer * cfg.seq_len * mc.n_embd
    achieved = flops_per_token * tokens / step_s
    peak = matmul_peak()
    print(json.dumps({
        "bench": "pretrain", "size": args.size, "params": model.num_params(), "threads": args.threads,
        "batch": [cfg.batch_size, cfg.seq_len], "median_step_s": step_s, "tokens_per_s": tokens / step_s,
        "flops_per_token": flops_per_token, "achieved_gflops": achieved / 1e9, "matmul_peak_gflops": peak / 1e9,
        "fraction_of_peak": achieved / peak, "goal_fraction": 0.5, "torch": torch.__version__,
        "machine": platform.machine(),
    }, indent=2))


if __name__ == "__main__":
    main()
