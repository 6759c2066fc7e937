"""Run directories as a whole: when a run is finished, the start-of-run check every trainer shares, and
copying a finished run elsewhere.
"""

from __future__ import annotations

import shutil
from pathlib import Path

from priorlab.common.runfiles import RunError, atomic_dir, read_json


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


def publish(src: Path, dest: Path) -> None:
    """Copy a finished run (without its checkpoints) to `dest` atomically (atomic_dir)."""
    atomic_dir(dest, lambda tmp: shutil.copytree(src, tmp, ignore=shutil.ignore_patterns("checkpoints"),
                                                 dirs_exist_ok=True))
