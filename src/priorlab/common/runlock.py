"""An advisory lock on a run directory for the life of a run, so that two processes never write one run.

    with runlock.hold(out):                 # a second writer fails at once, naming the holder
        ...
    with runlock.hold(out, wait=True):      # sweeps: wait for the other process, then reuse its result

The lock is `flock` on `RUN/.lock` (POSIX; also over NFSv4). The kernel drops it when its process dies, so a
lock left by a killed process is taken over by the next run (which says so: the file still names the dead
holder). The file holds the holder's pid, host, command and start time, and is removed when the run ends.
Holding is re-entrant within a process (a sweep's job holds the lock its trainer asks for again).
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from priorlab.common.runfiles import RunError

LOCK_NAME = ".lock"
_HELD: dict[Path, int] = {}  # resolved run directory -> lock file descriptor held by this process


class RunBusy(RunError):
    """Another live process holds the run directory's lock; the message names it."""


@contextlib.contextmanager
def hold(out: str | Path, *, wait: bool = False, what: str = "--out", log=None) -> Iterator[None]:
    """Hold the lock of run directory `out` (created if missing) inside the block. Busy: RunBusy naming the
    holder at once, or with `wait` block until it ends. `what` names the directory in messages."""
    out = Path(out)
    key = out.resolve()
    if key in _HELD:
        yield
        return
    fd = _acquire(out, wait, what, log)
    _HELD[key] = fd
    try:
        yield
    finally:
        del _HELD[key]
        with contextlib.suppress(FileNotFoundError):
            os.unlink(out / LOCK_NAME)  # while held: a process waiting on the old file retries on the new one
        os.close(fd)


def is_held(out: str | Path) -> bool:
    """True if this process holds the lock of `out`."""
    return Path(out).resolve() in _HELD


def _acquire(out: Path, wait: bool, what: str, log) -> int:
    out.mkdir(parents=True, exist_ok=True)
    path = out / LOCK_NAME
    while True:
        fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o666)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = _describe(_read(fd))
            if not wait:
                os.close(fd)
                raise RunBusy(f"{what} {out}: in use by another priorlab process ({holder}); wait for it to end, or "
                              "stop it") from None
            if log:
                log(f"{out}: waiting for {holder}")
            fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            same = os.fstat(fd).st_ino == os.stat(path).st_ino
        except FileNotFoundError:
            same = False
        if same:
            break
        os.close(fd)  # the holder removed the file as it finished: lock the new one
    previous = _read(fd)
    if previous and log:
        log(f"{out}: taking over the lock left by {_describe(previous)}, which is no longer running")
    info = {"pid": os.getpid(), "host": socket.gethostname(), "command": " ".join(sys.argv)[:300],
            "since": time.strftime("%Y-%m-%d %H:%M:%S")}
    os.ftruncate(fd, 0)
    os.pwrite(fd, json.dumps(info).encode(), 0)
    return fd


def _read(fd: int) -> dict:
    try:
        raw = os.pread(fd, 4096, 0)
        return json.loads(raw) if raw.strip() else {}
    except (OSError, ValueError):
        return {}


def _describe(info: dict) -> str:
    if not info:
        return "a process that has not said who it is yet"
    return f"pid {info.get('pid')} on {info.get('host')}, `{info.get('command', '')}`, since {info.get('since')}"
