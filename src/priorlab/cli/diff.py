"""`priorlab diff`: where fine-tuning changed the weights -- update sparsity, update rank, cross-run overlap.

    priorlab diff runs/pt runs/rl_s0 runs/rl_s1 --out runs/diff --atol 1e-5

BASE and every RUN is a run or checkpoint directory (`model.safetensors` inside), a `.safetensors` file,
or a sharded checkpoint (a directory with `model.safetensors.index.json`, or that index file); `hf:PATH`
is PATH, and a run of `priorlab rl`/`sft` on a Hugging Face model stands for its `model/` folder. The
measures (bf16 / fp32 exact change, |delta| > atol, rank of each 2-D update, Jaccard overlap of the bf16
masks against three chance baselines) are `priorlab.analysis.params.diff_checkpoints`; read its module
doc before calling an overlap a shared subnetwork. Writes to --out:

    config.json                     the resolved inputs
    diff.json                       the full result: per tensor, per layer and global, every run and pair
    sparsity_per_layer.{png,svg,json}   fraction changed per layer (one figure per run, `_<i>` suffix
                                    when there are several runs); the .json holds exactly the numbers drawn
    summary.json                    global numbers per run and per pair (written last)

Everything is computed before the first file is written, so a bad input leaves nothing behind.
"""

import math
from dataclasses import asdict, dataclass
from pathlib import Path

import typer
from safetensors import SafetensorError

from priorlab.cli import render
from priorlab.cli.app import app, console
from priorlab.cli.errors import cli_errors
from priorlab.common import runfiles
from priorlab.model.hf.load import PREFIX, run_policy_dir


@dataclass(frozen=True)
class DiffConfig:
    base: str
    runs: tuple[str, ...]
    atol: float | None = None  # also count |delta| > atol in fp32 (the paper's tolerance is 1e-5)
    rank: bool = True  # rank of every 2-D update (one SVD per matrix)

    def __post_init__(self) -> None:
        if not self.runs:
            raise ValueError("diff needs at least one RUN checkpoint to compare with BASE")
        if self.atol is not None and not (math.isfinite(self.atol) and self.atol >= 0):
            raise ValueError(f"--atol must be a finite number >= 0, got {self.atol}")


def resolve_ref(ref: str | Path) -> str:
    """A checkpoint argument as a path: `hf:PATH` -> PATH, and a priorlab run on a Hugging Face model
    (`priorlab rl` / `sft --init hf:...`, its weights in `RUN/model/`) -> `RUN/model`."""
    p = Path(str(ref).removeprefix(PREFIX))
    return str(run_policy_dir(p) or p)


def run_diff(cfg: DiffConfig) -> dict:
    """`diff_checkpoints` with unreadable files turned into one clear error naming the inputs."""
    from priorlab.analysis.params import diff_checkpoints  # imports torch (~1.5 s): only when the command runs

    try:
        return diff_checkpoints(cfg.base, list(cfg.runs), atol=cfg.atol, rank=cfg.rank)
    except SafetensorError as e:
        raise ValueError(f"unreadable safetensors file among {cfg.base}, {', '.join(cfg.runs)}: {e}") from None


def summarize(result: dict) -> dict:
    """summary.json of `priorlab diff`: the base, the runs, the measures, the tolerance, each run's global numbers
    and the overlaps."""
    return {"stage": "diff", "base": result["base"], "runs": result["runs"], "measures": result["measures"],
            "atol": result["atol"], "global": [r["global"] for r in result["per_run"]],
            "overlap": [{"runs": o["runs"], "global": o["global"]} for o in result["overlap"]]}


def write(out: Path, cfg: DiffConfig, result: dict) -> list[str]:
    """Every output file (module doc); returns the figure stems."""
    from priorlab.lab.plots import plot_sparsity_per_layer  # imports matplotlib: only when the command runs

    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    runfiles.atomic_write_json(out / "config.json", {**asdict(cfg), "stage": "diff"})
    runfiles.atomic_write_json(out / "diff.json", result)
    stems = []
    many = len(result["per_run"]) > 1
    for i, r in enumerate(result["per_run"]):
        stem = out / (f"sparsity_per_layer_{i}" if many else "sparsity_per_layer")
        title = f"Parameters changed per layer: {render.label(r['run'])} vs {render.label(result['base'])}"
        plot_sparsity_per_layer(r["per_layer"], stem, title=title)
        stems.append(str(stem))
    runfiles.atomic_write_json(out / "summary.json", {**summarize(result), "figures": stems})
    return stems


@app.command()
@cli_errors
def diff(
    base: str = typer.Argument(..., help="the reference checkpoint: run dir, .safetensors file, sharded dir or "
                               "hf:PATH"),
    runs: list[str] = typer.Argument(..., help="one or more checkpoints fine-tuned from BASE"),
    out: Path = typer.Option(..., help="directory for diff.json, summary.json and the figures"),
    atol: float | None = typer.Option(None, help="also count |Δ| > atol in fp32 (the paper: 1e-5)"),
    no_rank: bool = typer.Option(False, "--no-rank", help="skip the rank of each 2-D update (an SVD each)"),
):
    """Update sparsity (bf16/fp32), rank and cross-run overlap of checkpoints against BASE."""
    cfg = DiffConfig(base=resolve_ref(base), runs=tuple(resolve_ref(r) for r in runs), atol=atol, rank=not no_rank)
    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    result = run_diff(cfg)
    render.diff_tables(result)
    write(out, cfg, result)
    console.print(f"wrote {out}/diff.json")
