"""pass@k sampling throughput: 256 completions for each of 500 held-out problems with the default model
size, as `priorlab eval --samples 256` does (sampling + verification). Prints one JSON object.

    .venv/bin/python bench/eval_passk.py [--model RUN_DIR] [--problems 500] [--samples 256] [--threads 2]

Without --model a randomly initialised default-size model is used after a short pretraining-free check
(its completions are garbage, which makes them longer than a trained model's: a conservative timing).
"""

from __future__ import annotations

import argparse
import json
import time

import torch

from priorlab.evals import world_eval as ev
from priorlab.model.checkpoint import load_model
from priorlab.model.gpt import DEFAULT_SIZE, GPT, config_for_size
from priorlab.pretrain import BLOCK_SIZE
from priorlab.world.tasks import parse_difficulties
from priorlab.world.tokenizer import Tokenizer


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", default=None)
    ap.add_argument("--problems", type=int, default=500)
    ap.add_argument("--samples", type=int, default=256)
    ap.add_argument("--difficulty", default="4x1")  # 3x1 has only ~400 test-split problems
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    if args.model:
        model, _ = load_model(args.model)
    else:
        torch.manual_seed(0)
        model = GPT(config_for_size(DEFAULT_SIZE, Tokenizer().vocab_size, BLOCK_SIZE)).eval()
    cfg = ev.EvalConfig(problems=args.problems, samples=args.samples, difficulty=args.difficulty)
    problems = ev.test_problems(parse_difficulties(args.difficulty)[0], args.problems, 0)
    t0 = time.perf_counter()
    comps = ev.generate(model, problems, args.samples, cfg, seed=0)
    t_sample = time.perf_counter() - t0
    scored = ev.score(problems, comps)
    t_total = time.perf_counter() - t0
    n = sum(len(c) for c in comps)
    tokens = sum(c["length"] for cs in comps for c in cs)
    print(json.dumps({
        "bench": "eval_passk", "model": args.model or f"random {DEFAULT_SIZE}", "problems": len(problems),
        "samples_per_problem": args.samples, "completions": n, "generated_tokens": tokens,
        "sampling_s": t_sample, "total_s": t_total, "completions_per_s": n / t_total,
        "tokens_per_s": tokens / t_sample, "threads": args.threads,
        "accuracy": sum(c["correct"] for cs in scored for c in cs) / n, "torch": torch.__version__,
    }, indent=2))


if __name__ == "__main__":
    main()
