"""Run-directory locks: one writer at a time, the holder named, a dead holder's lock taken over."""

import os
import signal
import subprocess
import sys
import time

import pytest

from priorlab.common import runlock

HOLD = """
import sys, time
from priorlab.common import runlock
with runlock.hold(sys.argv[1]):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def holder(out, seconds=120):
    """A separate process holding the lock of `out` for `seconds` (returned once it holds it)."""
    proc = subprocess.Popen([sys.executable, "-c", HOLD, str(out), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert proc.stdout.readline().strip() == "held"
    return proc


def test_a_second_writer_fails_at_once_naming_the_holder(tmp_path):
    proc = holder(tmp_path / "run")
    try:
        t = time.perf_counter()
        with pytest.raises(runlock.RunBusy, match=rf"--out {tmp_path}/run: in use by another priorlab process "
                                                  rf"\(pid {proc.pid} on "):
            with runlock.hold(tmp_path / "run"):
                pass
        assert time.perf_counter() - t < 2
    finally:
        proc.kill()
        proc.wait()


def test_a_lock_left_by_a_killed_process_is_taken_over(tmp_path):
    proc = holder(tmp_path / "run")
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert (tmp_path / "run" / ".lock").exists()  # the file stays, the kernel dropped the lock
    logs = []
    with runlock.hold(tmp_path / "run", log=logs.append):
        assert runlock.is_held(tmp_path / "run")
    assert len(logs) == 1 and f"lock left by pid {proc.pid} on" in logs[0] and "no longer running" in logs[0]
    assert not (tmp_path / "run" / ".lock").exists()  # removed when the run ends


def test_holding_is_reentrant_and_a_waiter_gets_the_lock_when_the_holder_ends(tmp_path):
    out = tmp_path / "run"
    with runlock.hold(out):
        with runlock.hold(out):  # the same process again (a sweep job, then its trainer): no deadlock
            assert runlock.is_held(out)
        assert runlock.is_held(out)
    assert not runlock.is_held(out)
    proc = holder(out, seconds=1.5)
    logs, t = [], time.perf_counter()
    with runlock.hold(out, wait=True, log=logs.append):
        assert time.perf_counter() - t > 1.0  # held until the holder let go
    proc.wait()
    assert logs and logs[0].startswith(f"{out}: waiting for pid {proc.pid} on ")


def test_the_lock_file_follows_the_umask(tmp_path):
    old = os.umask(0o022)
    try:
        with runlock.hold(tmp_path / "run"):
            assert (tmp_path / "run" / ".lock").stat().st_mode & 0o777 == 0o644
    finally:
        os.umask(old)
