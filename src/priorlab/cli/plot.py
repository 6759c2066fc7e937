"""`priorlab plot`: the figures that apply to saved run directories.

    priorlab plot runs/pt-eval runs/rl runs/diff --out runs/figures

For each directory, what it holds decides what is drawn (`priorlab.lab.plots`):

- an evaluation (`passk.json`, from `priorlab eval`): its pass@k curves with CIs; the curves of every
  evaluation given go into one figure, `passk`, so models can be compared at a glance;
- an evaluation whose `summary.json` has verbalised confidences (`calibration.n_scored > 0`): a
  reliability diagram, `reliability_<name>` (and `reliability_<name>_baseline` for its `baseline/`);
- an RL run (`metrics.jsonl` with `format/<fmt>` keys): format shares over steps, `formats_<name>`; with
  `entropy/planning` and `entropy/execution`: entropy of planning vs execution tokens, `entropy_<name>`;
- a diff (`diff.json`, from `priorlab diff`): fraction of parameters changed per layer,
  `sparsity_<name>` (`_<i>` per run when it compares several).

Every figure is STEM.png + STEM.svg + STEM.json, the JSON holding exactly the numbers drawn; `plots.json`
lists each figure with the input file it was drawn from. All inputs are read and checked before the
first figure is written. A directory that holds none of these is an error.
"""

import json
from collections.abc import Callable
from pathlib import Path

import typer

from priorlab.cli import render
from priorlab.cli.app import app
from priorlab.cli.errors import cli_errors
from priorlab.common import runfiles

FORMAT_PREFIX = "format/"
NOT_FORMATS = ("well_formed",)  # `format/well_formed` is a rate, not a share


def _need(data: dict, keys, path: Path) -> None:
    missing = [k for k in keys if k not in data]
    if missing:
        raise ValueError(f"{path}: missing {', '.join(missing)}")


def _read_metrics(path: Path) -> list[dict]:
    rows = []
    for i, line in enumerate(runfiles.read_text(path).splitlines(), 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
        except json.JSONDecodeError as e:
            raise ValueError(f"{path}: line {i} is not JSON ({e.msg})") from None
        if not isinstance(row, dict) or "step" not in row:
            raise ValueError(f"{path}: line {i} is not a metrics object with a step")
        rows.append(row)
    return rows


def _name(path: Path, taken: set) -> str:
    base = path.resolve().name or "run"
    name, i = base, 2
    while name in taken:
        name, i = f"{base}_{i}", i + 1
    taken.add(name)
    return name


def _passk_curves(d: Path, name: str, multi: bool) -> dict:
    path = d / "passk.json"
    data = runfiles.read_json(path)
    _need(data, ["curves"], path)
    labels = data.get("labels", {})
    out = {}
    for key, cv in data["curves"].items():
        _need(cv, ["k", "mean", "ci_low", "ci_high"], path)
        lab = labels.get(key, key)
        out[f"{name}: {lab}" if multi else lab] = {k: cv[k] for k in ("k", "mean", "ci_low", "ci_high")}
    return out


def _calibration(path: Path) -> dict | None:
    if not path.is_file():
        return None
    cal = runfiles.read_json(path).get("calibration")
    if not cal or not cal.get("n_scored"):
        return None
    _need(cal, ["reliability", "ece"], path)
    return cal


def _rl_series(path: Path) -> tuple[dict | None, dict | None]:
    """(format shares over steps, planning/execution entropy over steps) from an RL metrics.jsonl."""
    rows = _read_metrics(path)
    fmt_keys = sorted({k for r in rows for k in r if k.startswith(FORMAT_PREFIX)
                       and k[len(FORMAT_PREFIX):] not in NOT_FORMATS})
    shares = None
    fmt_rows = [r for r in rows if any(k in r for k in fmt_keys)]
    if fmt_keys and fmt_rows:
        order = {"direct": 0, "nl": 1, "code": 2, "none": 9}
        fmt_keys.sort(key=lambda k: (order.get(k[len(FORMAT_PREFIX):], 5), k))
        shares = {"steps": [r["step"] for r in fmt_rows],
                  "shares": {k[len(FORMAT_PREFIX):]: [r.get(k) for r in fmt_rows] for k in fmt_keys}}
    ent_rows = [r for r in rows if "entropy/planning" in r and "entropy/execution" in r]
    entropy = None
    if ent_rows:
        entropy = {"steps": [r["step"] for r in ent_rows], "planning": [r["entropy/planning"] for r in ent_rows],
                   "execution": [r["entropy/execution"] for r in ent_rows]}
    return shares, entropy


def collect(dirs: list[Path]) -> list[dict]:
    """Every figure to draw: [{"stem", "source", "draw": callable(stem)}], inputs all read and checked."""
    from priorlab.lab import plots  # imports torch and matplotlib: only when the command runs

    for d in dirs:
        if not d.is_dir():
            raise FileNotFoundError(f"run directory not found: {d}")
    taken: set = set()
    names = [_name(d, taken) for d in dirs]
    jobs = []
    evals = [(d, name) for d, name in zip(dirs, names) if (d / "passk.json").is_file()]
    curves, sources = {}, []
    for d, name in evals:
        curves.update(_passk_curves(d, name, multi=len(evals) > 1))
        sources.append(str(d / "passk.json"))
    if curves:
        jobs.append({"stem": "passk", "source": sources,
                     "draw": lambda stem, c=curves: plots.plot_passk(c, stem, title="pass@k (95% CI over problems)")})

    for d, name in zip(dirs, names):
        made = len(jobs)
        for sub, suffix in ((d / "summary.json", ""), (d / "baseline" / "summary.json", "_baseline")):
            cal = _calibration(sub)
            if cal:
                title = (f"Reliability: {name}{' baseline' if suffix else ''}, {cal['n_scored']} stated"
                         f" / {cal['n'] - cal['n_scored']} not")
                jobs.append({"stem": f"reliability_{name}{suffix}", "source": str(sub),
                             "draw": _bind(plots.plot_reliability, cal, title=title)})
        if (d / "metrics.jsonl").is_file():
            shares, entropy = _rl_series(d / "metrics.jsonl")
            src = str(d / "metrics.jsonl")
            if shares:
                jobs.append({"stem": f"formats_{name}", "source": src, "draw": _bind(
                    plots.plot_format_shares, shares["steps"], shares["shares"], title=f"Solution formats: {name}")})
            if entropy:
                jobs.append({"stem": f"entropy_{name}", "source": src, "draw": _bind(
                    plots.plot_entropy_by_type, entropy["steps"], entropy["planning"], entropy["execution"],
                    title=f"Token entropy, planning vs execution: {name}")})
        if (d / "diff.json").is_file():
            diff = runfiles.read_json(d / "diff.json")
            _need(diff, ["per_run", "base"], d / "diff.json")
            for i, r in enumerate(diff["per_run"]):
                _need(r, ["per_layer", "run"], d / "diff.json")
                stem = f"sparsity_{name}" + (f"_{i}" if len(diff["per_run"]) > 1 else "")
                title = f"Parameters changed per layer: {render.label(r['run'])} vs {render.label(diff['base'])}"
                jobs.append({"stem": stem, "source": str(d / "diff.json"),
                             "draw": _bind(plots.plot_sparsity_per_layer, r["per_layer"], title=title)})
        if len(jobs) == made and not (d / "passk.json").is_file():
            raise ValueError(f"{d}: nothing to plot (no passk.json, summary.json with Conf: calibration, "
                             "metrics.jsonl with format/* or entropy/* keys, or diff.json)")
    return jobs


def _bind(fn: Callable, *args, **kwargs) -> Callable:
    """fn(*args, stem, **kwargs): the plot functions take the stem after their data."""
    return lambda stem: fn(*args, stem, **kwargs)


def make_plots(dirs: list[Path], out: Path) -> list[dict]:
    """Draw every figure that applies (module doc) into `out`; returns [{"stem", "source", "files"}]."""

    if out.exists() and not out.is_dir():
        raise ValueError(f"--out {out} exists and is not a directory")
    jobs = collect(dirs)
    made = [{"stem": j["stem"], "source": j["source"], "files": j["draw"](out / j["stem"])} for j in jobs]
    runfiles.atomic_write_json(out / "plots.json", {"inputs": [str(d) for d in dirs], "figures": made})
    return made


@app.command()
@cli_errors
def plot(
    run_dirs: list[Path] = typer.Argument(..., help="eval, RL-run or diff directories"),
    out: Path = typer.Option(..., help="directory for the figures (PNG, SVG and the JSON of their numbers)"),
):
    """Figures from saved runs: pass@k, reliability, format shares, planning/execution entropy, sparsity."""
    made = make_plots(run_dirs, out)
    render.figures(made, out)
