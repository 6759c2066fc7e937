"""Run directories, checkpoints, the pretraining cache and atomic writes.

Every stage writes a run directory:

    RUN/config.json       resolved config (every default filled in)
    RUN/metrics.jsonl     one JSON object per logged step
    RUN/summary.json      final numbers (written last: its presence marks a finished run)
    RUN/model.safetensors final weights, RUN/model.json their metadata
    RUN/checkpoints/step_00000100/{model.safetensors, meta.json, state.pt}

Files are written to a temporary name and renamed, so a killed run never leaves a half-written file;
`--resume` continues from the newest complete checkpoint.
"""

from __future__ import annotations

import functools
import hashlib
import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path

import torch
from safetensors.torch import load_file, save_file

import priorlab


class RunError(ValueError):
    """A run directory or checkpoint is missing or unusable; the message names the path."""


# ------------------------------------------------------------------------------------ atomic writes
def require_positive(cfg, names: tuple[str, ...]) -> None:
    """A stage config's check: each named integer field is >= 1, else ValueError naming its CLI option."""
    for name in names:
        if getattr(cfg, name) < 1:
            raise ValueError(f"--{name.replace('_', '-')} must be >= 1, got {getattr(cfg, name)}")


def atomic_write(path: str | Path, write) -> None:
    """Call write(tmp) on a temporary sibling of `path`, then rename it into place: a reader (or a run
    killed mid-write) never sees a half-written file. The temporary file is removed on failure."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    os.close(fd)
    try:
        write(tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_text(path: str | Path, text: str) -> None:
    def write(tmp: str) -> None:
        with open(tmp, "w") as f:
            f.write(text)
            f.flush()
            os.fsync(f.fileno())

    atomic_write(path, write)


def atomic_write_parquet(path: str | Path, table) -> None:
    """A pyarrow Table as a Parquet file, atomically."""
    import pyarrow.parquet as pq

    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def to_jsonable(obj):
    if is_dataclass(obj):
        return to_jsonable(asdict(obj))
    if isinstance(obj, dict):
        return {str(k): to_jsonable(v) for k, v in obj.items()}
    if isinstance(obj, (list, tuple)):
        return [to_jsonable(v) for v in obj]
    if isinstance(obj, Path):
        return str(obj)
    if hasattr(obj, "item") and callable(obj.item):
        obj = obj.item()
    if isinstance(obj, float) and not math.isfinite(obj):
        return None  # JSON has no NaN: undefined numbers are written as null
    return obj


def atomic_write_json(path: str | Path, obj) -> None:
    atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> dict:
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: file not found")
    try:
        return json.loads(path.read_text())
    except json.JSONDecodeError as e:
        raise RunError(f"{path}: invalid JSON ({e.msg} at line {e.lineno})") from None


# -------------------------------------------------------------------------------------- metrics log
class MetricsLog:
    """Append-only `metrics.jsonl`; each line is flushed so a kill loses at most the line in flight."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def truncate_after(self, step: int) -> None:
        """Drop lines logged after `step` (they are re-logged when a resumed run redoes those steps)."""
        if not self.path.exists():
            return
        keep = []
        for line in self.path.read_text().splitlines():
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                break  # a torn last line from a kill
            if row.get("step", -1) <= step:
                keep.append(line)
        atomic_write_text(self.path, "".join(k + "\n" for k in keep))

    def append(self, row: dict) -> None:
        with open(self.path, "a") as f:
            f.write(json.dumps(to_jsonable(row)) + "\n")
            f.flush()

    def read(self) -> list[dict]:
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]


# ------------------------------------------------------------------------------------- checkpoints
def save_weights(dirpath: str | Path, model: torch.nn.Module, meta: dict) -> None:
    """`model.safetensors` + `model.json` (config, step, vocabulary and code versions), atomically."""
    dirpath = Path(dirpath)
    dirpath.mkdir(parents=True, exist_ok=True)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    atomic_write(dirpath / "model.safetensors", lambda tmp: save_file(state, tmp, metadata={"priorlab": "1"}))
    atomic_write_json(dirpath / "model.json", {"code_version": code_version(), **meta})


def atomic_dir(dest: str | Path, write) -> Path:
    """Fill a directory by calling write(tmp) on a temporary sibling, then rename it to `dest` (replacing
    any old one): a kill never leaves a half-written `dest`; a failure removes the temporary."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}."))
    try:
        write(tmp)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    return dest


def save_checkpoint(run_dir: str | Path, step: int, model, optimizer, meta: dict, extra_state: dict | None = None) -> Path:
    """Write `checkpoints/step_N/` (weights, model.json, state.pt) with atomic_dir (kill-safe)."""
    state = {"optimizer": optimizer.state_dict() if optimizer is not None else None,
             "torch_rng": torch.get_rng_state(), **(extra_state or {})}

    def write(tmp: Path) -> None:
        save_weights(tmp, model, {**meta, "step": step})
        torch.save(state, tmp / "state.pt")

    return atomic_dir(Path(run_dir) / "checkpoints" / f"step_{step:08d}", write)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return None
    done = sorted(p for p in root.iterdir() if p.name.startswith("step_") and (p / "state.pt").exists())
    return done[-1] if done else None


def load_state(ckpt: Path) -> dict:
    return torch.load(ckpt / "state.pt", weights_only=False)


def restore(ckpt: Path, model: torch.nn.Module, optimizer) -> int:
    """Load a checkpoint's weights, optimizer and torch RNG state in place; returns its step."""
    state, _ = load_weights(ckpt)
    model.load_state_dict(state)
    st = load_state(ckpt)
    optimizer.load_state_dict(st["optimizer"])
    torch.set_rng_state(st["torch_rng"])
    return st["step"]


def load_weights(dirpath: str | Path) -> tuple[dict, dict]:
    """(state_dict, model.json metadata) from a run directory or checkpoint directory."""
    dirpath = Path(dirpath)
    f = dirpath / "model.safetensors"
    if not f.is_file():
        raise RunError(f"{dirpath}: no model.safetensors (not a finished run or checkpoint)")
    return load_file(str(f)), read_json(dirpath / "model.json")


# -------------------------------------------------------------------------------- versions, caching
# The sources whose edits can change a stage's results. Pretrained priors depend on the world, the model
# and the pretraining loop only, so editing the RL code does not invalidate the (expensive) prior cache.
VERSIONED_SOURCES = {
    "pretrain": ("world", "model", "pretrain.py"),
    "all": ("world", "model", "pretrain.py", "rl", "sft", "evals", "common/runs.py"),
}


@functools.cache
def code_version(stage: str = "all") -> str:
    """Package version + a hash of the sources that determine a stage's results (read once per process)."""
    root = Path(priorlab.__file__).parent
    h = hashlib.sha256()
    for name in VERSIONED_SOURCES[stage]:
        p = root / name
        files = sorted(p.rglob("*.py")) + sorted(p.rglob("*.yaml")) if p.is_dir() else [p]
        for f in files:
            h.update(f.relative_to(root).as_posix().encode())
            h.update(f.read_bytes())
    return f"{priorlab.__version__}+{h.hexdigest()[:10]}"


def cache_root() -> Path:
    return Path(os.environ.get("PRIORLAB_CACHE", Path.home() / ".cache" / "priorlab"))


def config_hash(cfg: dict, stage: str = "all") -> str:
    blob = json.dumps(to_jsonable(cfg), sort_keys=True) + code_version(stage)
    return hashlib.sha256(blob.encode()).hexdigest()[:16]


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
