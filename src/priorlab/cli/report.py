"""`priorlab report`: re-render a retest's report.html from its report.json (library: `priorlab.lab.report`).

    priorlab report runs/retest
"""

from pathlib import Path

import typer

from priorlab.cli.app import app, console
from priorlab.cli.errors import cli_errors


@app.command()
@cli_errors
def report(run_dir: Path = typer.Argument(..., help="a retest output directory holding report.json")):
    """Re-render report.html from a retest's report.json."""
    from priorlab.lab.report import rerender  # imports torch (~1.5 s): only when the command runs

    console.print(f"wrote {rerender(run_dir)}")
