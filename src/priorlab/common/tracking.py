"""Experiment tracking: every metrics row a run writes also goes to TensorBoard, Weights & Biases or MLflow.

`--report-to tensorboard,wandb` (on pretrain, rl, sft, srl and retest; the conventions of TRL's `report_to`,
verl's `trainer.logger`) sets PRIORLAB_REPORT_TO, and `runfiles.MetricsLog.append` -- the one place every
stage writes a row of `metrics.jsonl` -- passes the row here. A run directory becomes one tracked run, named
after the directory, with its `config.json` as hyperparameters and the same metric names as
`metrics.jsonl`, at the row's `step`. Retest's jobs run in worker processes that inherit the variable, so
each job is its own tracked run. Nothing here changes a config, so tracking never changes a cache key.

- tensorboard: event files in RUN/tensorboard/ (`tensorboard --logdir RUN`); the config as text and hparams;
- wandb: `wandb.init(project=$WANDB_PROJECT or "priorlab", dir=RUN)`; offline with WANDB_MODE=offline;
- mlflow: a run in the experiment `priorlab` at $MLFLOW_TRACKING_URI (MLflow 3's default: sqlite:///mlflow.db in
  the working directory, which needs the full `mlflow` package; a `file:` store needs MLFLOW_ALLOW_FILE_STORE=true
  from MLflow 3.x on), params = the flattened config.

A tracker that cannot start (a refused tracking URI, a W&B login) is reported as one line naming --report-to.
"""

from __future__ import annotations

import atexit
import importlib.util
import json
import os
from pathlib import Path

from priorlab.common.failures import first_line

ENV = "PRIORLAB_REPORT_TO"
KINDS = ("tensorboard", "wandb", "mlflow")
PACKAGES = {"tensorboard": "tensorboard", "wandb": "wandb", "mlflow": "mlflow"}
_OPEN: dict[Path, list] = {}


def parse(spec: str | None) -> list[str]:
    """'tensorboard,wandb' -> ['tensorboard', 'wandb']; None, '' or 'none' -> []; ValueError naming --report-to."""
    names = [s.strip() for s in (spec or "").split(",") if s.strip() and s.strip() != "none"]
    for n in names:
        if n not in KINDS:
            raise ValueError(f"--report-to {spec}: unknown tracker {n!r} (valid: none, {', '.join(KINDS)})")
        if importlib.util.find_spec(PACKAGES[n]) is None:
            raise ValueError(f"--report-to {n}: needs the {PACKAGES[n]} package (pip install {PACKAGES[n]})")
    return list(dict.fromkeys(names))


def report_to(spec: str | None) -> None:
    """Track every run this process (and the worker processes it starts) writes, from now on."""
    names = parse(spec)
    if names:
        os.environ[ENV] = ",".join(names)
    else:
        os.environ.pop(ENV, None)


def flat(d: dict, prefix: str = "") -> dict:
    """A nested config as {"a.b": value} with lists as JSON text (what hparams / params take)."""
    out = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, dict):
            out.update(flat(v, key + "."))
        elif isinstance(v, (list, tuple)) or v is None:
            out[key] = json.dumps(v)
        else:
            out[key] = v
    return out


class _TensorBoard:
    def __init__(self, run: Path, config: dict):
        from torch.utils.tensorboard import SummaryWriter

        self.w = SummaryWriter(log_dir=str(run / "tensorboard"))
        self.w.add_text("config", "```\n" + json.dumps(config, indent=1) + "\n```")
        self.w.add_hparams({k: v for k, v in flat(config).items() if isinstance(v, (int, float, str, bool))}, {},
                           run_name="hparams")

    def log(self, row: dict, step: int) -> None:
        for k, v in row.items():
            self.w.add_scalar(k, v, step)
        self.w.flush()

    def close(self) -> None:
        self.w.close()


class _WandB:
    def __init__(self, run: Path, config: dict):
        import wandb

        self.run = wandb.init(project=os.environ.get("WANDB_PROJECT", "priorlab"), name=run.name, dir=str(run),
                              config=config, reinit="create_new")

    def log(self, row: dict, step: int) -> None:
        self.run.log(row, step=step)

    def close(self) -> None:
        self.run.finish()


class _MLflow:
    def __init__(self, run: Path, config: dict):
        from mlflow.tracking import MlflowClient

        self.client = MlflowClient()
        exp = self.client.get_experiment_by_name("priorlab") or self.client.get_experiment(
            self.client.create_experiment("priorlab"))
        self.run_id = self.client.create_run(exp.experiment_id, run_name=run.name).info.run_id
        for k, v in flat(config).items():
            self.client.log_param(self.run_id, k, str(v)[:500])

    def log(self, row: dict, step: int) -> None:
        for k, v in row.items():
            self.client.log_metric(self.run_id, k, v, step=step)

    def close(self) -> None:
        self.client.set_terminated(self.run_id)


BACKENDS = {"tensorboard": _TensorBoard, "wandb": _WandB, "mlflow": _MLflow}


def _start(name: str, run: Path, config: dict):
    try:
        return BACKENDS[name](run, config)
    except Exception as e:  # noqa: BLE001 - the tracker's own failure (URI, credentials, backend), said in one line
        raise ValueError(f"--report-to {name}: the tracker could not start a run for {run} "
                         f"({type(e).__name__}: {first_line(e)[:300]})") from None


def log_row(metrics_path: str | Path, row: dict) -> None:
    """Send one metrics row of the run at metrics_path's folder to the trackers PRIORLAB_REPORT_TO names."""
    names = [n for n in os.environ.get(ENV, "").split(",") if n in BACKENDS]
    if not names:
        return
    run = Path(metrics_path).resolve().parent
    if run not in _OPEN:
        cfg_path = run / "config.json"
        config = json.loads(cfg_path.read_text()) if cfg_path.is_file() else {}
        _OPEN[run] = [_start(n, run, config) for n in names]
        # registered after the backends' own exit handlers, so it runs before them (atexit is last in, first out)
        atexit.unregister(close_all)
        atexit.register(close_all)
    numbers = {k: float(v) for k, v in row.items()
               if k != "step" and isinstance(v, (int, float)) and not isinstance(v, bool)}
    step = int(row.get("step", 0))
    for t in _OPEN[run]:
        t.log(numbers, step)


def close_all() -> None:
    """Finish every tracked run of this process (at exit, and when a run ends)."""
    while _OPEN:
        _, trackers = _OPEN.popitem()
        for t in trackers:
            t.close()

