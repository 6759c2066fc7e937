"""Basic evaluation of a model on held-out problems of the world.

    priorlab eval --model runs/pt --problems 200 --samples 16 --temperature 1 --out runs/pt-eval

Samples K completions for each of N test-split problems per difficulty, verifies them with the task's
own `verify`, and writes `summary.json` (accuracy overall and per difficulty, pass@1, pass@K, format
shares and per-format accuracy, well-formed rate, shortcut rates, mean length), `samples.jsonl` (one
line per completion) and `config.json`.
"""

from __future__ import annotations

import random
import time
from collections import Counter, defaultdict
from dataclasses import asdict, dataclass
from pathlib import Path

import numpy as np
import torch

from priorlab import runs
from priorlab.evals.shortcuts import detect, shortcut_rates
from priorlab.model.sampling import sample
from priorlab.world.formats import FORMATS, parse
from priorlab.world.tasks import Difficulty, Problem, get_task
from priorlab.world.tokenizer import Tokenizer

DEFAULT_DIFFICULTIES = "2x1,3x1,4x1"
RL_DIFFICULTY = "3x1"  # the default difficulty of RL training and of the prior checks in README


@dataclass(frozen=True)
class EvalConfig:
    problems: int = 100  # per difficulty
    samples: int = 16
    temperature: float = 1.0
    top_p: float = 1.0
    difficulty: str = DEFAULT_DIFFICULTIES
    max_new_tokens: int = 160
    seed: int = 0
    batch_size: int = 512  # sequences per sampler call

    def __post_init__(self) -> None:
        if self.problems < 1 or self.samples < 1:
            raise ValueError("--problems and --samples must be >= 1")
        if self.temperature < 0:
            raise ValueError(f"--temperature must be >= 0, got {self.temperature}")
        if not 0 < self.top_p <= 1:
            raise ValueError(f"--top-p must be in (0, 1], got {self.top_p}")
        parse_difficulties(self.difficulty)


def parse_difficulties(spec: str) -> list[Difficulty]:
    out = []
    for key in spec.split(","):
        try:
            n, d = (int(x) for x in key.strip().split("x"))
        except ValueError:
            raise ValueError(f"--difficulty {key!r}: expected NxD, e.g. 3x1 (3 operands of 1 digit)") from None
        out.append(Difficulty(n, d))
    return out


def test_problems(diff: Difficulty, n: int, seed: int) -> list[Problem]:
    """`n` distinct test-split problems (fewer if the space is smaller), a pure function of the seed."""
    task, rng, seen, out = get_task(), random.Random(f"eval:{seed}:{diff.key}"), set(), []
    for _ in range(50 * n):
        p = task.generate(rng, diff, split="test")
        if p.expr not in seen:
            seen.add(p.expr)
            out.append(p)
            if len(out) == n:
                break
    return out


def generate(model, problems: list[Problem], k: int, cfg: EvalConfig, seed: int) -> list[list[dict]]:
    """K completions per problem: [{text, finished, length, logprob}] in problem order."""
    tok, task = Tokenizer(), get_task()
    jobs = [(i, tok.encode(task.prompt(p), bos=True)) for i, p in enumerate(problems) for _ in range(k)]
    results: list[list[dict]] = [[] for _ in problems]
    gen = torch.Generator().manual_seed(seed)
    for b in range(0, len(jobs), cfg.batch_size):
        chunk = jobs[b : b + cfg.batch_size]
        s = sample(model, [ids for _, ids in chunk], max_new_tokens=cfg.max_new_tokens, eos_id=tok.eos_id,
                   pad_id=tok.pad_id, temperature=cfg.temperature, top_p=cfg.top_p, generator=gen)
        for row, (i, _) in enumerate(chunk):
            n = int(s.lengths[row])
            results[i].append({"text": tok.decode(s.tokens[row, :n].tolist()), "finished": bool(s.finished[row]),
                               "length": n, "logprob": float(s.logprobs[row, :n].sum())})
    return results


def score(problems: list[Problem], completions: list[list[dict]]) -> list[list[dict]]:
    """Attach verify() and shortcut flags to each completion."""
    task = get_task()
    for p, comps in zip(problems, completions):
        for c in comps:
            v, parsed = task.verify(p, c["text"]), parse(c["text"])
            c.update(correct=v.correct, answer=v.answer, well_formed=v.well_formed, format=v.format,
                     confidence=v.confidence, shortcuts=detect(p, parsed, c["finished"]))
    return completions


def summarize(problems: list[Problem], completions: list[list[dict]], k: int) -> dict:
    flat = [c for comps in completions for c in comps]
    correct = np.array([[c["correct"] for c in comps] for comps in completions], dtype=bool)
    fmt_counts = Counter(c["format"] or "none" for c in flat)
    per_fmt = defaultdict(list)
    for c in flat:
        per_fmt[c["format"] or "none"].append(c["correct"])
    by_diff = defaultdict(list)
    for p, row in zip(problems, correct):
        by_diff[p.difficulty.key].append(row)
    return {
        "n_problems": len(problems), "samples": k, "accuracy": float(correct.mean()),
        "pass@1": float(correct.mean()), f"pass@{k}": float(correct.any(axis=1).mean()),
        "accuracy_by_difficulty": {d: float(np.mean(rows)) for d, rows in sorted(by_diff.items())},
        f"pass@{k}_by_difficulty": {d: float(np.any(rows, axis=1).mean()) for d, rows in sorted(by_diff.items())},
        "format_shares": {f: fmt_counts.get(f, 0) / len(flat) for f in (*FORMATS, "none")},
        "accuracy_by_format": {f: float(np.mean(v)) for f, v in sorted(per_fmt.items())},
        "well_formed": float(np.mean([c["well_formed"] for c in flat])),
        "shortcuts": shortcut_rates([c["shortcuts"] for c in flat]),
        "mean_length": float(np.mean([c["length"] for c in flat])),
    }


def prior_checks(summary: dict, mixture_spec: dict) -> dict:
    """How the sampled behaviour compares with the prior the model was pretrained on (README targets)."""
    k = summary["samples"]
    shares = {f: spec["share"] for f, spec in mixture_spec["formats"].items()}
    gaps = {f: summary["format_shares"].get(f, 0.0) - shares.get(f, 0.0) for f in FORMATS}
    return {
        "mixture": mixture_spec.get("name"), "mixture_shares": shares, "share_gap": gaps,
        "max_share_gap": max(abs(g) for g in gaps.values()),
        "well_formed_ok": summary["well_formed"] >= 0.95,
        "shares_ok": max(abs(g) for g in gaps.values()) <= 0.05,
        "pass@1_in_room": 0.2 <= summary["pass@1"] <= 0.8,
        f"pass@{k}_high": summary[f"pass@{k}"] >= 0.9,
    }


def evaluate(model, cfg: EvalConfig, out: str | Path | None = None, model_path: str = "",
             mixture_spec: dict | None = None) -> dict:
    t0 = time.perf_counter()
    problems = [p for d in parse_difficulties(cfg.difficulty) for p in test_problems(d, cfg.problems, cfg.seed)]
    completions = score(problems, generate(model, problems, cfg.samples, cfg, cfg.seed))
    summary = summarize(problems, completions, cfg.samples)
    if mixture_spec:
        summary["prior"] = prior_checks(summary, mixture_spec)
    summary["elapsed_s"] = time.perf_counter() - t0
    if out is not None:
        out = Path(out)
        runs.atomic_write_json(out / "config.json", {**asdict(cfg), "model": model_path, "stage": "eval"})
        lines = [{"problem": p.expr, "difficulty": p.difficulty.key, "gold": p.answer, **c}
                 for p, comps in zip(problems, completions) for c in comps]
        import json

        runs.atomic_write_text(out / "samples.jsonl", "".join(json.dumps(r) + "\n" for r in lines))
        runs.atomic_write_text(out / "metrics.jsonl", "".join(
            json.dumps({"step": 0, "difficulty": d, "accuracy": a}) + "\n"
            for d, a in summary["accuracy_by_difficulty"].items()))
        runs.atomic_write_json(out / "summary.json", summary)
    return summary
