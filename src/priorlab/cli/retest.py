"""`priorlab retest`: re-test the claims -- runs shared and cached, verdicts with CIs, report.json and
report.html (library: `priorlab.lab.retest`).

    priorlab retest --preset quick --out runs/retest
    priorlab retest --claims one-shot,calibration --preset smoke --engine ray --out runs/rt
"""

import signal
from pathlib import Path

import typer

from priorlab.cli import render
from priorlab.cli.app import app, console
from priorlab.cli.errors import cli_errors


@app.command()
@cli_errors
def retest(
    claims: str | None = typer.Option(None, help="comma list of claim ids (default: all twelve)"),
    preset: str = typer.Option("quick", help="smoke (CI, minutes), quick (laptop, <= 20 min), full (cluster)"),
    seeds: int | None = typer.Option(None, help="seeds per condition (default: the preset's)"),
    out: Path = typer.Option(Path("runs/retest"), help="output directory (report.json, report.html, jobs/)"),
    engine: str = typer.Option("local", help="local (worker processes) or ray"),
    ray_address: str | None = typer.Option(None, help="Ray cluster address (default: start a local one)"),
    workers: int | None = typer.Option(None, help="parallel runs (default: CPU cores)"),
    quiet: bool = typer.Option(False, help="no progress bar"),
    force: bool = typer.Option(False, "--force", help="run even if the memory estimate exceeds the memory available"),
):
    """Re-test the claims: runs (shared and cached), verdicts with CIs, report.json + report.html."""
    from priorlab.lab.retest import retest as run  # imports torch (~1.5 s): only when the command runs

    def _terminate(*_):  # SIGTERM ends the workers too, like Ctrl-C; finished runs are kept
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)

    rep = run(claims, preset, seeds, out, engine=engine, ray_address=ray_address, workers=workers,
              progress=not quiet, log=console.print, force=force)
    render.retest_table(rep)
    console.print(f"wrote {out}/report.json and {out}/report.html")
