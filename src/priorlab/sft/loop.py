"""Supervised fine-tuning and distillation: the imitation stage before (or instead of) RL, one loop for the
controlled world's tiny GPT and for Hugging Face models.

    priorlab sft --init runs/pt --teacher-format code --steps 200 --out runs/sft      # world-generated teacher
    priorlab sft --init runs/pt --traces traces.jsonl --steps 200 --out runs/sft      # your own traces
    priorlab sft --init hf:models/Qwen2.5-0.5B --data math_train.jsonl --template qwen-math \
        --steps 500 --batch-size 8 --lr 1e-5 --out runs/qwen-sft                     # a real model
    train(cfg, out)

What differs between the two is a batcher (`priorlab.sft.batchers`: the examples, their encoding, the
model inputs of a batch, the loss, the evaluation) and the policy's checkpoints (`priorlab.rl.policies`).
- The world: a traces file (JSONL, one `{"problem": "3+5-2", "completion": "..."}` per line) or gold
  traces the world renders in one format (`--teacher-format code|nl|direct`) for train-split problems,
  a distillation from a perfect teacher into a format the student may never have seen (`priorlab.sft.traces`).
  Each example is `<bos>` + the task's prompt + the completion + `<eos>`; evaluated on held-out problems.
- A Hugging Face model: prompt = `prompts.render(problem, --template)`, target = the solution field of a
  data file (MATH: `solution`; GSM8K: the `answer` rationale with its `#### N`; or `--solution-field`)
  followed by EOS, cut to `--max-length` (the cuts are counted in `summary.json` as `truncated`). The
  model stays in eval mode (dropout off), as in `priorlab rl`.

Both minimise the token mean of the negative log-likelihood of the target tokens over the batch (prompt
tokens are context only; EOS is a target, so the model learns to stop):

    loss = -(1 / sum_b |target_b|) * sum_b sum_{t in target_b} log p(x_t | x_<t)

AdamW, linear warm-up then a constant rate (`lr_at`), gradient-norm clip. The batch of step s is a pure
function of (seed, s) (a per-epoch permutation of the examples), so `--resume` after a kill ends bitwise
identical to an uninterrupted run, and the same seed gives identical weights.

The run directory is the other stages' (`priorlab.common.runfiles`, `checkpoints`): config.json, metrics.jsonl (`loss/sft`,
`update/lr`, `update/grad_norm`; the world adds `eval/acc_greedy`, `eval/format/code`, ...), summary.json and
checkpoints/step_N. A world run keeps step 0 and ends with model.safetensors + model.json, readable by
`load_model` (an `--init` for `priorlab rl`); an HF run's checkpoints are `save_pretrained` folders with
state.pt and its final model is `OUT/model/` (`hf:OUT` loads it).
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from priorlab.common import checkpoints, config, finite, logs, rundirs, runfiles
from priorlab.common.config import PRETRAIN_ADAM, AdamWConfig
from priorlab.math.data import DataSpec
from priorlab.math.prompts import check_template
from priorlab.model.hf.load import is_hf_ref
from priorlab.rl.policies import HFPolicy, WorldPolicy
from priorlab.sft.batchers import HFBatcher, WorldBatcher
from priorlab.world.formats import FORMATS
from priorlab.world.tasks import RL_DIFFICULTY, parse_difficulties

SFT_DIFFICULTY = "2x1,3x1,4x1"  # teacher traces cover the evaluation's default difficulties


@dataclass(frozen=True)
class SFTConfig:
    """One SFT run. `init` is a priorlab run directory (the controlled world) or a Hugging Face checkpoint
    (`hf:PATH`, then `data` is required); the world-only and HF-only fields are grouped below."""

    init: str = ""
    steps: int = 300
    seed: int = 0
    batch_size: int = 32  # examples per step
    lr: float = 1e-3  # the CLI's default for Hugging Face models is 1e-5
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    ckpt_every: int = 50
    adam: AdamWConfig = field(default_factory=lambda: PRETRAIN_ADAM)  # betas 0.9 / 0.95
    # the controlled world
    traces: str = ""  # JSONL file of {"problem", "completion"}; exactly one of traces / teacher_format
    teacher_format: str = ""  # "code" | "nl" | "direct": world-rendered gold traces of that format
    skip_bad_lines: bool = False  # traces file: skip malformed lines (counted) instead of stopping
    difficulty: str = SFT_DIFFICULTY  # teacher traces: difficulties of the train-split problems
    problems: int = 2000  # teacher traces: how many problems (drawn with replacement)
    eval_every: int = 50
    eval_difficulty: str = RL_DIFFICULTY
    eval_problems: int = 100
    eval_samples: int = 4
    max_new_tokens: int = 96  # evaluation samples
    # Hugging Face models and math data files
    data: DataSpec | None = None  # the (problem, solution) records
    template: str = "plain"
    max_length: int = 1024  # tokens of prompt + target
    dtype: str = "float32"
    device: str = "cpu"

    def __post_init__(self) -> None:
        config.require_finite(self)
        if self.hf:
            if self.data is None:
                raise ValueError(f"--init {self.init} is a Hugging Face model: pass (problem, solution) records "
                                 "with --data")
            if self.init and not is_hf_ref(self.init):
                raise ValueError(f"--data needs a Hugging Face model (--init hf:PATH); {self.init} is a priorlab "
                                 "run directory")
        else:
            if bool(self.traces) == bool(self.teacher_format):
                raise ValueError("give exactly one of --traces FILE and --teacher-format FORMAT")
            if self.teacher_format and self.teacher_format not in FORMATS:
                raise ValueError(f"--teacher-format {self.teacher_format!r}: valid: {', '.join(FORMATS)}")
        config.require_positive(self, (
            "steps", "batch_size", "problems", "eval_every", "eval_problems", "eval_samples", "max_new_tokens",
            "ckpt_every", "max_length"))
        if self.warmup_steps < 0:
            raise ValueError(f"--warmup-steps must be >= 0, got {self.warmup_steps}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.weight_decay < 0 or not self.grad_clip > 0:
            raise ValueError("--weight-decay must be >= 0 and --grad-clip > 0")
        parse_difficulties(self.difficulty)
        parse_difficulties(self.eval_difficulty)
        check_template(self.template)

    @property
    def hf(self) -> bool:
        """A Hugging Face model on a math data file (else the controlled world)."""
        return self.data is not None or (bool(self.init) and is_hf_ref(self.init))


def lr_at(step: int, cfg: SFTConfig) -> float:
    """Linear warm-up over `warmup_steps`, then constant."""
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else cfg.lr


def eval_summary(stage: str, rows: list[dict], **extra) -> dict:
    """summary.json of an imitation stage: `extra`, then eval/* of the first and last evaluated rows."""
    evals = [r for r in rows if any(k.startswith("eval/") for k in r)]
    first, last = (evals[0], evals[-1]) if evals else ({}, {})
    return {"stage": stage, **extra,
            **{f"{k}/before": first[k] for k in first if k.startswith("eval/")},
            **{f"{k}/after": last[k] for k in last if k.startswith("eval/")}}


# ------------------------------------------------------------------------------------------- loop
def train(cfg: SFTConfig, out: str | Path, *, resume: bool = False, progress: bool = True, log=None) -> dict:
    """Fine-tune `cfg.init` on the examples; `out` ends up a finished run directory. Returns the summary."""
    log = logs.to(log, __name__)
    out = Path(out)
    with rundirs.claim(out, resume=resume, log=log) as run:
        return _train(cfg, out, resume=resume, progress=progress, log=log, run=run)


def _train(cfg: SFTConfig, out: Path, *, resume: bool, progress: bool, log, run: rundirs.Claim) -> dict:
    if (done := rundirs.finished_summary(out, resume, log, {**asdict(cfg), "stage": "sft"})) is not None:
        return done
    ckpt = checkpoints.latest_checkpoint(out) if resume else None
    policy: HFPolicy | WorldPolicy
    batcher: HFBatcher | WorldBatcher
    if cfg.hf:
        policy = HFPolicy.load(cfg.init, cfg, ckpt)  # the weights of `ckpt` when resuming
        batcher = HFBatcher(cfg, policy, log)
    else:
        policy = WorldPolicy.load(cfg.init, stage="sft")  # `ckpt` is restored by open_run
        batcher = WorldBatcher(cfg, policy, log)
    model = policy.model
    resolved = {**asdict(cfg), "stage": "sft", **policy.config(), **batcher.record}
    opt = cfg.adam.build(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start, metrics_log = rundirs.open_run(out, resolved, policy, opt, resume=resume, ckpt=ckpt, log=log)
    if ckpt is None and (first := batcher.evaluate(model)):
        metrics_log.append({"step": 0, **first})
    t_run = time.perf_counter()
    run.begin()
    for step in range(start, cfg.steps):
        t0 = time.perf_counter()
        lr = lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        batch = batcher.batch(step)  # ---- batch
        loss = batcher.loss(model, batch)  # ---- forward, loss
        finite.check_step(loss, None, step + 1)
        opt.zero_grad(set_to_none=True)  # ---- update
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        finite.check_step(loss, gnorm, step + 1)
        opt.step()
        row = {"step": step + 1, "loss/sft": loss.item(), "update/lr": lr, "update/grad_norm": float(gnorm),
               **batcher.metrics(batch)}
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:  # ---- evaluate
            row.update(batcher.evaluate(model))
        row["time/step_s"] = time.perf_counter() - t0
        metrics_log.append(row)  # ---- log
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:  # ---- checkpoint
            policy.save_checkpoint(out, step + 1, opt)
        if progress and ((step + 1) % batcher.progress_every == 0 or step + 1 == cfg.steps):
            log(f"step {step + 1}/{cfg.steps} loss {row['loss/sft']:.4f}"
                + (f" | eval greedy {row['eval/acc_greedy']:.3f} t1 {row['eval/acc_t1']:.3f}" if "eval/acc_t1" in row else ""))
    final = policy.save_final(out, cfg.steps)
    rows = metrics_log.read()
    summary = eval_summary("sft", rows, **final, steps=cfg.steps, resumed_from=start,
                           elapsed_s=time.perf_counter() - t_run, **batcher.summary(rows))
    runfiles.atomic_write_json(out / "summary.json", summary)
    return summary
