"""A finished (or running) run directory, read from Python: `priorlab.Run.load("runs/rl")`.

Every stage writes the same files (README "Commands"): `config.json`, `metrics.jsonl`, `summary.json`
when it ends, the final weights and `checkpoints/step_N/`. `Run` reads them without torch, so
analysing runs in a notebook costs no model imports.

    run = Run.load("runs/rl-correct")
    run.config["reward"], run.summary["eval/acc_t1"]
    table = run.metrics_table()              # {"step": array, "reward/mean": array, ...}; NaN where a row lacks one
    run.checkpoints                          # [(0, Path(".../checkpoints/step_00000000")), ...]
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from priorlab.common import runfiles

__all__ = ["Run"]


@dataclass
class Run:
    """The files of one run directory: its resolved config, its summary (empty until it ends) and its
    per-step metrics."""

    path: Path
    config: dict
    summary: dict
    metrics: list[dict] = field(repr=False)

    @classmethod
    def load(cls, path: str | Path) -> Run:
        """Read the run at `path` (a folder with config.json); ValueError naming the path when it is not one."""
        path = Path(path)
        if not (path / "config.json").is_file():
            raise ValueError(f"{path}: not a run directory (no config.json)")
        summary = runfiles.read_json(path / "summary.json") if (path / "summary.json").is_file() else {}
        metrics = runfiles.MetricsLog(path / "metrics.jsonl").read() if (path / "metrics.jsonl").is_file() else []
        return cls(path=path, config=runfiles.read_json(path / "config.json"), summary=summary, metrics=metrics)

    @property
    def finished(self) -> bool:
        """True once the run wrote summary.json (its last file)."""
        return bool(self.summary)

    @property
    def checkpoints(self) -> list[tuple[int, Path]]:
        """(step, folder) of each checkpoint kept, in step order."""
        ckpts = self.path / "checkpoints"
        if not ckpts.is_dir():
            return []
        found = [(int(p.name.split("_")[1]), p) for p in ckpts.iterdir()
                 if p.is_dir() and p.name.startswith("step_") and p.name.split("_")[1].isdigit()]
        return sorted(found)

    def metrics_table(self) -> dict[str, np.ndarray]:
        """metrics.jsonl as columns: {name: float array over its rows}, NaN where a row lacks the name
        (evaluation metrics are logged only every `eval_every` steps). Non-numeric values are left out."""
        names = list(dict.fromkeys(k for row in self.metrics for k, v in row.items()
                                   if isinstance(v, (int, float)) and not isinstance(v, bool)))
        return {k: np.array([float(row[k]) if isinstance(row.get(k), (int, float)) else np.nan
                             for row in self.metrics]) for k in names}

    def metric(self, name: str) -> tuple[np.ndarray, np.ndarray]:
        """(steps, values) of the rows that logged `name`; KeyError listing the names when none did."""
        rows = [r for r in self.metrics if isinstance(r.get(name), (int, float))]
        if not rows:
            names = sorted({k for r in self.metrics for k in r})
            raise KeyError(f"{name!r} is not in {self.path}/metrics.jsonl; it has: {', '.join(names)}")
        return np.array([r["step"] for r in rows]), np.array([float(r[name]) for r in rows])
