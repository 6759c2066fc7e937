"""Checkpoints of Hugging Face models trained by priorlab (`rl`, `sft` with `--init hf:PATH`).

    save_hf(out / "checkpoints" / "step_00000050", lm, {"optimizer": opt.state_dict(), "step": 50})
    checkpoints.latest_checkpoint(out)  # the newest checkpoints/step_N holding a state.pt, or None

A checkpoint is what `save_pretrained` writes (config.json, model.safetensors, generation_config.json)
plus the tokenizer (with the pad token priorlab may have added) and, for resumable checkpoints,
`state.pt` (optimizer state and step). It is written to a temporary folder renamed into place, so a
kill never leaves a half-written checkpoint; every one loads with `load_hf` and diffs with `priorlab diff`.
"""

from __future__ import annotations

import errno
import os
from pathlib import Path

import torch

from priorlab.common import checkpoints, finite, runfiles


def save_hf(dest: Path, lm, state: dict | None = None) -> None:
    """`save_pretrained` (safetensors) + tokenizer (+ state.pt) into `dest`, via runfiles.atomic_dir; weights
    holding a NaN or an infinity are never written (`finite.NonFiniteError`)."""

    finite.check_weights(lm.model.state_dict(), str(dest))  # nothing non-finite is written

    def write(tmp: Path) -> None:
        try:
            lm.model.save_pretrained(tmp, safe_serialization=True)
        except Exception as e:  # safetensors reports a full disk as its own SafetensorError
            if "os error 28" not in str(e):
                raise
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), str(tmp / "model.safetensors")) from None
        lm.tokenizer.save_pretrained(tmp)
        if state is not None:
            runfiles.atomic_write(tmp / "state.pt", lambda t: torch.save(state, t))

    runfiles.atomic_dir(dest, write)


def resume_optimizer(ckpt: Path | None, opt: torch.optim.Optimizer, out: Path, log) -> int:
    """Load the optimizer state of `ckpt` (from `checkpoints.latest_checkpoint`) into `opt`; the step to resume
    from, 0 for a fresh run (ckpt None)."""
    if ckpt is None:
        return 0
    state = checkpoints.load_state(ckpt)
    opt.load_state_dict(state["optimizer"])
    log(f"resuming {out} from step {int(state['step'])}")
    return int(state["step"])
