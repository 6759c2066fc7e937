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
    killed mid-write) never sees a half-written file. The temporary file is removed on failure; an OSError
    that names no file (a full disk while writing) is given `path` as its file name."""
    path = Path(path)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    except OSError as e:
        raise named(e, path) from None
    os.close(fd)
    try:
        os.chmod(tmp, umask_mode(0o666))  # mkstemp makes 0600: a report must be readable where it is served
        write(tmp)
        fsync(tmp)
        os.replace(tmp, path)
    except OSError as e:
        Path(tmp).unlink(missing_ok=True)
        raise named(e, path) from None
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def umask_mode(mode: int) -> int:
    """`mode` as the user's umask leaves it (0o666 -> 0o644 under the usual umask 022)."""
    mask = os.umask(0)
    os.umask(mask)
    return mode & ~mask


def copy_atomic(src: str | Path, dest: str | Path) -> None:
    """Copy a file to `dest` atomically (atomic_write)."""
    atomic_write(dest, lambda tmp: shutil.copyfile(src, tmp))


def named(e: OSError, path: str | Path) -> OSError:
    """`e` with `path` as its file name where it has none (errors of write() and fsync() name no file)."""
    if e.filename is None:
        e.filename = str(path)
    return e


def remove_temporaries(folder: str | Path) -> list[Path]:
    """Remove the temporaries (`.NAME.XXXX.tmp`) a killed writer left in `folder`; the ones removed. Only for
    a folder nobody else is writing (a locked run directory)."""
    gone = []
    for p in sorted(Path(folder).glob(".*.tmp")) if Path(folder).is_dir() else []:
        shutil.rmtree(p, ignore_errors=True) if p.is_dir() else p.unlink(missing_ok=True)
        gone.append(p)
    return gone


def read_text(path: str | Path, what: str = "") -> str:
    """A UTF-8 text file's contents; a binary file is a RunError naming `what` (e.g. `--mixture x.yaml`) or
    the path."""
    path = Path(path)
    try:
        return path.read_text(encoding="utf-8")
    except UnicodeDecodeError as e:
        raise RunError(f"{what or path}: not UTF-8 text ({e.reason} at byte {e.start})") from None


def fsync(path: str | Path) -> None:
    """Flush a written file to the disk (a full disk may only be reported here)."""
    fd = os.open(path, os.O_RDONLY)
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def atomic_write_text(path: str | Path, text: str) -> None:
    """Write `text` to `path` through a temporary file and a rename: readers see the old file or the new one."""
    atomic_write(path, lambda tmp: Path(tmp).write_text(text))


def atomic_write_parquet(path: str | Path, table) -> None:
    """A pyarrow Table as a Parquet file, atomically."""
    import pyarrow.parquet as pq

    atomic_write(path, lambda tmp: pq.write_table(table, tmp))


def to_jsonable(obj):
    """`obj` as JSON-ready values: dataclasses and dicts recursively, tuples as lists, paths as text, numpy and
    torch scalars as numbers, NaN and inf as null."""
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
    """`obj` (through `to_jsonable`) as indented JSON, written atomically."""
    atomic_write_text(path, json.dumps(to_jsonable(obj), indent=2, sort_keys=False) + "\n")


def read_json(path: str | Path) -> dict:
    """A JSON file as a dict; a missing or invalid file raises RunError naming it."""
    path = Path(path)
    if not path.is_file():
        raise RunError(f"{path}: file not found")
    try:
        return json.loads(read_text(path))
    except json.JSONDecodeError as e:
        raise RunError(f"{path}: invalid JSON ({e.msg} at line {e.lineno})") from None


def atomic_dir(dest: str | Path, write) -> Path:
    """Fill a directory by calling write(tmp) on a temporary sibling, then rename it to `dest` (replacing
    any old one): a kill never leaves a half-written `dest`; a failure removes the temporary."""
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".tmp"))
    try:
        os.chmod(tmp, umask_mode(0o777))  # mkdtemp makes 0700
        write(tmp)
        if dest.exists():
            shutil.rmtree(dest)
        os.replace(tmp, dest)
    except OSError as e:
        shutil.rmtree(tmp, ignore_errors=True)
        if e.filename is not None and os.fsdecode(e.filename).startswith(str(tmp)):  # name the file it was for
            e.filename = str(dest) + os.fsdecode(e.filename)[len(str(tmp)):]
        raise
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
        """Append one metrics row (flushed at once); with --report-to it also goes to the trackers."""
        try:
            with open(self.path, "a") as f:
                f.write(json.dumps(to_jsonable(row)) + "\n")
                f.flush()
        except OSError as e:
            raise named(e, self.path) from None
        if os.environ.get("PRIORLAB_REPORT_TO"):  # --report-to: the row also goes to the trackers
            from priorlab.common import tracking

            tracking.log_row(self.path, row)

    def read(self) -> list[dict]:
        """Every row logged so far, in order ([] before the first)."""
        if not self.path.exists():
            return []
        return [json.loads(line) for line in self.path.read_text().splitlines() if line.strip()]
