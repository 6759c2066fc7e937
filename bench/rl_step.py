"""RL step time: priorlab's trainer stages against TRL's `GRPOTrainer` on the identical workload.

Both sides: a randomly initialised 4-layer, width-128, 4-head, MLP-512 decoder over the same 21-symbol
character vocabulary (priorlab's ids 0..20: <pad> <bos> <eos>, digits, `+-*=?:;.`), prompts `<bos>a+b=`
with a, b in [10, 99], 8 prompts x 8 completions per step, at most 32 new tokens, temperature 1, no KL,
AdamW (lr 1e-4, betas 0.9/0.99, no weight decay, constant schedule, grad-norm clip 1), one update on the
whole rollout batch of 64, token-level loss with ratio clipping at 0.2 (TRL `loss_type="dapo"`; priorlab
`grpo` with `agg=token_mean`), fp32, CPU. Reward: 1 if the completion is exactly the digits of a+b.

A step is sample + score + advantages + update. priorlab's step is the library's own
`priorlab.rl.loop.Trainer.step` (the body of `train` before evaluate / log / checkpoint), with this
workload as an environment (`SumEnv`: prompts `a+b=` and exact-digits verification, since the world's
`Q: a+b=?\\n` needs characters outside this 21-symbol vocabulary) and a `WorldPolicy` on the fresh model. TRL's step is timed by a callback from
`on_step_begin` to `on_step_end` (its logging and data loading fall outside, which favours TRL). The two
are interleaved, one priorlab step inside each TRL `on_step_end` after TRL's clock has stopped, so that
load from other processes hits both alike; the first `--warmup` steps of each are dropped, and the median
is reported. Goal: priorlab's median step time <= 0.5x TRL's.

    .venv/bin/python bench/rl_step.py [--steps 12] [--warmup 2] [--threads 2]   # needs the `bench` extra

Prints one JSON object to stdout (TRL's own log lines go to stderr). Where the models differ, they differ
as the architectures do: Llama's MLP is SwiGLU (three 128x512 matrices, ~1.3x priorlab's matmul work per
token) and it has RMSNorm; both use rotary positions and tied input/output embeddings.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import random
import statistics
import sys
import tempfile
import time

import torch

from priorlab.common.config import AdamWConfig
from priorlab.common.verdict import Verdict
from priorlab.model.gpt import GPT, GPTConfig
from priorlab.rl import loop as rl
from priorlab.rl.envs import WorldEnv
from priorlab.rl.policies import WorldPolicy
from priorlab.world.tasks import Difficulty, Problem, get_task
from priorlab.world.tokenizer import SPECIALS, Tokenizer

SHAPE = {"n_layer": 4, "n_embd": 128, "n_head": 4, "mlp_hidden": 512, "vocab_size": 21}
WORKLOAD = {"prompts_per_step": 8, "group_size": 8, "max_new_tokens": 32, "temperature": 1.0, "lr": 1e-4,
            "beta": 0.0, "adam_betas": (0.9, 0.99), "grad_clip": 1.0, "clip_eps": 0.2,
            "operands": "a+b, a and b in [10, 99]"}
SUMS = Difficulty(n_operands=2, digits=2, ops="+")  # two 2-digit operands: a, b in [10, 99]
BLOCK_SIZE = 64  # >= <bos> + 5 prompt characters + 32 new tokens


def symbols() -> list[str]:
    """The 21 symbols of both vocabularies, in id order: priorlab's first 21 tokens."""
    return Tokenizer().itos[: SHAPE["vocab_size"]]


def prompt_text(p: Problem) -> str:
    return f"{p.expr}="


def draw(n: int, rng: random.Random) -> list[Problem]:
    task = get_task()
    return [task.generate(rng, SUMS, split="train") for _ in range(n)]


def is_correct(text: str, answer: int) -> bool:
    return text == str(answer)


class SumEnv:
    """This workload as an RL environment (`priorlab.rl.envs.Env`): prompts `a+b=` drawn from (seed, step),
    correct = 1[completion == digits of a+b]; the world's rollout metrics, as `train` logs them."""

    def __init__(self, seed: int, tok: Tokenizer, prompts_per_step: int):
        self.seed, self.tok, self.P, self.world = seed, tok, prompts_per_step, WorldEnv()

    def prepare(self, policy, out, log) -> None:
        pass

    def prompts(self, step: int) -> list[Problem]:
        return draw(self.P, random.Random(f"bench-rl:{self.seed}:{step}"))

    def prompt_ids(self, problems: list[Problem]) -> list[list[int]]:
        return [self.tok.encode(prompt_text(p), bos=True) for p in problems]

    def verify(self, problem: Problem, texts) -> list[Verdict]:
        return [Verdict(is_correct(t, problem.answer), t, True, None) for t in texts]

    def label_hits(self, problem, verdicts):
        raise ValueError("the sum workload has no incorrect labels")

    def rollout_metrics(self, ro) -> dict:
        return self.world.rollout_metrics(ro)

    def evaluate(self, step: int) -> dict:
        return {}

    def problem_id(self, problem: Problem) -> str:
        return problem.expr

    def close(self) -> None:
        pass


# ------------------------------------------------------------------------------------------- priorlab
class PriorlabRun:
    """`priorlab.rl.loop.Trainer` on this workload and a fresh model (train's loop body minus evaluate / log /
    checkpoint)."""

    def __init__(self, seed: int):
        w = WORKLOAD
        cfg = rl.RLConfig(prompts_per_step=w["prompts_per_step"], group_size=w["group_size"], minibatches=1,
                          epochs=1, lr=w["lr"], grad_clip=w["grad_clip"], temperature=w["temperature"],
                          max_new_tokens=w["max_new_tokens"], seed=seed, algo="grpo",
                          overrides=(("agg", "token_mean"), ("eps_low", w["clip_eps"]), ("eps_high", w["clip_eps"])),
                          adam=AdamWConfig(betas=w["adam_betas"]))
        torch.manual_seed(seed)
        model = GPT(GPTConfig(vocab_size=SHAPE["vocab_size"], n_layer=SHAPE["n_layer"], n_head=SHAPE["n_head"],
                              n_embd=SHAPE["n_embd"], mlp_hidden=SHAPE["mlp_hidden"], block_size=BLOCK_SIZE))
        model.train()
        tok = Tokenizer()
        policy = WorldPolicy(model, {}, tok)
        self.trainer = rl.Trainer(cfg, SumEnv(seed, tok, cfg.prompts_per_step), policy,
                                  cfg.adam.build(model.parameters(), lr=cfg.lr))

    def step(self, step: int) -> dict:
        return self.trainer.step(step)[0]


# ------------------------------------------------------------------------------------------------ TRL
def hf_tokenizer(path: str):
    """A character-level `PreTrainedTokenizerFast` over `symbols()`, saved to and loaded from `path`."""
    from tokenizers import Regex, decoders, models, pre_tokenizers, processors
    from tokenizers import Tokenizer as HFTokenizer
    from transformers import PreTrainedTokenizerFast

    pad, bos, eos = SPECIALS
    vocab = {s: i for i, s in enumerate(symbols())}
    t = HFTokenizer(models.WordLevel(vocab, unk_token=pad))  # no unknowns can occur: prompts are digits, + and =
    t.pre_tokenizer = pre_tokenizers.Split(Regex("."), behavior="isolated")
    t.decoder = decoders.Fuse()
    t.post_processor = processors.TemplateProcessing(single=f"{bos} $A", special_tokens=[(bos, vocab[bos])])
    PreTrainedTokenizerFast(tokenizer_object=t, pad_token=pad, bos_token=bos, eos_token=eos,
                            padding_side="left").save_pretrained(path)
    return PreTrainedTokenizerFast.from_pretrained(path)


def hf_model(tok):
    from transformers import LlamaConfig, LlamaForCausalLM

    cfg = LlamaConfig(vocab_size=SHAPE["vocab_size"], hidden_size=SHAPE["n_embd"],
                      intermediate_size=SHAPE["mlp_hidden"], num_hidden_layers=SHAPE["n_layer"],
                      num_attention_heads=SHAPE["n_head"], num_key_value_heads=SHAPE["n_head"],
                      max_position_embeddings=BLOCK_SIZE, tie_word_embeddings=True,
                      pad_token_id=tok.pad_token_id, bos_token_id=tok.bos_token_id, eos_token_id=tok.eos_token_id)
    return LlamaForCausalLM(cfg)


def trl_reward(prompts, completions, answer, **_):
    return [float(is_correct(c, a)) for c, a in zip(completions, answer)]


def clocks() -> tuple[float, float]:
    return time.perf_counter(), time.process_time()


def elapsed(t0: tuple[float, float]) -> tuple[float, float]:
    """(wall, process CPU) seconds since `clocks()` returned t0."""
    return tuple(b - a for a, b in zip(t0, clocks()))


def run_trl(steps: int, seed: int, tmp: str, after_step) -> tuple[list[tuple[float, float]], list]:
    """Train TRL's GRPOTrainer for `steps` steps; returns per-step (wall, CPU) seconds and its log history.

    `after_step(i)` runs after TRL's clock for step i has stopped (the priorlab step, interleaved).
    """
    from datasets import Dataset
    from transformers import TrainerCallback
    from trl import GRPOConfig, GRPOTrainer

    w = WORKLOAD
    torch.manual_seed(seed)
    tok = hf_tokenizer(f"{tmp}/tokenizer")
    model = hf_model(tok)
    problems = draw(steps * w["prompts_per_step"], random.Random(f"bench-trl:{seed}"))
    text = prompt_text(problems[0])
    same_ids = tok(text)["input_ids"] == Tokenizer().encode(text, bos=True)
    if not same_ids or tok.decode([5, 4, 2, 0], skip_special_tokens=True) != "21":
        raise RuntimeError("the HF tokenizer does not match priorlab's on the shared 21 symbols")
    data = Dataset.from_dict({"prompt": [prompt_text(p) for p in problems], "answer": [p.answer for p in problems]})
    args = GRPOConfig(
        output_dir=f"{tmp}/trl", max_steps=steps, seed=seed, use_cpu=True, bf16=False, fp16=False,
        report_to=[], logging_steps=1, save_strategy="no", disable_tqdm=True, gradient_checkpointing=False,
        per_device_train_batch_size=w["prompts_per_step"] * w["group_size"], gradient_accumulation_steps=1,
        steps_per_generation=1, num_generations=w["group_size"], num_iterations=1,
        max_completion_length=w["max_new_tokens"], temperature=w["temperature"], beta=w["beta"],
        loss_type="dapo", epsilon=w["clip_eps"], learning_rate=w["lr"], lr_scheduler_type="constant",
        adam_beta1=w["adam_betas"][0], adam_beta2=w["adam_betas"][1], weight_decay=0.0,
        max_grad_norm=w["grad_clip"], dataloader_num_workers=0,
    )
    times: list[tuple[float, float]] = []

    class StepTimer(TrainerCallback):
        def on_step_begin(self, args, state, control, **kw):
            self.t0 = clocks()

        def on_step_end(self, args, state, control, **kw):
            times.append(elapsed(self.t0))
            after_step(len(times) - 1)

    trainer = GRPOTrainer(model=model, reward_funcs=trl_reward, args=args, train_dataset=data,
                          processing_class=tok, callbacks=[StepTimer()])
    with contextlib.redirect_stdout(sys.stderr):  # keep stdout for the one JSON object
        trainer.train()
    return times, trainer.state.log_history


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--steps", type=int, default=12)
    ap.add_argument("--warmup", type=int, default=2)
    ap.add_argument("--threads", type=int, default=2)
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args()
    if not 0 <= args.warmup < args.steps:
        raise SystemExit("need 0 <= --warmup < --steps")

    import transformers
    import trl

    torch.set_num_threads(args.threads)
    ours = PriorlabRun(args.seed)
    ours_times: list[tuple[float, float]] = []
    last: dict = {}

    def priorlab_step(i: int) -> None:
        t0 = clocks()
        last.update(ours.step(i))
        ours_times.append(elapsed(t0))

    with tempfile.TemporaryDirectory() as tmp:
        trl_times, trl_log = run_trl(args.steps, args.seed, tmp, priorlab_step)
    if len(trl_times) != args.steps or len(ours_times) != args.steps:
        raise RuntimeError(f"expected {args.steps} steps each, got TRL {len(trl_times)}, priorlab {len(ours_times)}")

    timed = {"priorlab": ours_times[args.warmup:], "trl": trl_times[args.warmup:]}
    wall = {k: statistics.median(w for w, _ in v) for k, v in timed.items()}
    cpu = {k: statistics.median(c for _, c in v) for k, v in timed.items()}
    paired = statistics.median(p[0] / t[0] for p, t in zip(timed["priorlab"], timed["trl"]))
    trl_last = [r for r in trl_log if "loss" in r][-1]
    print(json.dumps({
        "bench": "rl_step",
        "priorlab_median_step_s": round(wall["priorlab"], 4),
        "trl_median_step_s": round(wall["trl"], 4),
        "ratio": round(wall["priorlab"] / wall["trl"], 3),
        "goal_ratio": 0.5,
        # Under load from other processes: the median of step-by-step ratios (each pair ran back to back),
        # and the same medians in process CPU time (both threads), which load inflates less than wall time.
        "paired_ratio_median": round(paired, 3),
        "cpu_median_step_s": {k: round(v, 4) for k, v in cpu.items()},
        "cpu_ratio": round(cpu["priorlab"] / cpu["trl"], 3),
        "steps": args.steps, "warmup": args.warmup, "threads": args.threads, "torch_threads": torch.get_num_threads(),
        "load_avg_1m": round(os.getloadavg()[0], 2),
        "step_s": {"priorlab": [round(w, 4) for w, _ in ours_times], "trl": [round(w, 4) for w, _ in trl_times]},
        "last_step": {"priorlab": {k: round(last[k], 4) for k in ("reward/mean", "length/mean", "loss/loss")},
                      "trl": {k: round(trl_last[k], 4) for k in ("reward", "completions/mean_length", "loss")
                              if k in trl_last}},
        "shape": SHAPE, "workload": WORKLOAD, "dtype": "float32",
        "torch": torch.__version__, "transformers": transformers.__version__, "trl": trl.__version__,
    }))


if __name__ == "__main__":
    main()
