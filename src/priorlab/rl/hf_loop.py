"""RLVR on a Hugging Face checkpoint and a real math data file: the GRPO family of `priorlab.rl.algos`.

    priorlab rl --init hf:models/Qwen2.5-Math-1.5B --data math_train.jsonl --template qwen-math \
        --reward correct --algo grpo --steps 100 --lr 1e-6 --max-new-tokens 1024 --out runs/qwen-rl

The same stages as the controlled world's trainer (`rl.loop`), with real text in place of the world:
- sample: P problems of --data per step (a pure function of (seed, step)), G completions each with
  Hugging Face `generate` (`model.hf.generate.hf_rollout`, seeded by (seed, step));
- score: `math.env.MathReward` -- every priorlab reward spec (correct, random, incorrect, format,
  majority, brier, + length / malformed penalties) graded by `priorlab.math.grading` (Math-Verify), the
  scorer of `priorlab eval` and `priorlab grade`; the true correctness is logged beside the reward;
- advantages and loss: `algos.group_advantages`, `algos.policy_loss` (every preset but `hicra`, which
  needs token labels that only the world has);
- update: `rl.loop.update` itself (mini-batches x epochs per rollout batch), scoring the policy with
  the HF forward, `model.hf.generate.sequence_logprobs_hf`;
- checkpoint: `OUT/checkpoints/step_N/` = `save_pretrained` (safetensors) + tokenizer + `state.pt`
  (optimizer, step); the final policy in `OUT/model/` (an HF checkpoint: `priorlab eval --model
  hf:OUT`, `priorlab diff BASE OUT`); `config.json`, `metrics.jsonl`, `summary.json` (last) in OUT.

Departures from `rl.loop`, each for a reason:
- dropout is off while training (the model stays in eval mode), as in TRL's GRPOTrainer, so the
  sampling policy and the policy that is differentiated are the same function;
- old log-probs come from the rollout's own no-grad forward (`hf_rollout(logprobs=True)`) except for the
  first mini-batch, which takes its own forward, so its ratio is exactly 1;
- step 0 is not copied to `checkpoints/` (the base checkpoint is already on disk: diff against it);
- `--eval-data` (optional) gives `eval/acc_greedy`, `eval/acc_t1`, `eval/pass@n` at step 0, every
  --eval-every steps and at the end; without it the run logs training metrics only.

`--resume` restarts from the last `checkpoints/step_N/` (weights, optimizer); prompts and sampling seeds
are functions of (seed, step), so on CPU a resumed run ends bitwise identical to an uninterrupted one.
Tests: `.venv/bin/pytest tests/test_rl_hf_loop.py`.
"""

from __future__ import annotations

import copy
import random
import time
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from priorlab.common import runs
from priorlab.common.seeds import derive
from priorlab.math.data import Dataset, DataSpec
from priorlab.math.grading import DEFAULT_TIMEOUT, Grader, answer_key, gold_answer
from priorlab.math.prompts import add_special_tokens, check_template, render
from priorlab.model.hf.checkpoint import resume_optimizer, save_hf
from priorlab.model.hf.load import RUN_MODEL_DIR as MODEL_DIR
from priorlab.rl import algos
from priorlab.rl import loop as rl
from priorlab.rl.rewards import majority_answer, parse_spec


@dataclass(frozen=True)
class HFRLConfig:
    init: str
    data: DataSpec
    reward: str = "correct"
    algo: str = "grpo"
    steps: int = 10
    seed: int = 0
    prompts_per_step: int = 8  # P
    group_size: int = 8  # G
    minibatches: int = 4
    epochs: int = 1
    lr: float = 1e-6  # a common RLVR rate for 1.5B-7B models (Spurious Rewards, Dr. GRPO use 1e-6 .. 5e-7)
    grad_clip: float = 1.0
    temperature: float = 1.0
    top_p: float = 1.0
    max_new_tokens: int = 512
    template: str = "plain"
    dtype: str = "float32"  # master weights; bf16 AdamW updates lose the small steps RL makes
    device: str = "cpu"
    batch_size: int = 64  # sequences per generate call / per no-grad forward
    label_samples: int = 8  # base samples per problem for the `incorrect` reward's labels
    ckpt_every: int = 50
    eval_data: DataSpec | None = None
    eval_every: int = 50
    eval_samples: int = 4
    timeout: float = DEFAULT_TIMEOUT
    overrides: tuple = ()  # ((name, value), ...) applied to the algo preset

    def __post_init__(self) -> None:
        runs.require_positive(self, (
            "steps", "prompts_per_step", "group_size", "minibatches", "epochs", "max_new_tokens", "batch_size",
            "label_samples", "ckpt_every", "eval_every", "eval_samples"))
        if self.minibatches > self.prompts_per_step * self.group_size:
            raise ValueError("--minibatches cannot exceed prompts-per-step x group-size")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.temperature < 0 or not 0 < self.top_p <= 1:
            raise ValueError(f"--temperature {self.temperature} must be >= 0 and --top-p {self.top_p} in (0, 1]")
        check_template(self.template)
        if self.algo_config().hicra_alpha > 0:
            raise ValueError("--algo hicra / --hicra-alpha need planning-token labels, which only the controlled "
                             "world has; use another algorithm with Hugging Face models")

    def algo_config(self) -> algos.AlgoConfig:
        kw = dict(self.overrides)
        if self.algo == "dr_grpo" and "agg_constant" not in kw:
            kw["agg_constant"] = float(self.max_new_tokens)
        return algos.resolve_algo(self.algo, **kw)



# ------------------------------------------------------------------------------------------- data
class Prompts:
    """The rendered, tokenised prompts of a data file, and which of them step s trains on."""

    def __init__(self, lm, ds: Dataset, cfg: HFRLConfig):
        self.ds, self.cfg = ds, cfg
        from priorlab.model.hf.generate import encode_prompts

        texts = [render(ex.question, cfg.template, lm.tokenizer) for ex in ds.examples]
        self.ids = encode_prompts(lm, texts, add_special_tokens(cfg.template))

    def indices(self, step: int, pool: list[int]) -> list[int]:
        rng = random.Random(f"hf-rl-prompts:{self.cfg.seed}:{step}")
        P = self.cfg.prompts_per_step
        return rng.sample(pool, P) if len(pool) >= P else [rng.choice(pool) for _ in range(P)]


def wrong_labels(lm, prompts: Prompts, cfg: HFRLConfig, grader: Grader) -> dict[str, str]:
    """The `incorrect` reward's label per problem: the base model's majority answer where it is wrong
    (Spurious Rewards' construction); problems whose majority is right, or absent, get none."""
    from priorlab.model.hf.generate import hf_rollout

    n, style = cfg.label_samples, prompts.ds.style
    ro = hf_rollout(lm, prompts.ids, n=n, max_new_tokens=cfg.max_new_tokens, temperature=1.0, seed=derive(cfg.seed, "base-samples"),
                    batch_size=cfg.batch_size)
    grades = grader.grade(ro.texts, [ex.raw_answer for ex in prompts.ds.examples for _ in range(n)])
    labels = {}
    for i, ex in enumerate(prompts.ds.examples):
        row = grades[i * n:(i + 1) * n]
        keys = [answer_key(g.pred) if g.pred is not None else None for g in row]
        majority = majority_answer(keys)
        if majority is None:
            continue
        top = row[keys.index(majority)]
        label = f"#### {top.pred}" if style == "gsm8k" else top.pred
        try:
            gold_answer(label, style)
        except ValueError:
            continue  # e.g. a non-integer majority on an integer-answer (AIME) file cannot be a label
        if not top.correct:
            labels[ex.id] = label
    return labels


# ------------------------------------------------------------------------------------- stages
def score(reward, ds: Dataset, idx: list[int], texts: list[str], G: int, step: int,
          labels: dict | None) -> tuple[torch.Tensor, list]:
    """Rewards [P, G] and the per-sample RewardOutputs (components, shadow correctness)."""
    outs = []
    for p, i in enumerate(idx):
        ex = ds.examples[i]
        outs.append(reward.score_group(texts[p * G:(p + 1) * G], ex.raw_answer, step=step, prompt_index=p,
                                       wrong_label=labels.get(ex.id) if labels is not None else None))
    return torch.tensor([[o.score for o in g] for g in outs], dtype=torch.float32), outs


def update(model, opt, ro, adv: torch.Tensor, keep_rows: torch.Tensor, acfg, cfg: HFRLConfig, step: int,
           ref_model=None) -> dict:
    """`rl.loop.update` on an HF policy: scored by sequence_logprobs_hf; the rows that the first
    mini-batch does not hold take their old log-probs from the rollout (generate's own), which saves
    the extra forward pass of a large model."""
    from priorlab.model.hf.generate import sequence_logprobs_hf

    return rl.update(model, opt, ro, adv, keep_rows, acfg, cfg, step, ref_model,
                     policy_logprobs=sequence_logprobs_hf, old_logprobs=ro.logprobs, error=ValueError)


def evaluate_policy(lm, prompts: Prompts, cfg: HFRLConfig, grader: Grader) -> dict:
    """Greedy accuracy, accuracy at the training temperature (eval_samples each) and pass@eval_samples."""
    from priorlab.model.hf.generate import hf_rollout

    golds = [ex.raw_answer for ex in prompts.ds.examples]
    out = {}
    for name, temp, n in (("greedy", 0.0, 1), ("t1", cfg.temperature or 1.0, cfg.eval_samples)):
        ro = hf_rollout(lm, prompts.ids, n=n, max_new_tokens=cfg.max_new_tokens, temperature=temp,
                        top_p=cfg.top_p, seed=derive(cfg.seed, "eval"), batch_size=cfg.batch_size)
        c = np.array([g.correct for g in grader.grade(ro.texts, [g for g in golds for _ in range(n)])]).reshape(-1, n)
        out[f"eval/acc_{name}"] = float(c.mean())
        if n > 1:
            out[f"eval/pass@{n}"] = float(c.any(1).mean())
    return out


# ------------------------------------------------------------------------------------------- loop
def train(cfg: HFRLConfig, out: str | Path, *, resume: bool = False, progress: bool = True, log=print) -> dict:
    from priorlab.math.env import MathReward
    from priorlab.model.hf.generate import hf_rollout
    from priorlab.model.hf.load import load_hf

    out = Path(out)
    if (done := runs.finished_summary(out, resume, log)) is not None:
        return done
    acfg = cfg.algo_config()
    ds = cfg.data.load(log)
    eval_ds = cfg.eval_data.load(log) if cfg.eval_data is not None else None
    ckpt = runs.latest_checkpoint(out) if resume else None
    lm = load_hf(ckpt if ckpt is not None else cfg.init, dtype=cfg.dtype, device=cfg.device)
    model = lm.model  # stays in eval mode: dropout off (module doc)
    ref_model = copy.deepcopy(model) if acfg.kl_beta > 0 else None
    for p in ref_model.parameters() if ref_model is not None else ():
        p.requires_grad_(False)
    opt = torch.optim.AdamW(model.parameters(), lr=cfg.lr, betas=(0.9, 0.99), weight_decay=0.0)
    start = resume_optimizer(ckpt, opt, out, log)
    out.mkdir(parents=True, exist_ok=True)
    runs.atomic_write_json(out / "config.json", {**asdict(cfg), "stage": "rl", "backend": "hf",
                                                 "algo_resolved": asdict(acfg), "pad_source": lm.pad_source,
                                                 "code_version": runs.code_version()})
    metrics_log = runs.MetricsLog(out / "metrics.jsonl")
    metrics_log.truncate_after(start if ckpt is not None else -1)
    grader = Grader(style=ds.style, timeout=cfg.timeout)
    eval_grader = Grader(style=eval_ds.style, timeout=cfg.timeout) if eval_ds is not None else None
    try:
        prompts = Prompts(lm, ds, cfg)
        eval_prompts = Prompts(lm, eval_ds, cfg) if eval_ds is not None else None
        labels = None
        if parse_spec(cfg.reward).needs_labels:
            saved = out / "labels.json"
            labels = runs.read_json(saved) if saved.exists() else wrong_labels(lm, prompts, cfg, grader)
            runs.atomic_write_json(saved, labels)
            if not labels:
                raise ValueError(f"--reward incorrect: the base model's majority answer is never wrong on {ds.path}")
            log(f"incorrect reward: {len(labels)} problems whose base majority answer is wrong")
        pool = [i for i, ex in enumerate(ds.examples) if labels is None or ex.id in labels]
        reward = MathReward(cfg.reward, style=ds.style, seed=cfg.seed, grader=grader)
        if ckpt is None and eval_prompts is not None:
            metrics_log.append({"step": 0, **evaluate_policy(lm, eval_prompts, cfg, eval_grader)})
        t_run = time.perf_counter()
        for step in range(start, cfg.steps):
            t0 = time.perf_counter()
            idx = prompts.indices(step, pool)  # ---- sample
            ro = hf_rollout(lm, [prompts.ids[i] for i in idx], n=cfg.group_size, max_new_tokens=cfg.max_new_tokens,
                            temperature=cfg.temperature, top_p=cfg.top_p, seed=derive(cfg.seed, "step", step),
                            batch_size=cfg.batch_size, logprobs=True)
            rewards, outs = score(reward, ds, idx, ro.texts, cfg.group_size, step, labels)  # ---- score
            adv = algos.group_advantages(rewards, acfg)  # ---- advantages [P, G]
            keep = algos.dynamic_sampling_mask(rewards) if acfg.dynamic_sampling else torch.ones(len(idx), dtype=torch.bool)
            keep_rows = torch.nonzero(keep.repeat_interleave(cfg.group_size)).flatten()
            upd = update(model, opt, ro, adv.reshape(-1), keep_rows, acfg, cfg, step + 1, ref_model)  # ---- update
            row = {"step": step + 1, **rl.reward_metrics(ro, outs, rewards), **upd,
                   **{f"adv/{k}": v for k, v in algos.advantage_metrics(rewards, adv).items()},
                   "adv/groups_kept": float(keep.float().mean())}
            if eval_prompts is not None and ((step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps):
                row.update(evaluate_policy(lm, eval_prompts, cfg, eval_grader))  # ---- evaluate
            row["time/step_s"] = time.perf_counter() - t0
            metrics_log.append(row)  # ---- log
            if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:  # ---- checkpoint
                save_hf(out / "checkpoints" / f"step_{step + 1:08d}", lm,
                        {"optimizer": opt.state_dict(), "step": step + 1})
            if progress:
                log(f"step {step + 1}/{cfg.steps} reward {row['reward/mean']:.3f} correct {row['correct/mean']:.3f} "
                    f"clip {upd.get('loss/clip_frac', 0):.4f} {row['time/step_s']:.2f}s")
    finally:
        grader.close()
        if eval_grader is not None:
            eval_grader.close()
    save_hf(out / MODEL_DIR, lm)
    rows = metrics_log.read()
    first, last = rows[0], rows[-1]
    train_rows = [r for r in rows if "correct/mean" in r]
    summary = {"stage": "rl", "backend": "hf", "steps": cfg.steps, "resumed_from": start, "model": str(out / MODEL_DIR),
               "elapsed_s": time.perf_counter() - t_run,
               "correct/first_step": train_rows[0]["correct/mean"] if train_rows else None,
               "correct/last_step": train_rows[-1]["correct/mean"] if train_rows else None,
               **{f"{k}/before": first[k] for k in first if k.startswith("eval/")},
               **{f"{k}/after": last[k] for k in last if k.startswith("eval/")}}
    runs.atomic_write_json(out / "summary.json", summary)
    return summary
