"""Memory a command will need, checked before it is spent. Each stage estimates its peak from its config
(`pretrain.memory_parts`, `rl.loop.memory_parts`, ...); `check` refuses a job that cannot fit in the memory
this machine has available, saying what it would need; `--force` runs it anyway.

    memory.check({"corpus": 3e12, "model and optimizer": 2e6}, "pretrain", force=False)
    # RunError: pretrain would need about 2.7 TiB of memory (corpus 2.7 TiB, ...); 21.3 GiB is available ...

The estimates are of the large terms only (they are meant to catch a job 10x too big, not a 10% overshoot).
Available memory: MemAvailable of /proc/meminfo, capped by a cgroup (container) limit; PRIORLAB_MEMORY_BYTES
overrides it (a budget of your own, or a test's).
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path

from priorlab.common.runfiles import RunError

FP32 = 4


def available_bytes() -> int:
    """Bytes of memory this process may still use (see the module docstring)."""
    if os.environ.get("PRIORLAB_MEMORY_BYTES"):
        return int(float(os.environ["PRIORLAB_MEMORY_BYTES"]))
    avail = None
    try:
        for line in Path("/proc/meminfo").read_text().splitlines():
            if line.startswith("MemAvailable:"):
                avail = int(line.split()[1]) * 1024
    except OSError:
        pass
    if avail is None:
        avail = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    try:  # a container's limit (cgroup v2)
        limit = Path("/sys/fs/cgroup/memory.max").read_text().strip()
        used = int(Path("/sys/fs/cgroup/memory.current").read_text())
        if limit != "max":
            avail = min(avail, int(limit) - used)
    except (OSError, ValueError):
        pass
    return avail


def activation_bytes(batch: int, seq: int, n_layer: int, n_embd: int, n_head: int, vocab: int) -> int:
    """fp32 activations kept for the backward pass of one batch of a GPT: per layer s*b*h*(34 + 5*a*s/h)
    bytes at 16 bits (Korthikanti et al. 2022, "Reducing Activation Recomputation in Large Transformer
    Models", eq. 1; doubled for fp32) + the logits, their log-softmax and gradient (3 * b*s*V * 4 bytes)."""
    s, b, h, a = seq, batch, n_embd, n_head
    per_layer = 2 * s * b * h * (34 + 5 * a * s / h)
    return int(n_layer * per_layer + 3 * b * s * vocab * FP32)


def training_state_bytes(params: int, ref_model: bool = False) -> int:
    """fp32 weights, gradients and AdamW's two moments (16 bytes a parameter), + a frozen reference copy."""
    return params * FP32 * (4 + int(ref_model))


def check(parts: Mapping[str, float], what: str, *, force: bool = False, hint: str = "") -> None:
    """Refuse (RunError) a job whose estimated memory, the sum of `parts`, exceeds what is available; with
    `force` only warn by returning. `hint` says which settings to lower."""
    need = sum(parts.values())
    avail = available_bytes()
    if need <= avail or force:
        return
    listed = ", ".join(f"{k} {human(v)}" for k, v in sorted(parts.items(), key=lambda kv: -kv[1]) if v >= 1)
    raise RunError(f"{what} would need about {human(need)} of memory ({listed}); {human(avail)} is available"
                   f"{'; ' + hint if hint else ''}; --force runs it anyway")


def human(n: float) -> str:
    """Bytes as B, KiB, MiB, GiB, TiB, PiB (one decimal)."""
    for unit in ("B", "KiB", "MiB", "GiB", "TiB"):
        if abs(n) < 1024:
            return f"{n:.0f} {unit}" if unit == "B" else f"{n:.1f} {unit}"
        n /= 1024
    return f"{n:.1f} PiB"
