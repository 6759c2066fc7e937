"""Files of a run directory, written so that nothing half-written is ever seen: atomic writes (a temporary
sibling renamed into place), JSON in and out, the append-only metrics log.

    RUN/config.json       resolved config (every default filled in)
    RUN/metrics.jsonl     one JSON object per logged step (`MetricsLog`)
    RUN/summary.json      final numbers (written last: its presence marks a finished run)

    atomic_write_json(out / "summary.json", summary)     # a kill leaves the old file or the new one
"""

from __future__ import annotations

import json
import math
import os
import shutil
import tempfile
from dataclasses import asdict, is_dataclass
from pathlib import Path


class RunError(ValueError):
    """A run directory or checkpoint is missing or unusable; the message names the path."""


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
