"""What went wrong, in one line: the message the CLI prints for an exception from an input or the environment
(a library error, an OSError, a corrupt file, out of memory, a failed worker), naming the flag or path and
the cause. `cli.errors` prints it; `lab.sweep` uses it for a failed job.

    describe(OSError(errno.ENOTDIR, "Not a directory", "/a/b"), {"--out": "/a/b"})
    # ("--out /a/b: a parent is a file, not a directory", 2)
"""

from __future__ import annotations

import errno
import os
import re
from pathlib import Path

INPUT_ERRORS = (ValueError, KeyError, RuntimeError, OSError, MemoryError, UnicodeError)
CAUSES = {  # errno -> the cause as a user reads it
    errno.ENOSPC: "no space left on device",
    errno.EDQUOT: "disk quota exceeded",
    errno.ENOTDIR: "a parent is a file, not a directory",
    errno.EISDIR: "is a directory, not a file",
    errno.EACCES: "permission denied",
    errno.EPERM: "operation not permitted",
    errno.EROFS: "read-only file system",
    errno.ENOENT: "no such file or directory",
    errno.EEXIST: "already exists",
    errno.ENAMETOOLONG: "file name too long",
    errno.EFBIG: "file too large",
    errno.ENOTEMPTY: "directory not empty",
    errno.EIO: "input/output error",
}
MAX_CHARS = 500  # a message longer than this is cut (a worker's message may hold a whole traceback)


def describe(e: BaseException, paths: dict[str, object] | None = None) -> tuple[str, int]:
    """(one line naming the flag or path and the cause, exit status) for an exception."""
    paths = paths or {}
    if isinstance(e, OSError) and e.errno is not None:
        return one_line(os_error(e, paths)), 2
    if isinstance(e, UnicodeDecodeError):
        return f"a file is not UTF-8 text ({e.reason} at byte {e.start})", 2
    text = first_text(e)
    if out_of_memory(e):
        return one_line(f"out of memory: {text}; lower the batch or problem counts, or use a larger machine"), 2
    name = type(e).__name__
    if name == "SafetensorError":
        if "os error 28" in text:
            return "no space left on device (writing a safetensors file)", 2
        return one_line(f"a safetensors file is corrupt or truncated ({text})"), 2
    if (getattr(type(e), "__module__", "") or "").startswith("ray"):
        cause = getattr(e, "cause", None)
        if isinstance(cause, BaseException):  # a task's own error, raised again by ray.get
            return describe(cause, paths)
        return one_line(f"Ray: {name}: {text}"), 2
    if isinstance(e, KeyError):
        return f"missing field {e.args[0]!r}" if e.args else "missing field", 2
    if isinstance(e, INPUT_ERRORS) and e.args and isinstance(e.args[0], str):
        return one_line(e.args[0]), 2
    if isinstance(e, INPUT_ERRORS):
        return one_line(f"{name}: {text}"), 2
    return one_line(f"internal error ({name}: {text}); rerun with --debug for the traceback"), 1


def os_error(e: OSError, paths: dict[str, object]) -> str:
    """`--out /a/b: a parent is a file, not a directory (/a/b/config.json)`: the flag whose path holds the
    failing file, the cause, and the file itself where it is not the flag's value."""
    cause = (CAUSES.get(e.errno) if e.errno is not None else None) or e.strerror or (
        os.strerror(e.errno) if e.errno is not None else str(e))
    where = e.filename if e.filename is not None else None
    if where is None:
        return cause
    where = os.fsdecode(where)
    flag = owner(where, paths)
    if flag is None:
        return f"{where}: {cause}"
    value = str(paths[flag])
    return f"{flag} {value}: {cause}" + ("" if _same(where, value) else f" ({where})")


def owner(path: str, paths: dict[str, object]) -> str | None:
    """The flag whose value is `path`, a folder holding it (the deepest such value) or a path under it (a
    parent that could not be created), else None."""
    target = _abs(path)
    best, depth = None, -1
    for flag, value in paths.items():
        v = _abs(str(value))
        if (target == v or v in target.parents) and len(v.parts) > depth:
            best, depth = flag, len(v.parts)
    if best is None:
        best = next((flag for flag, value in paths.items() if target in _abs(str(value)).parents), None)
    return best


def _abs(p: str) -> Path:
    return Path(os.path.abspath(os.path.expanduser(p.removeprefix("hf:"))))


def _same(a: str, b: str) -> bool:
    return _abs(a) == _abs(b)


def out_of_memory(e: BaseException) -> bool:
    """Whether an exception means the process ran out of memory (MemoryError, CUDA OOM, an allocator's message)."""
    if isinstance(e, MemoryError) or type(e).__name__ == "OutOfMemoryError":
        return True
    return isinstance(e, RuntimeError) and bool(re.search(r"can't allocate memory|out of memory", str(e), re.I))


def first_line(text: object) -> str:
    """The first non-empty line of `text` (e.g. an exception's message), stripped; '' when there is none."""
    return next((ln.strip() for ln in str(text).splitlines() if ln.strip()), "")


def first_text(e: BaseException) -> str:
    """The first non-empty line of an exception's text (its type name where it has none)."""
    return first_line(e) or type(e).__name__


def one_line(msg: str) -> str:
    """A message on one line, cut to MAX_CHARS."""
    msg = " ".join(part.strip() for part in str(msg).splitlines() if part.strip())
    return msg if len(msg) <= MAX_CHARS else msg[: MAX_CHARS - 3] + "..."
