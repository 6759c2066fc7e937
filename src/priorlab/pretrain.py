"""Pretraining a tiny GPT from scratch on a mixture's corpus.

    priorlab pretrain --mixture code-prior --size s --seed 0 --out runs/pt

AdamW with linear warm-up and cosine decay. The batch of step `s` is a pure function of (seed, s), so
a run killed at any moment and restarted with `--resume` ends with weights bitwise identical to an
uninterrupted run. A finished run is cached under `$PRIORLAB_CACHE/pretrain/<hash>` (hash of the
resolved config and the code version) and reused by later requests for the same prior.
"""

from __future__ import annotations

import math
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from priorlab.common import checkpoints, codeversion, config, finite, logs, rundirs, runfiles
from priorlab.common import resume as resume_rules
from priorlab.common.config import PRETRAIN_ADAM, AdamWConfig
from priorlab.model.gpt import DEFAULT_SIZE, GPT, SIZES, config_for_size
from priorlab.world.corpus import Corpus, build_corpus, difficulties, sample_style
from priorlab.world.mixtures import Mixture, load_mixture
from priorlab.world.tasks import get_task
from priorlab.world.tokenizer import Tokenizer

BLOCK_SIZE = 256  # longest prompt + completion a model can hold (6 operands of 3 digits fit)
RESUME_WHY = ("; pretraining's learning rate follows a cosine over the run's total steps, so --tokens cannot change, "
              "not even to extend a finished run")
# Default token budget per size: about 5 minutes of pretraining on 2 CPU cores (see README figures).
DEFAULT_TOKENS = {"xs": 6_000_000, "s": 8_000_000, "m": 3_000_000, "l": 1_500_000}


@dataclass(frozen=True)
class PretrainConfig:
    mixture: str = "code-prior"
    size: str = DEFAULT_SIZE
    tokens: int = 0  # 0 -> DEFAULT_TOKENS[size]
    seed: int = 0
    batch_size: int = 32  # rows per step
    seq_len: int = 128  # tokens per row; rows start at a document boundary
    lr: float = 3e-3
    min_lr_ratio: float = 0.1
    warmup_steps: int = 100
    weight_decay: float = 0.1
    grad_clip: float = 1.0
    eval_every: int = 250
    ckpt_every: int = 250
    val_documents: int = 2000
    adam: AdamWConfig = field(default_factory=lambda: PRETRAIN_ADAM)  # betas 0.9 / 0.95


    def __post_init__(self) -> None:
        config.require_finite(self)
        if self.size not in SIZES:
            raise ValueError(f"--size {self.size!r}: valid sizes are {', '.join(SIZES)}")
        config.require_positive(self, ("batch_size", "seq_len", "eval_every", "ckpt_every", "val_documents"))
        if self.tokens < 0:
            raise ValueError(f"--tokens must be >= 0, got {self.tokens}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.seq_len + 1 > BLOCK_SIZE:
            raise ValueError(f"--seq-len must be < {BLOCK_SIZE}")

    @property
    def budget(self) -> int:
        """The token budget: `tokens`, or the size's default when it is 0."""
        return self.tokens or DEFAULT_TOKENS[self.size]

    @property
    def steps(self) -> int:
        """Optimizer steps: the budget over tokens per step (batch x sequence length), at least 1."""
        return max(1, math.ceil(self.budget / (self.batch_size * self.seq_len)))


def lr_at(step: int, cfg: PretrainConfig) -> float:
    """Linear warm-up to `lr`, then cosine decay to `min_lr_ratio * lr` at the last step."""
    if step < cfg.warmup_steps:
        return cfg.lr * (step + 1) / cfg.warmup_steps
    t = (step - cfg.warmup_steps) / max(1, cfg.steps - cfg.warmup_steps)
    return cfg.lr * (cfg.min_lr_ratio + (1 - cfg.min_lr_ratio) * 0.5 * (1 + math.cos(math.pi * min(1.0, t))))


def get_batch(corpus: Corpus, stream: np.ndarray, step: int, seed: int, batch: int, seq_len: int):
    """Rows of `seq_len + 1` tokens starting at documents drawn by a generator seeded with (seed, step)."""
    g = np.random.default_rng([seed, step, 0xB47C])
    offs = corpus.starts[g.integers(0, len(corpus.starts), batch)]
    rows = np.stack([stream[o : o + seq_len + 1] for o in offs]).astype(np.int64)
    t = torch.from_numpy(rows)
    return t[:, :-1], t[:, 1:]


def _wrap(corpus: Corpus, seq_len: int) -> np.ndarray:
    return np.concatenate([corpus.tokens, corpus.tokens[: seq_len + 1]])


def make_optimizer(model: GPT, cfg: PretrainConfig) -> torch.optim.AdamW:
    """AdamW with weight decay on the matrices and none on the vectors (norms, biases)."""
    decay = [p for p in model.parameters() if p.dim() >= 2]
    no_decay = [p for p in model.parameters() if p.dim() < 2]
    groups = [{"params": decay, "weight_decay": cfg.weight_decay}, {"params": no_decay, "weight_decay": 0.0}]
    return cfg.adam.build(groups, lr=cfg.lr)


@torch.no_grad()
def held_out_loss(model: GPT, val: Corpus, cfg: PretrainConfig) -> float:
    """Mean next-token loss on four batches of the validation corpus (eval mode, no gradient)."""
    model.eval()
    stream = _wrap(val, cfg.seq_len)
    losses = [model(*get_batch(val, stream, i, cfg.seed, cfg.batch_size, cfg.seq_len))[1].item() for i in range(4)]
    model.train()
    return float(np.mean(losses))


def resolved(cfg: PretrainConfig, mix: Mixture) -> dict:
    """The config as written to config.json: with the resolved budget, steps and the mixture's full spec."""
    return {**asdict(cfg), "tokens": cfg.budget, "steps": cfg.steps, "mixture_spec": mix.to_dict()}


def pretrain(cfg: PretrainConfig, out: str | Path, *, resume: bool = False, use_cache: bool = True,
             progress: bool = True, log=None) -> dict:
    """Train (or fetch from the cache) and return the summary; `out` ends up a finished run directory."""
    log = logs.to(log, __name__)
    out = Path(out)
    mix = load_mixture(cfg.mixture)
    full = resolved(cfg, mix)
    key = codeversion.config_hash({"stage": "pretrain", **{k: v for k, v in full.items() if k != "mixture"}}, "pretrain")
    cached = codeversion.cache_root() / "pretrain" / key
    with rundirs.claim(out, resume=resume, log=log) as run:
        diff = resume_rules.check(out, full, ignore=("mixture",), may_change=resume_rules.PRETRAIN_MAY_CHANGE,
                                  why=RESUME_WHY) if resume else {}
        if rundirs.is_finished(out) and (resume or runfiles.read_json(out / "config.json").get("hash") == key):
            log(f"run {out} is already finished")
            return runfiles.read_json(out / "summary.json")
        if rundirs.has_entries(out) and not resume:
            raise runfiles.RunError(f"--out {out}: directory exists and is not empty (use --resume or another --out)")
        if use_cache and rundirs.is_finished(cached) and not rundirs.has_entries(out):
            rundirs.copy_run(cached, out)
            log(f"reused cached pretrained model {cached}")
            return runfiles.read_json(out / "summary.json")
        summary = _train(cfg, mix, full, key, out, resume=resume, progress=progress, log=log, run=run, diff=diff)
        if use_cache:
            rundirs.publish(out, cached)
    return summary


def _train(cfg, mix, full, key, out: Path, *, resume, progress, log, run: rundirs.Claim, diff: dict) -> dict:
    tok = Tokenizer()
    out.mkdir(parents=True, exist_ok=True)
    mcfg = config_for_size(cfg.size, tok.vocab_size, BLOCK_SIZE)
    torch.manual_seed(cfg.seed)
    model = GPT(mcfg)
    opt = make_optimizer(model, cfg)
    meta = {"stage": "pretrain", "model_config": asdict(mcfg), "vocab_version": tok.version,
            "mixture": mix.name}
    log_ = runfiles.MetricsLog(out / "metrics.jsonl")
    start = 0
    ckpt = checkpoints.latest_checkpoint(out) if resume else None
    history = resume_rules.record(out / "config.json", 0, diff) if ckpt is not None else []
    if ckpt is not None:
        start = checkpoints.restore(ckpt, model, opt)
        history[-1]["step"] = start
        log_.truncate_after(start)
        log(f"resuming {out} from step {start}")
    runfiles.atomic_write_json(out / "config.json", {**full, "hash": key, "code_version": codeversion.code_version("pretrain"),
                                                     **({"resumed": history} if history else {})})
    if ckpt is None:
        log_.truncate_after(-1)
        checkpoints.save_checkpoint(out, 0, model, opt, meta, {"step": 0})

    corpus = build_corpus(mix, cfg.seed, tok)
    stream = _wrap(corpus, cfg.seq_len)
    val = _val_corpus(mix, cfg, tok)
    tokens_per_step = cfg.batch_size * cfg.seq_len
    t0 = time.perf_counter()
    bar = _progress(progress, cfg.steps, start)
    run.begin()
    try:
        for step in range(start, cfg.steps):
            lr = lr_at(step, cfg)
            for g in opt.param_groups:
                g["lr"] = lr
            x, y = get_batch(corpus, stream, step, cfg.seed, cfg.batch_size, cfg.seq_len)
            _, loss = model(x, y)
            opt.zero_grad(set_to_none=True)
            loss.backward()
            gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
            finite.check_step(loss, gnorm, step + 1)  # before the optimizer step: the weights stay finite
            opt.step()
            row = {"step": step + 1, "tokens": (step + 1) * tokens_per_step, "loss/train": loss.item(), "update/lr": lr,
                   "update/grad_norm": float(gnorm)}
            done = step + 1
            if done % cfg.eval_every == 0 or done == cfg.steps:
                row["loss/val"] = held_out_loss(model, val, cfg)
            elapsed = time.perf_counter() - t0
            row["tok_per_s"] = (done - start) * tokens_per_step / max(elapsed, 1e-9)
            log_.append(row)
            if done % cfg.ckpt_every == 0 and done < cfg.steps:
                checkpoints.save_checkpoint(out, done, model, opt, meta, {"step": done})
                _prune(out)
            if bar:
                bar[0].update(bar[1], completed=done, description=f"loss {row['loss/train']:.3f} | {row['tok_per_s']:,.0f} tok/s")
    finally:
        if bar:
            bar[0].stop()
    elapsed = time.perf_counter() - t0
    checkpoints.save_checkpoint(out, cfg.steps, model, opt, meta, {"step": cfg.steps})
    _prune(out)
    checkpoints.save_weights(out, model, {**meta, "step": cfg.steps})
    rows = log_.read()
    summary = {
        "stage": "pretrain", "steps": cfg.steps, "tokens": cfg.steps * tokens_per_step,
        "params": model.num_params(), "loss/train": _mean_last(rows, "loss/train", 20),
        "loss/val": _mean_last(rows, "loss/val", 1), "elapsed_s": elapsed,
        "tok_per_s": (cfg.steps - start) * tokens_per_step / max(elapsed, 1e-9),
        "corpus_tokens": corpus.n_tokens, "resumed_from": start,
    }
    runfiles.atomic_write_json(out / "summary.json", summary)
    return summary


def _mean_last(rows: list[dict], key: str, n: int) -> float | None:
    """Mean of `key` over the last `n` logged steps (from metrics.jsonl, so a resumed run reports what an
    uninterrupted one does)."""
    vals = [r[key] for r in rows if key in r][-n:]
    return float(np.mean(vals)) if vals else None


def _val_corpus(mix: Mixture, cfg: PretrainConfig, tok: Tokenizer) -> Corpus:
    """Held-out documents: the same mixture on test-split problems."""
    import random


    task, rng = get_task(), random.Random(f"val:{cfg.seed}")
    diffs, weights = difficulties(mix)
    ids: list[int] = []
    starts: list[int] = []
    for _ in range(cfg.val_documents):
        p = task.generate(rng, rng.choices(diffs, weights=weights)[0], split="test")
        starts.append(len(ids))
        ids.extend(tok.encode(task.prompt(p) + task.render(p, sample_style(rng, p, mix)), bos=True, eos=True))
    return Corpus(np.asarray(ids, dtype=np.uint8), np.asarray(starts, dtype=np.int64))


def _prune(out: Path, keep: int = 1) -> None:
    """Keep step 0 (the analyses diff against it) and the newest `keep` checkpoints."""
    import shutil

    root = out / "checkpoints"
    done = sorted(p for p in root.iterdir() if p.name.startswith("step_") and (p / "state.pt").exists())
    for p in done[1:-keep]:
        shutil.rmtree(p, ignore_errors=True)


def _progress(enabled: bool, total: int, start: int):
    if not enabled:
        return None
    from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

    p = Progress(TextColumn("pretrain"), BarColumn(), TextColumn("{task.completed}/{task.total}"),
                 TextColumn("{task.description}"), TimeElapsedColumn(), TimeRemainingColumn(), transient=False)
    p.start()
    return p, p.add_task("", total=total, completed=start)
