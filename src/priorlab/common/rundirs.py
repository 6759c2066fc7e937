"""Run directories as a whole: when a run is finished, how every trainer opens (or resumes) one, and
copying a finished run elsewhere.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from priorlab.common import codeversion
from priorlab.common.runfiles import MetricsLog, RunError, atomic_dir, atomic_write_json, read_json, to_jsonable


def is_finished(run_dir: str | Path) -> bool:
    """A run is finished once its summary.json and its final model (priorlab or Hugging Face) are written."""
    d = Path(run_dir)
    return (d / "summary.json").is_file() and ((d / "model.safetensors").is_file() or (d / "model" / "config.json").is_file())


def finished_summary(out: Path, resume: bool, log) -> dict | None:
    """Start-of-run check shared by the trainers: with --resume, a finished run's summary (nothing to do);
    without it, a non-empty --out is refused, so that no earlier result is overwritten. None = go on."""
    if resume and is_finished(out):
        log(f"run {out} is already finished")
        return read_json(out / "summary.json")
    if not resume and out.exists() and any(out.iterdir()):
        raise RunError(f"--out {out}: directory exists and is not empty (use --resume or another --out)")
    return None


def check_resumable(out: Path, resolved: dict, ignore: tuple[str, ...] = ()) -> None:
    """A resumed run must have the config it started with (else its batches and results would differ).
    `ignore`: keys that describe the loaded model rather than the run (an HF policy's pad_source)."""
    path = out / "config.json"
    if not path.is_file():
        return
    skip = {"code_version", *ignore}
    saved = {k: v for k, v in read_json(path).items() if k not in skip}
    resolved = {k: v for k, v in resolved.items() if k not in skip}
    diff = sorted(k for k in set(saved) | set(resolved) if saved.get(k) != to_jsonable(resolved.get(k)))
    if diff:
        raise RunError(f"--resume {out}: config differs from the run's config.json in {', '.join(diff)}")


def open_run(out: Path, resolved: dict, policy, opt, *, resume: bool, ckpt: Path | None, log) -> tuple[int, MetricsLog]:
    """How every trainer (rl, srl, sft) opens its run directory: with `resume`, refuse a config that differs
    from the saved one; write config.json (+ code_version); reload `ckpt` (the newest checkpoint when resuming)
    into the policy and optimiser, or save step 0 where the policy keeps it. (the step to start from, the
    metrics log cut after it)."""
    if resume:
        check_resumable(out, resolved, ignore=tuple(policy.config()))
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_json(out / "config.json", {**resolved, "code_version": codeversion.code_version()})
    metrics_log = MetricsLog(out / "metrics.jsonl")
    start = policy.restore(ckpt, opt, out, log)
    metrics_log.truncate_after(start if ckpt is not None else -1)
    if ckpt is None and policy.keeps_step0:
        policy.save_checkpoint(out, 0, opt)
    return start, metrics_log


def publish(src: Path, dest: Path) -> None:
    """Copy a finished run (without its checkpoints) to `dest` atomically (atomic_dir)."""
    atomic_dir(dest, lambda tmp: shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("checkpoints"),
                                                 dirs_exist_ok=True))
