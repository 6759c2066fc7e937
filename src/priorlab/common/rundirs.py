"""Run directories as a whole: claiming one for a run (locked; a failed start leaves nothing), when a run is
finished, how every trainer opens (or resumes) one, and copying a finished run elsewhere.

    with rundirs.claim(out, resume=resume, log=log):     # every trainer's body runs inside
        ...
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path

from priorlab.common import checkpoints, codeversion, finite, runlock
from priorlab.common import resume as resume_rules
from priorlab.common.runfiles import (
    MetricsLog,
    RunError,
    atomic_write_json,
    copy_atomic,
    read_json,
    remove_temporaries,
    umask_mode,
)


class Claim:
    """A run directory held by `claim`; a trainer calls `begin()` as its first step starts."""

    def __init__(self, out: Path):
        self.out, self.begun = out, False

    def begin(self) -> None:
        """Mark that training started: a failure from here on keeps the run directory for --resume."""
        self.begun = True


@contextlib.contextmanager
def claim(out: Path, *, resume: bool, log, wait: bool = False) -> Iterator[Claim]:
    """Hold run directory `out` for the life of a run: locked (`runlock.hold`; `wait` for another holder
    instead of failing). A run begun in a new or empty directory that fails before it starts training
    (`Claim.begin`) is removed, so that the same command can run again; once training has begun, what it
    wrote is kept (the last good checkpoint, the metrics up to the failure)."""
    out = Path(out)
    created, cleared, handle = not out.exists(), False, Claim(out)
    try:
        with runlock.hold(out, wait=wait, log=log):
            for d in (out, out / "checkpoints", out / "rollouts", out / "model"):  # a killed writer's leftovers
                remove_temporaries(d)
            fresh = not has_entries(out)
            try:
                yield handle
            except finite.NonFiniteError as e:  # every trainer's stop names what it leaves to go back to
                raise finite.NonFiniteError(f"{e.args[0]}; stopped, last good checkpoint: "
                                            f"{checkpoints.latest_checkpoint(out)}") from None
            except BaseException:
                if fresh and not handle.begun and not is_finished(out):
                    for p in out.iterdir():
                        if p.name != runlock.LOCK_NAME:
                            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()
                    cleared = True
                raise
    finally:
        if cleared and created:
            with contextlib.suppress(OSError):
                out.rmdir()


def has_entries(out: Path) -> bool:
    """True if `out` holds anything but its lock file."""
    return out.is_dir() and any(p.name != runlock.LOCK_NAME for p in out.iterdir())


def is_finished(run_dir: str | Path) -> bool:
    """A run is finished once its summary.json and its final model (priorlab or Hugging Face) are written."""
    d = Path(run_dir)
    return (d / "summary.json").is_file() and ((d / "model.safetensors").is_file() or (d / "model" / "config.json").is_file())


def finished_summary(out: Path, resume: bool, log, settings: dict | None = None) -> dict | None:
    """Start-of-run check shared by the trainers: with --resume, a finished run's summary (nothing to do), or
    None where `settings` ask for more steps (`resume.finished`: the run goes on); without --resume, a
    non-empty --out is refused, so that no earlier result is overwritten. None = go on."""
    if resume and is_finished(out):
        if settings is not None:
            return resume_rules.finished(out, settings, log)
        log(f"run {out} is already finished")
        return read_json(out / "summary.json")
    if not resume and has_entries(out):
        raise RunError(f"--out {out}: directory exists and is not empty (use --resume or another --out)")
    return None


def open_run(out: Path, resolved: dict, policy, opt, *, resume: bool, ckpt: Path | None, log) -> tuple[int, MetricsLog]:
    """How every trainer (rl, srl, sft) opens its run directory: with `resume`, refuse settings that differ
    from the saved ones (`resume.check`); reload `ckpt` (the newest checkpoint when resuming) into the policy
    and optimiser, or save step 0 where the policy keeps it; write config.json (+ code_version, + the resumes).
    (the step to start from, the metrics log cut after it)."""
    diff = resume_rules.check(out, resolved, ignore=tuple(policy.config())) if resume else {}
    out.mkdir(parents=True, exist_ok=True)
    start = policy.restore(ckpt, opt, out, log)
    if start > resolved.get("steps", start):
        raise RunError(f"--steps {resolved['steps']}: the run in {out} has a checkpoint at step {start} already, and "
                       "a run cannot be cut short; use another --out")
    history = resume_rules.record(out / "config.json", start, diff) if ckpt is not None else []
    atomic_write_json(out / "config.json", {**resolved, "code_version": codeversion.code_version(),
                                            **({"resumed": history} if history else {})})
    metrics_log = MetricsLog(out / "metrics.jsonl")
    metrics_log.truncate_after(start if ckpt is not None else -1)
    if ckpt is None and policy.keeps_step0:
        policy.save_checkpoint(out, 0, opt)
    return start, metrics_log


def copy_run(src: Path, dest: Path) -> None:
    """Copy a finished run's files (not its checkpoints) into `dest`, each atomically and summary.json last,
    so that `dest` is never seen finished before it is complete."""
    files = sorted((p for p in src.rglob("*") if p.is_file() and not _skipped(p.relative_to(src))),
                   key=lambda p: p.relative_to(src) == Path("summary.json"))
    for f in files:
        copy_atomic(f, dest / f.relative_to(src))


def publish(src: Path, dest: Path) -> None:
    """Copy a finished run (without its checkpoints) to `dest` (the cache) in one rename. A `dest` that is
    already finished is kept: another process published the same run (same key, same bytes)."""
    if is_finished(dest):
        return
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, umask_mode(0o777))
        copy_run(src, tmp)
        try:
            os.rename(tmp, dest)
        except OSError as e:
            if e.errno not in (errno.ENOTEMPTY, errno.EEXIST):
                raise
            if not is_finished(dest):  # an unfinished leftover of a killed publisher: replace it
                shutil.rmtree(dest, ignore_errors=True)
                os.rename(tmp, dest)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _skipped(rel: Path) -> bool:
    return rel.parts[0] == "checkpoints" or rel.name == runlock.LOCK_NAME
