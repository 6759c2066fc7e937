"""Load a priorlab world model (the tiny GPT) from a run or checkpoint directory.

    model, meta = load_model("runs/pt")          # eval mode; meta = model.json (config, vocabulary, stage)
"""

from __future__ import annotations

from pathlib import Path

from priorlab.common import checkpoints, runfiles
from priorlab.model.gpt import GPT, GPTConfig
from priorlab.world.tokenizer import Tokenizer


def load_model(run_dir: str | Path) -> tuple[GPT, dict]:
    """A priorlab model from a finished run (or checkpoint) directory, in eval mode."""
    state, meta = checkpoints.load_weights(run_dir)
    if meta.get("vocab_version") != Tokenizer.version:
        raise runfiles.RunError(f"{run_dir}: vocabulary {meta.get('vocab_version')} != {Tokenizer.version}")
    model = GPT(GPTConfig(**meta["model_config"]))
    model.load_state_dict(state)
    model.eval()
    return model, meta

