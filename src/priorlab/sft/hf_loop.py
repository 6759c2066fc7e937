"""Supervised fine-tuning of a Hugging Face checkpoint on the (problem, solution) pairs of a data file.

    priorlab sft --init hf:models/Qwen2.5-0.5B --data math_train.jsonl --template qwen-math \
        --steps 500 --batch-size 8 --lr 1e-5 --out runs/qwen-sft

Each example is prompt = `prompts.render(problem, --template)` and target = the solution field (MATH:
`solution`; GSM8K: the `answer` rationale with its `#### N`; or `--solution-field`) followed by EOS. The
loss is the mean negative log-likelihood of the target tokens (prompt tokens are context only):

    loss = -(1 / sum_b |target_b|) * sum_b sum_{t in target_b} log p(x_t | x_<t)     (token mean over the batch)

A sequence longer than --max-length keeps its prompt and loses the end of its target (counted in
`summary.json` as `truncated`); a prompt that leaves no room for a target token is an error naming the
example. Batches are drawn without replacement per epoch by a generator seeded with (seed, epoch);
linear warm-up, then a constant rate; AdamW; gradient-norm clip; dropout off, as in `rl.hf_loop`.

Writes `config.json`, `metrics.jsonl` (`loss/sft`, `lr`, `loss/grad_norm` per step), `checkpoints/step_N/`
(HF checkpoint + state.pt, `--resume` restarts from the newest), `model/` (the final HF checkpoint) and
`summary.json` (last). Tests: `.venv/bin/pytest tests/test_sft_hf_loop.py`.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import torch

from priorlab.common import checkpoints, codeversion, config, rundirs, runfiles
from priorlab.common.config import PRETRAIN_ADAM, AdamWConfig
from priorlab.common.seeds import derive
from priorlab.math.data import Dataset, DataSpec
from priorlab.math.prompts import add_special_tokens, check_template, render
from priorlab.model.hf.checkpoint import resume_optimizer, save_hf
from priorlab.model.hf.load import RUN_MODEL_DIR


@dataclass(frozen=True)
class HFSFTConfig:
    init: str
    data: DataSpec
    template: str = "plain"
    steps: int = 300
    seed: int = 0
    batch_size: int = 8
    lr: float = 1e-5
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    max_length: int = 1024  # tokens of prompt + target
    dtype: str = "float32"
    device: str = "cpu"
    ckpt_every: int = 100
    adam: AdamWConfig = field(default_factory=lambda: PRETRAIN_ADAM)  # betas 0.9 / 0.95


    def __post_init__(self) -> None:
        config.require_positive(self, ("steps", "batch_size", "max_length", "ckpt_every"))
        if not self.lr > 0 or self.warmup_steps < 0 or self.weight_decay < 0:
            raise ValueError(f"--lr {self.lr} must be > 0, --warmup-steps and --weight-decay >= 0")
        check_template(self.template)


def encode(lm, ds: Dataset, cfg: HFSFTConfig) -> tuple[list[tuple[list[int], list[int]]], int]:
    """(prompt ids, target ids + EOS) per example, cut to max_length; and how many targets were cut."""
    missing = [ex.line for ex in ds.examples if ex.solution is None]
    if missing:
        raise ValueError(f"{ds.path}: {len(missing)} record(s) have no solution field {ds.fields['solution']!r} "
                         f"(first at line {missing[0]}); name it with --solution-field")
    pairs, cut = [], 0
    special = add_special_tokens(cfg.template)
    for ex in ds.examples:
        prompt = lm.tokenizer(render(ex.question, cfg.template, lm.tokenizer), add_special_tokens=special)["input_ids"]
        target = lm.tokenizer(ex.solution, add_special_tokens=False)["input_ids"] + [lm.eos_id]
        room = cfg.max_length - len(prompt)
        if room < 1:
            raise ValueError(f"{ds.path} line {ex.line}: the prompt alone has {len(prompt)} tokens, more than "
                             f"--max-length {cfg.max_length}")
        cut += len(target) > room
        pairs.append((prompt, target[:room]))
    return pairs, cut


def batch_indices(n: int, step: int, seed: int, batch_size: int) -> list[int]:
    """Examples of `step`: consecutive slices of a permutation per epoch (seeded by (seed, epoch))."""
    out = []
    pos = step * batch_size
    while len(out) < batch_size:
        epoch, i = divmod(pos, n)
        perm = torch.randperm(n, generator=torch.Generator().manual_seed(derive(seed, "epoch", epoch)))
        take = min(batch_size - len(out), n - i)
        out += perm[i:i + take].tolist()
        pos += take
    return out


def make_batch(pairs: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, ...]:
    """input_ids [B, T] (right-padded), attn_mask [B, T], target_mask [B, T] (True on target tokens)."""
    T = max(len(p) + len(t) for p, t in pairs)
    ids = torch.full((len(pairs), T), pad_id, dtype=torch.long)
    attn = torch.zeros(len(pairs), T, dtype=torch.bool)
    target = torch.zeros(len(pairs), T, dtype=torch.bool)
    for b, (p, t) in enumerate(pairs):
        ids[b, :len(p) + len(t)] = torch.tensor(p + t)
        attn[b, :len(p) + len(t)] = True
        target[b, len(p):len(p) + len(t)] = True
    return ids, attn, target


def sft_loss(model, ids: torch.Tensor, attn: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
    """Token-mean NLL of the target tokens (module doc)."""
    from priorlab.model.hf.generate import sequence_logprobs_hf

    logp, _ = sequence_logprobs_hf(model, ids, attn, target)
    return -logp.sum() / target[:, 1:].sum().clamp(min=1)


def lr_at(step: int, cfg: HFSFTConfig) -> float:
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else cfg.lr


def train(cfg: HFSFTConfig, out: str | Path, *, resume: bool = False, progress: bool = True, log=print) -> dict:
    from priorlab.model.hf.load import load_hf

    out = Path(out)
    if (done := rundirs.finished_summary(out, resume, log)) is not None:
        return done
    ds = cfg.data.load(log)
    ckpt = checkpoints.latest_checkpoint(out) if resume else None
    lm = load_hf(ckpt if ckpt is not None else cfg.init, dtype=cfg.dtype, device=cfg.device)
    pairs, cut = encode(lm, ds, cfg)
    opt = cfg.adam.build(lm.model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    start = resume_optimizer(ckpt, opt, out, log)
    out.mkdir(parents=True, exist_ok=True)
    runfiles.atomic_write_json(out / "config.json", {**asdict(cfg), "stage": "sft", "backend": "hf",
                                                 "pad_source": lm.pad_source, "code_version": codeversion.code_version()})
    metrics_log = runfiles.MetricsLog(out / "metrics.jsonl")
    metrics_log.truncate_after(start if ckpt is not None else -1)
    t_run = time.perf_counter()
    for step in range(start, cfg.steps):
        ids, attn, target = make_batch([pairs[i] for i in batch_indices(len(pairs), step, cfg.seed, cfg.batch_size)],
                                       lm.pad_id)
        for group in opt.param_groups:
            group["lr"] = lr_at(step, cfg)
        loss = sft_loss(lm.model, ids, attn, target)
        if not torch.isfinite(loss):
            raise ValueError(f"non-finite SFT loss at step {step + 1}; lower --lr")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = float(torch.nn.utils.clip_grad_norm_(lm.model.parameters(), cfg.grad_clip))
        opt.step()
        metrics_log.append({"step": step + 1, "loss/sft": loss.item(), "lr": lr_at(step, cfg), "loss/grad_norm": gnorm})
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
            save_hf(out / "checkpoints" / f"step_{step + 1:08d}", lm, {"optimizer": opt.state_dict(), "step": step + 1})
        if progress and ((step + 1) % 10 == 0 or step + 1 == cfg.steps):
            log(f"step {step + 1}/{cfg.steps} loss {loss.item():.4f}")
    save_hf(out / RUN_MODEL_DIR, lm)
    rows = metrics_log.read()
    summary = {"stage": "sft", "backend": "hf", "steps": cfg.steps, "resumed_from": start,
               "model": str(out / RUN_MODEL_DIR), "elapsed_s": time.perf_counter() - t_run,
               "data": {"path": ds.path, "examples": len(pairs), "skipped_records": len(ds.skipped), "truncated": cut},
               "loss/sft/first": rows[0]["loss/sft"] if rows else None,
               "loss/sft/last": rows[-1]["loss/sft"] if rows else None}
    runfiles.atomic_write_json(out / "summary.json", summary)
    return summary
