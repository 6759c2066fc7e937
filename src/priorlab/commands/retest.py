"""`priorlab retest` and `priorlab report`."""

from __future__ import annotations

from pathlib import Path

import typer


def register(app: typer.Typer) -> None:
    from rich.table import Table

    from priorlab.cli import cli_errors, console

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
    ):
        """Re-test the claims: runs (shared and cached), verdicts with CIs, report.json + report.html."""
        import signal

        from priorlab.lab.retest import retest as run

        def _terminate(*_):  # SIGTERM ends the workers too, like Ctrl-C; finished runs are kept
            raise KeyboardInterrupt

        signal.signal(signal.SIGTERM, _terminate)

        rep = run(claims, preset, seeds, out, engine=engine, ray_address=ray_address, workers=workers,
                  progress=not quiet, log=console.print)
        t = Table(title=f"priorlab retest ({rep['preset']}, {len(rep['seeds'])} seeds, {rep['elapsed_s'] / 60:.1f} min)")
        for col in ("claim", "verdict", "effect", "95% CI"):
            t.add_column(col)
        colors = {"reproduced": "green", "not reproduced": "red", "inconclusive": "yellow", "untestable": "dim"}
        for c in rep["claims"]:
            ci = "-" if c["effect"] is None else f"[{c['ci_low']:+.3f}, {c['ci_high']:+.3f}]"
            eff = "-" if c["effect"] is None else f"{c['effect']:+.3f}"
            t.add_row(c["id"], f"[{colors[c['verdict']]}]{c['verdict']}[/]", eff, ci)
        console.print(t)
        console.print(f"wrote {out}/report.json and {out}/report.html")

    @app.command()
    @cli_errors
    def report(run_dir: Path = typer.Argument(..., help="a retest output directory holding report.json")):
        """Re-render report.html from a retest's report.json."""
        from priorlab.lab.report import rerender

        console.print(f"wrote {rerender(run_dir)}")
