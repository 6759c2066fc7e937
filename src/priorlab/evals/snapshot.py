"""An evaluation snapshot: per-problem, per-sample outcomes saved as arrays for the claims' statistics.

    run_snapshot("runs/rl", "out/eval", SnapshotConfig(difficulty="3x1", problems=100, samples=8))
    snap = load_snapshot("out/eval")      # snap["correct"] is [P, n] bool, ...

`eval.npz` holds, for P problems x n samples: `correct`, `well_formed`, `shortcut` (any detector),
`format` (index into FORMAT_CODES), `confidence` (NaN where no `Conf:` line), `length`, `corrections`
(self-corrections in the completion, `world.formats`), `cot_correct` (the answer and every step right,
`world.formats.steps_correct`); `eval.json`
holds the problems, the settings and the summary of `priorlab.evals.world_eval.summarize`.
"""

from __future__ import annotations

import io
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from priorlab.common import runfiles
from priorlab.evals import world_eval as ev
from priorlab.model.checkpoint import load_model
from priorlab.world.formats import FORMATS
from priorlab.world.tasks import RL_DIFFICULTY

FORMAT_CODES = (*FORMATS, "none")


@dataclass(frozen=True)
class SnapshotConfig:
    """What one snapshot samples (the `eval` job of a retest); the model comes from `run_snapshot`'s model_dir."""

    difficulty: str = RL_DIFFICULTY
    problems: int = 100  # per difficulty
    samples: int = 8
    temperature: float = 1.0
    seed: int = 0
    max_new_tokens: int = 160
    checkpoint: int | None = None  # evaluate checkpoints/step_N instead of the final model
    split: str = "test"  # "train": problems of the pretraining split (what a prior was taught), not held out

    def __post_init__(self) -> None:
        self.eval_config()  # validates the sampling settings and the split
        if self.checkpoint is not None and self.checkpoint < 0:
            raise ValueError(f"checkpoint must be >= 0, got {self.checkpoint}")

    def eval_config(self) -> ev.EvalConfig:
        """The sampling settings as an evaluation config (validated)."""
        return ev.EvalConfig(problems=self.problems, samples=self.samples, temperature=self.temperature,
                             difficulty=self.difficulty, seed=self.seed, max_new_tokens=self.max_new_tokens,
                             split=self.split)


def run_snapshot(model_dir: str | Path, out: str | Path, cfg: SnapshotConfig) -> dict:
    """Sample the model (or a checkpoint) on the held-out (or pretraining-split) problems, verify, and write
    eval.npz and eval.json atomically; the summary."""
    src = Path(model_dir) if cfg.checkpoint is None else Path(model_dir) / "checkpoints" / f"step_{cfg.checkpoint:08d}"
    model, _ = load_model(src)
    probs = ev.problem_set(cfg.difficulty, cfg.problems, cfg.seed, cfg.split)
    comps = ev.score(probs, ev.generate(model, probs, cfg.samples, cfg.eval_config(), cfg.seed))
    arrays: dict[str, Any] = {
        "correct": np.array([[c["correct"] for c in cs] for cs in comps], dtype=bool),
        "well_formed": np.array([[c["well_formed"] for c in cs] for cs in comps], dtype=bool),
        "shortcut": np.array([[c["shortcuts"]["any"] for c in cs] for cs in comps], dtype=bool),
        "format": np.array([[FORMAT_CODES.index(c["format"] or "none") for c in cs] for cs in comps], dtype=np.int8),
        "confidence": np.array([[np.nan if c["confidence"] is None else c["confidence"] for c in cs] for cs in comps],
                               dtype=np.float32),
        "length": np.array([[c["length"] for c in cs] for cs in comps], dtype=np.int16),
        "corrections": np.array([[c["corrections"] for c in cs] for cs in comps], dtype=np.int16),
        "cot_correct": np.array([[c["cot_correct"] for c in cs] for cs in comps], dtype=bool),
    }
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    buf = io.BytesIO()
    np.savez_compressed(buf, **arrays)
    tmp = out / ".eval.npz.tmp"
    tmp.write_bytes(buf.getvalue())
    os.replace(tmp, out / "eval.npz")
    summary = ev.summarize(probs, comps, cfg.samples)
    runfiles.atomic_write_json(out / "eval.json", {
        "model": str(src), "difficulty": cfg.difficulty, "samples": cfg.samples, "temperature": cfg.temperature,
        "seed": cfg.seed, "problems": [p.expr for p in probs], "difficulties": [p.difficulty.key for p in probs], "summary": summary})
    return summary


def load_snapshot(path: str | Path) -> dict:
    """A snapshot's arrays (eval.npz) and its eval.json fields in one dict."""
    path = Path(path)
    with np.load(path / "eval.npz") as z:
        snap = {k: z[k] for k in z.files}
    snap.update(runfiles.read_json(path / "eval.json"))
    return snap
