"""Run `priorlab ARGS` with one fault injected, as the fault tests need it (test helper, not library code).

    run_faulty("enospc:model.safetensors", "pretrain", "--out", out, ...)   # the disk fills up at that file
    run_faulty("kill:checkpoints/step_00000006", "pretrain", ...)            # kill -9 before that rename

Faults (PRIORLAB_FAULT):
- `enospc:PATTERN[:N]`: the N-th (default first) flush (`runfiles.fsync`) of a file written for a path
  containing PATTERN fails with ENOSPC, as a full disk reports it;
- `kill:PATTERN`: the process kills itself with SIGKILL when a finished temporary is about to be renamed
  onto a path containing PATTERN: everything is written, nothing renamed.
"""

from __future__ import annotations

import errno
import os
import re
import signal
import subprocess
import sys


def target(path: str) -> str:
    """The path a temporary stands for: `d/.step_8.ab12.tmp/.model.safetensors.cd34.tmp` -> `d/step_8/model.safetensors`."""
    return re.sub(r"/\.([^/]+)\.\w+\.tmp(?=/|$)", r"/\1", path)


def install(spec: str) -> None:
    from priorlab.common import runfiles

    kind, _, rest = spec.partition(":")
    if kind == "enospc":
        pattern, _, nth = rest.partition(":")
        seen = [0]
        real_fsync = runfiles.fsync

        def fsync(path) -> None:
            if pattern in target(str(path)):
                seen[0] += 1
                if seen[0] == int(nth or 1):
                    raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            real_fsync(path)

        runfiles.fsync = fsync
    elif kind == "kill":
        real_replace = os.replace

        def replace(src, dst, *a, **kw):
            if rest in os.fsdecode(dst):
                os.kill(os.getpid(), signal.SIGKILL)
            return real_replace(src, dst, *a, **kw)

        os.replace = replace
    else:
        raise SystemExit(f"unknown fault {spec!r}")


def run_faulty(fault: str, *args, env=None, timeout=300) -> subprocess.CompletedProcess:
    """`priorlab ARGS` in a fresh interpreter with `fault` injected."""
    return subprocess.run([sys.executable, "-m", "tests.faults", *map(str, args)], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", "PRIORLAB_FAULT": fault, **(env or {})},
                          timeout=timeout)


if __name__ == "__main__":
    install(os.environ["PRIORLAB_FAULT"])
    from priorlab.cli import app

    app(prog_name="priorlab")
