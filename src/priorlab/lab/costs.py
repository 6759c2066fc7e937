"""What a job costs: a per-kind model of its seconds on one core, measured, not guessed.

A job's work is counted in token-parameter products (one token through one weight): pretraining and
SFT pass each training token forwards and backwards (x3), RL and SRL sample tokens (the decode loop) and
train on them, evaluations sample. Seconds = `fixed` + `rate` x work, with one (fixed, rate) per job kind.

The rates are fitted from finished jobs (each job's `job.json` records its `elapsed_s`): `CostModel.fit`
reads every job.json under the given directories, and the rate of a kind is the median of
(elapsed - fixed) / work over its jobs. A kind with no finished job takes the built-in rate, itself
fitted the same way from the jobs of `priorlab retest --preset quick` on the 2-core development machine
(`DEFAULT_SOURCE`). `priorlab retest --plan` and the progress bar's ETA both use this model.
"""

from __future__ import annotations

import json
import statistics
from dataclasses import dataclass, field
from pathlib import Path

from priorlab.model.gpt import SIZES
from priorlab.pretrain import DEFAULT_TOKENS

VOCAB = 32  # the world's tokenizer is ~30 symbols; the embedding is a small share of every size
PROMPT_TOKENS = 16  # a world prompt's typical length (the trained sequence is prompt + completion)
SFT_TOKENS = 64  # a world SFT example's typical length (prompt + solution)
SRL_STEPS_PER_SOLUTION = 3  # SRL samples one solution step per call; a world solution has ~3


def params(size: str) -> int:
    """Weights of a world model of this size (12 L C^2 for the blocks, V C for the tied embedding)."""
    s = SIZES[size]
    return 12 * s["n_layer"] * s["n_embd"] ** 2 + VOCAB * s["n_embd"]


def size_of(job) -> str:
    """The model size of a sweep job (`lab.sweep.Job`): its pretraining's, down the first dependencies."""
    while job.kind != "pretrain":
        job = job.deps[0]
    return job.config.size


def _evals(steps: int, every: int) -> int:
    """Evaluations of a run of `steps` evaluated every `every` steps (and at the start and the end)."""
    return (steps // every if every > 0 else 0) + 2


def work(kind: str, cfg, size: str) -> float:
    """Token-parameter products of a job of `kind` with config `cfg` on a model of `size`."""
    p = params(size)
    if kind == "pretrain":
        return 3.0 * (cfg.tokens or DEFAULT_TOKENS[size]) * p
    if kind == "eval":
        return float(cfg.problems * cfg.samples * cfg.max_new_tokens * p)
    if kind == "rl":
        rollouts = cfg.steps * cfg.prompts_per_step * cfg.group_size
        sampled = rollouts * cfg.max_new_tokens
        trained = 3.0 * rollouts * (cfg.max_new_tokens + PROMPT_TOKENS) * cfg.epochs
        evals = _evals(cfg.steps, cfg.eval_every) * cfg.eval_problems * cfg.eval_samples * cfg.max_new_tokens
        return (sampled + trained + evals) * p
    if kind == "srl":
        rollouts = cfg.steps * cfg.prompts_per_step * cfg.group_size
        sampled = rollouts * cfg.step_max_tokens
        trained = 3.0 * rollouts * (cfg.step_max_tokens + PROMPT_TOKENS * SRL_STEPS_PER_SOLUTION) * cfg.epochs
        evals = _evals(cfg.steps, cfg.eval_every) * cfg.eval_problems * cfg.eval_samples * cfg.max_new_tokens
        return (sampled + trained + evals) * p
    if kind == "sft":
        trained = 3.0 * cfg.steps * cfg.batch_size * SFT_TOKENS
        evals = _evals(cfg.steps, cfg.eval_every) * cfg.eval_problems * cfg.eval_samples * cfg.max_new_tokens
        return (trained + evals) * p
    raise ValueError(f"unknown job kind {kind!r}")


# Fitted with `python bench/cost_model.py --large QUICK --small SMOKE` on 2026-12-03 on the 2-core development
# machine (one thread per job): rates from `priorlab retest --preset quick` (312 jobs) and its one-shot map, fixed
# seconds from `--preset smoke` (149 jobs). The model then put quick's wall time at 0.92 of the measured 87.1
# min and smoke's at 0.77 of the measured 44 s (the rest: starting workers, the claims' analysis).
# Seconds that do not scale with work: starting the job, loading the model, writing it.
FIXED_S = {"pretrain": 5.2, "rl": 0.40, "eval": 0.04, "sft": 0.0, "srl": 0.29}
# Seconds per token-parameter product on one core, per kind.
DEFAULT_RATES = {"pretrain": 7.2e-11, "rl": 5.75e-11, "eval": 6.1e-11, "sft": 7.9e-11, "srl": 1.42e-10}
DEFAULT_SOURCE = "built-in rates (fitted 2026-12-03 on a quick and a smoke retest on a 2-core machine)"


@dataclass
class CostModel:
    """Seconds of a job on one core: FIXED_S[kind] + rates[kind] x work."""

    rates: dict = field(default_factory=lambda: dict(DEFAULT_RATES))
    fitted: dict = field(default_factory=dict)  # kind -> number of finished jobs its rate was fitted on

    def seconds(self, kind: str, cfg, size: str) -> float:
        """Estimated seconds of one job of `kind` with config `cfg` on a model of size `size`: a fixed cost plus the
        kind's rate times its work (token-parameter products)."""
        return FIXED_S[kind] + self.rates[kind] * work(kind, cfg, size)

    def source(self) -> str:
        """Where the rates come from (fitted on finished jobs, or the built-in ones)."""
        if not self.fitted:
            return DEFAULT_SOURCE
        fitted = ", ".join(f"{k} {n}" for k, n in self.fitted.items())
        rest = [k for k in self.rates if k not in self.fitted]
        return f"fitted on finished jobs ({fitted})" + (f"; {', '.join(rest)}: {DEFAULT_SOURCE}" if rest else "")

    @classmethod
    def fit(cls, *roots: str | Path) -> CostModel:
        """The model with each kind's rate fitted on the finished jobs under `roots` (kinds without one keep
        the built-in rate)."""
        samples: dict[str, list[float]] = {}
        for kind, cfg, size, elapsed in finished_jobs(*roots):
            w = work(kind, cfg, size)
            if w > 0 and elapsed > 0:
                samples.setdefault(kind, []).append(max(elapsed - FIXED_S[kind], 0.1 * elapsed) / w)
        model = cls()
        for kind, rs in samples.items():
            model.rates[kind] = statistics.median(rs)
            model.fitted[kind] = len(rs)
        return model


def finished_jobs(*roots: str | Path):
    """(kind, config, size, elapsed_s) of every finished job (a `job.json`) directly under each root."""
    from types import SimpleNamespace

    records = {}
    for root in roots:
        root = Path(root)
        if not root.is_dir():
            continue
        for f in root.glob("*/job.json"):
            try:
                records[f.parent.name] = json.loads(f.read_text())
            except (OSError, ValueError):
                continue  # a job.json being written or damaged is not a measurement

    def size_of(rec, depth=0) -> str | None:
        if rec["kind"] == "pretrain":
            return rec["params"].get("size")
        deps = rec.get("deps") or []
        if not deps or deps[0] not in records or depth > 16:
            return None
        return size_of(records[deps[0]], depth + 1)

    for rec in records.values():
        size = size_of(rec)
        if size in SIZES and "elapsed_s" in rec and rec["kind"] in FIXED_S:
            yield rec["kind"], SimpleNamespace(**rec["params"]), size, float(rec["elapsed_s"])
