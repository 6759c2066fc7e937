"""Supervised fine-tuning and distillation on solution traces: the imitation stage before (or instead of) RL.

    priorlab sft --init runs/pt --teacher-format code --steps 200 --out runs/sft      # world-generated teacher
    priorlab sft --init runs/pt --traces traces.jsonl --steps 200 --out runs/sft      # your own traces

The training set is either a traces file (JSONL, one `{"problem": "3+5-2", "completion": "..."}` per line)
or gold traces that the world renders in one format (`--teacher-format code|nl|direct`) for train-split
problems. The second is distillation from a perfect teacher, and it may write a format the student never
saw in pretraining: SFT of `code` traces into a student of the `nl-prior` mixture is the
`distillation-expands` claim's condition (arXiv 2504.13837 §5; seed-papers.md §5/12).

Each example is `<bos>` + the task's prompt + the completion + `<eos>`; the loss is the token-mean cross
entropy over completion tokens only (`<eos>` included, so the student learns to stop); prompt tokens get
target -100. AdamW, linear warm-up then a constant rate. The batch of step s is a pure function of
(seed, s) (a per-epoch permutation of the examples), so `--resume` after a kill ends bitwise identical
to an uninterrupted run, and the same seed gives identical weights.

The run directory is the other stages' (`priorlab.common.runfiles`, `checkpoints`): config.json, metrics.jsonl (`loss/sft`,
`eval/acc_greedy`, `eval/format/code`, ...), summary.json, model.safetensors + model.json readable by
`load_model` (so the result is an `--init` for `priorlab rl`), checkpoints/step_N with optimizer state.
"""

from __future__ import annotations

import hashlib
import json
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch

from priorlab.common import checkpoints, codeversion, config, rundirs, runfiles
from priorlab.common.config import PRETRAIN_ADAM, AdamWConfig
from priorlab.evals import world_eval as ev
from priorlab.model.checkpoint import load_model
from priorlab.world.formats import FORMATS, Style
from priorlab.world.tasks import RL_DIFFICULTY, Problem, get_task, parse_difficulties
from priorlab.world.tokenizer import Tokenizer

SFT_DIFFICULTY = "2x1,3x1,4x1"  # teacher traces cover the evaluation's default difficulties


class TracesError(ValueError):
    """A traces file or one of its lines is unusable; the message names the file and the line."""


@dataclass(frozen=True)
class SFTConfig:
    init: str = ""
    traces: str = ""  # JSONL file of {"problem", "completion"}; exactly one of traces / teacher_format
    teacher_format: str = ""  # "code" | "nl" | "direct": world-rendered gold traces of that format
    skip_bad_lines: bool = False  # traces file: skip malformed lines (counted) instead of stopping
    difficulty: str = SFT_DIFFICULTY  # teacher traces: difficulties of the train-split problems
    problems: int = 2000  # teacher traces: how many problems (drawn with replacement)
    steps: int = 300
    seed: int = 0
    batch_size: int = 32  # examples per step
    lr: float = 1e-3
    warmup_steps: int = 10
    weight_decay: float = 0.0
    grad_clip: float = 1.0
    eval_every: int = 50
    eval_difficulty: str = RL_DIFFICULTY
    eval_problems: int = 100
    eval_samples: int = 4
    max_new_tokens: int = 96  # evaluation samples
    ckpt_every: int = 50
    adam: AdamWConfig = field(default_factory=lambda: PRETRAIN_ADAM)  # betas 0.9 / 0.95


    def __post_init__(self) -> None:
        if bool(self.traces) == bool(self.teacher_format):
            raise ValueError("give exactly one of --traces FILE and --teacher-format FORMAT")
        if self.teacher_format and self.teacher_format not in FORMATS:
            raise ValueError(f"--teacher-format {self.teacher_format!r}: valid: {', '.join(FORMATS)}")
        config.require_positive(self, (
            "steps", "batch_size", "problems", "eval_every", "eval_problems", "eval_samples", "max_new_tokens",
            "ckpt_every"))
        if self.warmup_steps < 0:
            raise ValueError(f"--warmup-steps must be >= 0, got {self.warmup_steps}")
        if not self.lr > 0:
            raise ValueError(f"--lr must be > 0, got {self.lr}")
        if self.weight_decay < 0 or not self.grad_clip > 0:
            raise ValueError("--weight-decay must be >= 0 and --grad-clip > 0")
        parse_difficulties(self.difficulty)
        parse_difficulties(self.eval_difficulty)


# ------------------------------------------------------------------------------------------ data
@dataclass(frozen=True)
class Example:
    problem: Problem
    completion: str


def _parse_line(line: str, tok: Tokenizer, block_size: int) -> Example:
    """One traces line -> Example; raises ValueError with the reason (no file or line: the caller adds it)."""
    try:
        row = json.loads(line)
    except json.JSONDecodeError as e:
        raise ValueError(f"invalid JSON ({e.msg})") from None
    if not isinstance(row, dict) or "problem" not in row or "completion" not in row:
        raise ValueError("expected a JSON object with fields 'problem' and 'completion'")
    problem, completion = row["problem"], row["completion"]
    if not isinstance(problem, str):
        raise ValueError(f"field 'problem' must be a string like '3+5-2', got {problem!r}")
    p = Problem.from_expr(problem.strip())  # ValueError names the problem
    if not isinstance(completion, str) or not completion:
        raise ValueError("field 'completion' must be a non-empty string")
    task = get_task()
    n = len(tok.encode(task.prompt(p) + completion, bos=True, eos=True))  # ValueError names the character
    if n - 1 > block_size:
        raise ValueError(f"prompt + completion is {n} tokens, more than the model's block size {block_size} + 1")
    return Example(p, completion)


def load_traces(path: str | Path, *, skip_bad_lines: bool = False, block_size: int = 256,
                tokenizer: Tokenizer | None = None) -> tuple[list[Example], int, str | None]:
    """Read a traces file: (examples, number of skipped lines, the first skipped line's error or None).

    Blank lines are ignored. A malformed line raises TracesError `FILE:LINE: reason`, unless
    skip_bad_lines, which skips it and counts it. A file with no usable line is always an error.
    """
    path, tok = Path(path), tokenizer or Tokenizer()
    if not path.is_file():
        raise TracesError(f"--traces {path}: file not found")
    examples, skipped, first_error = [], 0, None
    with open(path, encoding="utf-8") as f:
        for lineno, line in enumerate(f, start=1):
            if not line.strip():
                continue
            try:
                examples.append(_parse_line(line, tok, block_size))
            except ValueError as e:
                msg = f"{path}:{lineno}: {e.args[0] if e.args else e}"
                if not skip_bad_lines:
                    raise TracesError(msg) from None
                skipped += 1
                first_error = first_error or msg
    if not examples:
        raise TracesError(f"{path}: no usable traces" + (f" ({skipped} malformed lines skipped)" if skipped else ""))
    return examples, skipped, first_error


def teacher_traces(fmt: str, difficulty: str, n: int, seed: int) -> list[Example]:
    """`n` train-split problems with their gold `fmt` solution (canonical style: left to right, no check)."""
    task, diffs = get_task(), parse_difficulties(difficulty)
    rng = random.Random(f"sft-teacher:{seed}")
    problems = [task.generate(rng, rng.choice(diffs), split="train") for _ in range(n)]
    return [Example(p, task.render(p, Style(fmt))) for p in problems]


def encode(examples: list[Example], tok: Tokenizer) -> list[tuple[list[int], list[int]]]:
    """Examples -> (prompt ids with <bos>, completion ids with <eos>)."""
    task = get_task()
    return [(tok.encode(task.prompt(e.problem), bos=True), tok.encode(e.completion, eos=True)) for e in examples]


def batch_indices(n: int, step: int, seed: int, batch_size: int) -> list[int]:
    """Example indices of step `step`: slots step·B .. step·B+B−1 of a stream of per-epoch permutations.

    A pure function of (n, step, seed, batch_size): every example is seen once per epoch, and a resumed
    run draws exactly the batches an uninterrupted one would.
    """
    out, perms = [], {}
    for i in range(step * batch_size, (step + 1) * batch_size):
        epoch = i // n
        if epoch not in perms:
            perms[epoch] = np.random.default_rng([seed, epoch, 0x5F7]).permutation(n)
        out.append(int(perms[epoch][i % n]))
    return out


def make_batch(pairs: list[tuple[list[int], list[int]]], pad_id: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Right-padded inputs and targets for next-token prediction with the prompt masked.

    pairs: (prompt ids, completion ids) -> x, y [B, T] long, T = longest prompt + completion − 1.
    y[b, t] = the token after x[b, t] when that token is a completion token, else -100 (prompt, padding).
    Right padding keeps every real token at its unpadded position, so no attention mask is needed.
    """
    T = max(len(p) + len(c) for p, c in pairs) - 1
    x = torch.full((len(pairs), T), pad_id, dtype=torch.long)
    y = torch.full((len(pairs), T), -100, dtype=torch.long)
    for b, (p, c) in enumerate(pairs):
        seq = p + c
        x[b, : len(seq) - 1] = torch.tensor(seq[:-1])
        y[b, len(p) - 1 : len(seq) - 1] = torch.tensor(c)
    return x, y


def lr_at(step: int, cfg: SFTConfig) -> float:
    """Linear warm-up over `warmup_steps`, then constant."""
    return cfg.lr * min(1.0, (step + 1) / cfg.warmup_steps) if cfg.warmup_steps else cfg.lr


# ------------------------------------------------------------------------------------ evaluation
def eval_problems(difficulty: str, n: int, seed: int) -> list[Problem]:
    """The fixed held-out set: `n` test-split problems per difficulty (as `priorlab rl` evaluates)."""
    return [p for d in parse_difficulties(difficulty) for p in ev.test_problems(d, n, seed)]


def evaluate_policy(model, problems: list[Problem], *, samples: int, max_new_tokens: int, seed: int) -> dict:
    """`priorlab.evals.world_eval.policy_eval` (the keys every training stage logs under eval/)."""
    return ev.policy_eval(model, problems, samples=samples, max_new_tokens=max_new_tokens, seed=seed)


# ------------------------------------------------------------------------------------------- loop
def _traces_sha256(path: str) -> str:
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def check_resumable(out: Path, resolved: dict) -> None:
    """A resumed run must have the config it started with (else its batches and results would differ)."""
    path = out / "config.json"
    if not path.is_file():
        return
    saved = {k: v for k, v in runfiles.read_json(path).items() if k != "code_version"}
    diff = sorted(k for k in set(saved) | set(resolved) if saved.get(k) != runfiles.to_jsonable(resolved.get(k)))
    if diff:
        raise runfiles.RunError(f"--resume {out}: config differs from the run's config.json in {', '.join(diff)}")


def start_run(out: Path, resolved: dict, model, opt, meta: dict, resume: bool, log) -> tuple[int, runfiles.MetricsLog, bool]:
    """Write config.json and step 0, or reload the newest checkpoint; returns (start step, metrics log,
    fresh). Shared by the imitation stages (`sft`, `srl`)."""
    if out.exists() and any(out.iterdir()) and not resume:
        raise runfiles.RunError(f"--out {out}: directory exists and is not empty (use --resume or another --out)")
    if resume:
        check_resumable(out, resolved)
    out.mkdir(parents=True, exist_ok=True)
    runfiles.atomic_write_json(out / "config.json", {**resolved, "code_version": codeversion.code_version()})
    metrics_log = runfiles.MetricsLog(out / "metrics.jsonl")
    ckpt = checkpoints.latest_checkpoint(out) if resume else None
    if ckpt is None:
        metrics_log.truncate_after(-1)
        checkpoints.save_checkpoint(out, 0, model, opt, meta, {"step": 0})
        return 0, metrics_log, True
    step = checkpoints.restore(ckpt, model, opt)
    metrics_log.truncate_after(step)
    log(f"resuming {out} from step {step}")
    return step, metrics_log, False


def eval_summary(stage: str, rows: list[dict], **extra) -> dict:
    """summary.json of an imitation stage: eval/* of the first and last evaluated rows, plus `extra`."""
    evals = [r for r in rows if any(k.startswith("eval/") for k in r)]
    first, last = (evals[0], evals[-1]) if evals else ({}, {})
    return {"stage": stage, **extra,
            **{f"{k}/before": first[k] for k in first if k.startswith("eval/")},
            **{f"{k}/after": last[k] for k in last if k.startswith("eval/")}}


def load_examples(cfg: SFTConfig, block_size: int, log) -> tuple[list[Example], dict]:
    """The training examples and what the run records about them (source, counts, skipped lines)."""
    if cfg.teacher_format:
        ex = teacher_traces(cfg.teacher_format, cfg.difficulty, cfg.problems, cfg.seed)
        return ex, {"source": f"teacher:{cfg.teacher_format}", "examples": len(ex)}
    ex, skipped, first = load_traces(cfg.traces, skip_bad_lines=cfg.skip_bad_lines, block_size=block_size)
    if skipped:
        log(f"skipped {skipped} malformed line(s) of {cfg.traces}; first: {first}")
    n_test = sum(e.problem.split == "test" for e in ex)
    if n_test:
        log(f"warning: {n_test} trace(s) of {cfg.traces} are test-split problems, which evaluation uses")
    return ex, {"source": "traces", "examples": len(ex), "skipped_lines": skipped, "test_split_examples": n_test,
                "traces_sha256": _traces_sha256(cfg.traces)}


def train(cfg: SFTConfig, out: str | Path, *, resume: bool = False, progress: bool = True, log=print) -> dict:
    """Fine-tune `cfg.init` on the examples; `out` ends up a finished run directory. Returns the summary."""
    out = Path(out)
    if rundirs.is_finished(out) and resume:
        log(f"run {out} is already finished")
        return runfiles.read_json(out / "summary.json")
    model, init_meta = load_model(cfg.init)
    model.train()
    tok = Tokenizer()
    examples, data_info = load_examples(cfg, model.cfg.block_size, log)
    pairs = encode(examples, tok)
    resolved = {**asdict(cfg), "stage": "sft", "data": data_info}
    opt = cfg.adam.build(model.parameters(), lr=cfg.lr, weight_decay=cfg.weight_decay)
    meta = {**{k: v for k, v in init_meta.items() if k not in ("step", "code_version")}, "stage": "sft",
            "init": str(cfg.init)}
    start, metrics_log, fresh = start_run(out, resolved, model, opt, meta, resume, log)
    eval_set = eval_problems(cfg.eval_difficulty, cfg.eval_problems, cfg.seed)

    def evaluate() -> dict:
        return evaluate_policy(model, eval_set, samples=cfg.eval_samples, max_new_tokens=cfg.max_new_tokens,
                               seed=cfg.seed)

    if fresh:
        metrics_log.append({"step": 0, **evaluate()})
    t_run = time.perf_counter()
    for step in range(start, cfg.steps):
        t0 = time.perf_counter()
        lr = lr_at(step, cfg)
        for g in opt.param_groups:
            g["lr"] = lr
        x, y = make_batch([pairs[i] for i in batch_indices(len(pairs), step, cfg.seed, cfg.batch_size)], tok.pad_id)
        _, loss = model(x, y)  # token mean over completion tokens
        if not torch.isfinite(loss):
            raise runfiles.RunError(f"non-finite SFT loss at step {step + 1}; last good checkpoint: "
                                f"{checkpoints.latest_checkpoint(out)}")
        opt.zero_grad(set_to_none=True)
        loss.backward()
        gnorm = torch.nn.utils.clip_grad_norm_(model.parameters(), cfg.grad_clip)
        opt.step()
        row = {"step": step + 1, "loss/sft": loss.item(), "lr": lr, "update/grad_norm": float(gnorm),
               "tokens/completion": int((y != -100).sum())}
        if (step + 1) % cfg.eval_every == 0 or step + 1 == cfg.steps:
            row.update(evaluate())
        row["time/step_s"] = time.perf_counter() - t0
        metrics_log.append(row)
        if (step + 1) % cfg.ckpt_every == 0 or step + 1 == cfg.steps:
            checkpoints.save_checkpoint(out, step + 1, model, opt, meta, {"step": step + 1})
        if progress:
            log(f"step {step + 1}/{cfg.steps} loss {row['loss/sft']:.4f}"
                + (f" | eval greedy {row['eval/acc_greedy']:.3f} t1 {row['eval/acc_t1']:.3f}" if "eval/acc_t1" in row else ""))
    checkpoints.save_weights(out, model, {**meta, "step": cfg.steps})
    rows = metrics_log.read()
    losses = [r["loss/sft"] for r in rows if "loss/sft" in r]
    summary = eval_summary("sft", rows, steps=cfg.steps, resumed_from=start, elapsed_s=time.perf_counter() - t_run,
                           **{"loss/sft": float(np.mean(losses[-10:])) if losses else None}, data=data_info)
    runfiles.atomic_write_json(out / "summary.json", summary)
    return summary
