"""Model weights and resumable checkpoints of the world's runs.

    RUN/model.safetensors final weights, RUN/model.json their metadata (config, step, vocabulary, code version)
    RUN/checkpoints/step_00000100/{model.safetensors, model.json, state.pt}   (state: optimizer, torch RNG, step)

state.pt holds only tensors, numbers and containers of them and is read with `torch.load(weights_only=True)`:
resuming a run folder made by someone else cannot execute code.

A checkpoint directory is filled beside its place and renamed into it (`runfiles.atomic_dir`), so `--resume`
always finds complete checkpoints and continues from the newest.
"""

from __future__ import annotations

import re
from pathlib import Path

import torch
from safetensors.torch import load_file
from safetensors.torch import save as safetensors_bytes

from priorlab.common import finite
from priorlab.common.codeversion import code_version
from priorlab.common.runfiles import RunError, atomic_dir, atomic_write, atomic_write_json, read_json


def save_weights(dirpath: str | Path, model: torch.nn.Module, meta: dict) -> None:
    """`model.safetensors` + `model.json` (config, step, vocabulary and code versions), atomically; weights
    holding a NaN or an infinity are never written (`finite.NonFiniteError`)."""
    dirpath = Path(dirpath)
    state = {k: v.detach().contiguous().clone() for k, v in model.state_dict().items()}
    finite.check_weights(state, str(dirpath))
    dirpath.mkdir(parents=True, exist_ok=True)
    blob = safetensors_bytes(state, metadata={"priorlab": "1"})  # written by Python, so a full disk is an OSError
    atomic_write(dirpath / "model.safetensors", lambda tmp: Path(tmp).write_bytes(blob))
    atomic_write_json(dirpath / "model.json", {"code_version": code_version(), **meta})


def save_checkpoint(run_dir: str | Path, step: int, model, optimizer, meta: dict, extra_state: dict | None = None) -> Path:
    """Write `checkpoints/step_N/` (weights, model.json, state.pt) with atomic_dir (kill-safe)."""
    finite.check_weights(model.state_dict(), f"checkpoint step {step}")
    state = {"optimizer": optimizer.state_dict() if optimizer is not None else None,
             "torch_rng": torch.get_rng_state(), **(extra_state or {})}

    def write(tmp: Path) -> None:
        save_weights(tmp, model, {**meta, "step": step})
        atomic_write(tmp / "state.pt", lambda t: torch.save(state, t))

    return atomic_dir(Path(run_dir) / "checkpoints" / f"step_{step:08d}", write)


def latest_checkpoint(run_dir: str | Path) -> Path | None:
    """The run's newest complete checkpoint (checkpoints/step_N with its state.pt), or None."""
    root = Path(run_dir) / "checkpoints"
    if not root.is_dir():
        return None
    done = sorted(p for p in root.iterdir() if p.name.startswith("step_") and (p / "state.pt").exists())
    return done[-1] if done else None


def load_state(ckpt: Path) -> dict:
    """A checkpoint's state.pt (optimizer state, RNG state, step), loaded with `weights_only=True`: only tensors
    and plain containers and numbers, so a state.pt from elsewhere cannot run code when a run is resumed."""
    path = Path(ckpt) / "state.pt"
    try:
        return torch.load(path, weights_only=True)
    except Exception as e:  # pickle.UnpicklingError for a forbidden object; RuntimeError for a corrupt file
        if m := re.search(r"Unsupported global: GLOBAL (\S+)", str(e)):
            raise RunError(f"{path}: refused: it calls {m.group(1)} when loaded, which could run code; priorlab's "
                           "state.pt holds only tensors and numbers (was it written by priorlab?)") from None
        raise RunError(f"{path}: unreadable checkpoint state, truncated or corrupt") from None


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
    try:
        state = load_file(str(f))
    except Exception as e:  # safetensors raises its own SafetensorError on a truncated or corrupt file
        raise RunError(f"{f}: not a readable safetensors file, truncated or corrupt ({str(e).strip()})") from None
    return state, read_json(dirpath / "model.json")
