"""Throughput of priorlab's sampler against Hugging Face `generate` on a model of the same shape.

Both models are randomly initialised, fp32, on CPU: 4 layers, width 128, 4 heads, MLP 512, vocabulary
21; 64 prompts of 7 tokens, exactly 32 new tokens each, sampling at temperature 1. The two are timed
alternately in the same process (so machine noise hits both), after warm-up, and the median wall time
of each is reported. Goal: priorlab >= 3x the tokens/s of `generate`.

    python bench/sampling.py [--repeats 15] [--threads 2]     # needs: pip install transformers

Prints one JSON object to stdout. Note the models differ where the architectures do: Llama's MLP is
SwiGLU (three 128x512 matrices), priorlab's is GELU (two), so per token Llama does ~1.3x the matmul work.
"""

from __future__ import annotations

import argparse
import json
import statistics
import time

import torch

from priorlab.model.gpt import GPT, GPTConfig
from priorlab.model.sampling import sample

SHAPE = {"n_layer": 4, "n_embd": 128, "n_head": 4, "mlp_hidden": 512, "vocab_size": 21,
         "batch": 64, "prompt_len": 7, "new_tokens": 32}


def hf_model():
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=SHAPE["vocab_size"], hidden_size=SHAPE["n_embd"],
                      intermediate_size=SHAPE["mlp_hidden"], num_hidden_layers=SHAPE["n_layer"],
                      num_attention_heads=SHAPE["n_head"], num_key_value_heads=SHAPE["n_head"],
                      max_position_embeddings=64, bos_token_id=1, eos_token_id=2, pad_token_id=0)
    return LlamaForCausalLM(cfg).eval()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeats", type=int, default=15)
    ap.add_argument("--warmup", type=int, default=3)
    ap.add_argument("--threads", type=int, default=2)
    args = ap.parse_args()

    import transformers

    torch.set_num_threads(args.threads)
    torch.manual_seed(0)
    n_new, batch = SHAPE["new_tokens"], SHAPE["batch"]
    ours = GPT(GPTConfig(vocab_size=SHAPE["vocab_size"], n_layer=SHAPE["n_layer"], n_head=SHAPE["n_head"],
                         n_embd=SHAPE["n_embd"], mlp_hidden=SHAPE["mlp_hidden"], block_size=64)).eval()
    theirs = hf_model()
    prompts = torch.randint(3, SHAPE["vocab_size"], (batch, SHAPE["prompt_len"]))
    prompt_lists = prompts.tolist()

    def run_ours(rep: int) -> int:
        out = sample(ours, prompt_lists, max_new_tokens=n_new, eos_id=None, pad_id=0, seed=rep)
        return out.tokens.numel()

    def run_theirs(rep: int) -> int:
        torch.manual_seed(rep)
        with torch.inference_mode():
            out = theirs.generate(prompts, attention_mask=torch.ones_like(prompts), do_sample=True,
                                  max_new_tokens=n_new, min_new_tokens=n_new, use_cache=True, pad_token_id=0)
        return out[:, prompts.shape[1]:].numel()

    times: dict[str, list[float]] = {"priorlab": [], "hf_generate": []}
    for rep in range(args.warmup + args.repeats):
        for name, fn in (("priorlab", run_ours), ("hf_generate", run_theirs)):
            t0 = time.perf_counter()
            n_tokens = fn(rep)
            elapsed = time.perf_counter() - t0
            if n_tokens != batch * n_new:
                raise RuntimeError(f"{name} generated {n_tokens} tokens, expected {batch * n_new}")
            if rep >= args.warmup:
                times[name].append(elapsed)

    tps = {name: batch * n_new / statistics.median(ts) for name, ts in times.items()}
    print(json.dumps({
        "priorlab_tokens_per_s": round(tps["priorlab"], 1),
        "hf_generate_tokens_per_s": round(tps["hf_generate"], 1),
        "ratio": round(tps["priorlab"] / tps["hf_generate"], 2),
        "median_s": {name: round(statistics.median(ts), 5) for name, ts in times.items()},
        "shape": SHAPE,
        "dtype": "float32",
        "threads": args.threads,
        "repeats": args.repeats,
        "warmup": args.warmup,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
    }))


if __name__ == "__main__":
    main()
