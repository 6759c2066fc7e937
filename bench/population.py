"""Population sampling (model.population) against the same members sampled one by one with today's sampler.

The workload is the quick preset's RL rollout: R = 8 members of size `s` (3 layers, width 96, 4 heads),
each with its own (random) weights and seed, 16 prompts x 8 samples = 128 rows of up to 96 new tokens.
Each prompt has 7-15 tokens; the population pads them to a fixed 20. Baseline: the 8 members sampled
one after another with `sampling.sample` (oneDNN-packed weights, TorchScript step, finished rows
dropped). Both run on one thread (as the sweep's workers do), alternately in one process, after
warm-up; the median wall time of each is reported, with generated tokens per second and the ratio.

    python bench/population.py [--members 8] [--repeats 5] [--threads 1]

Prints one JSON object. Issue 15's goal (for the whole RL step, sampling and update): >= 4x. This
benchmark measures the sampling half only. Measured 2026-12-03 on the 2-core machine (one thread, while a
quick retest ran beside it): 0.76x at 128 rows per member, 0.82x at 16 (`--rows 16`): slower than the
singles. A profile puts 61-75% of the population's time in `torch.bmm`/`baddbmm` of small per-member
matrices (8 x [16..128, 96] @ [96, 288]: ~40 GFLOP/s), against oneDNN's packed linears in the single
sampler; stacking members does not pay on this CPU at these shapes.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import time

import torch

from priorlab.model.gpt import GPT, config_for_size
from priorlab.model.population import Population, sample_population
from priorlab.model.sampling import sample

VOCAB, BLOCK, PROMPT_LEN, EOS, PAD = 24, 128, 20, 2, 0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--members", type=int, default=8)
    ap.add_argument("--rows", type=int, default=128)
    ap.add_argument("--new-tokens", type=int, default=96)
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--threads", type=int, default=1)
    args = ap.parse_args()
    torch.set_num_threads(args.threads)
    R = args.members
    models = []
    for r in range(R):
        torch.manual_seed(r)
        models.append(GPT(config_for_size("s", VOCAB, BLOCK)).eval())
    rng = random.Random(0)
    prompts = [[[rng.randrange(3, VOCAB) for _ in range(rng.randrange(7, 16))] for _ in range(args.rows)]
               for _ in range(R)]
    pop = Population(models)

    def singles(rep: int) -> int:
        return sum(int(sample(m, p, max_new_tokens=args.new_tokens, eos_id=EOS, pad_id=PAD, seed=rep * R + r)
                       .lengths.sum()) for r, (m, p) in enumerate(zip(models, prompts)))

    def population(rep: int) -> int:
        outs = sample_population(pop, prompts, max_new_tokens=args.new_tokens, eos_id=EOS, pad_id=PAD,
                                 prompt_len=PROMPT_LEN, seeds=[rep * R + r for r in range(R)])
        return sum(int(o.lengths.sum()) for o in outs)

    for rep in range(2):  # warm-up: packing, TorchScript, allocator
        singles(rep), population(rep)
    t_single, t_pop, n_single, n_pop = [], [], [], []
    for rep in range(args.repeats):
        t = time.perf_counter()
        n_single.append(singles(rep))
        t_single.append(time.perf_counter() - t)
        t = time.perf_counter()
        n_pop.append(population(rep))
        t_pop.append(time.perf_counter() - t)
    single_tps = sum(n_single) / sum(t_single)
    pop_tps = sum(n_pop) / sum(t_pop)
    print(json.dumps({
        "benchmark": "population sampling", "members": R, "rows_per_member": args.rows,
        "max_new_tokens": args.new_tokens, "threads": args.threads, "size": "s",
        "singles_median_s": statistics.median(t_single), "population_median_s": statistics.median(t_pop),
        "singles_tokens_per_s": single_tps, "population_tokens_per_s": pop_tps,
        "ratio": pop_tps / single_tps, "torch": torch.__version__,
    }, indent=1))


if __name__ == "__main__":
    main()
