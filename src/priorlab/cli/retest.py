"""`priorlab retest`: re-test the claims -- runs shared and cached, verdicts with CIs, report.json and
report.html (library: `priorlab.lab.retest`).

    priorlab retest --preset quick --out runs/retest
    priorlab retest --claims one-shot,calibration --preset smoke --engine ray --out runs/rt
    priorlab retest --map spurious-rewards --preset smoke --out runs/rt          # the claim's default map
    priorlab retest --claims-from my_claims.py --preset smoke --out runs/mine    # your own claims
    priorlab retest --preset quick --plan                                          # what it would run, and how long
    priorlab retest --map update-sparsity --axis lr=1e-5,1e-4 --axis rl_steps=10,30 --out runs/rt
"""

import signal
from pathlib import Path

import typer

from priorlab.cli import configfile, options, render
from priorlab.cli.app import app, console, log
from priorlab.cli.errors import cli_errors


@app.command()
@cli_errors
def retest(
    claims: str | None = typer.Option(None, help="comma list of claim ids (default: all built-in, or with "
                                      "--claims-from the file's)"),
    claims_from: list[Path] | None = typer.Option(None, "--claims-from", help="a Python file of your own claims "
                                                  "(INFO, PROTOCOL, jobs, analyze; see README); repeatable"),
    preset: str = typer.Option("quick", help="smoke (CI, minutes: plumbing only), quick (laptop; 2 pretraining seeds per prior), full (cluster)"),
    seeds: int | None = typer.Option(None, help="RL seeds per condition (default: the preset's)"),
    prior_seeds: int | None = typer.Option(None, help="pretraining seeds per prior, the outer level of the nested "
                                           "bootstrap (default: the preset's: smoke 1, quick 2, full 3)"),
    out: Path = typer.Option(Path("runs/retest"), help="output directory (report.json, report.html, jobs/)"),
    engine: str = typer.Option("local", help="local (worker processes) or ray"),
    ray_address: str | None = typer.Option(None, help="Ray cluster address (default: start a local one)"),
    workers: int | None = typer.Option(None, help="parallel runs (default: CPU cores)"),
    protocol: Path | None = typer.Option(None, help="YAML/JSON overrides of the pre-registered protocols: "
                                         "{claim-id: {delta: x, gates: {name: threshold}}}; the report marks them"),
    map_claim: str | None = typer.Option(None, "--map", help="a regime map of this claim: its protocol at every "
                                         "grid point of --axis (default: the claim's default map) -> OUT/maps/"),
    axis: list[str] | None = typer.Option(None, help="NAME=v1,v2,... a map's axis (repeat for a 2-D map); names: "
                                          "updates_per_batch, lr, rl_steps, group_size, size, tokens, prior_share, "
                                          "difficulty, kl_beta, entropy_coef, temperature"),
    quiet: bool = typer.Option(False, help="no progress bar"),
    force: bool = typer.Option(False, "--force", help="run even if the memory estimate exceeds the memory available"),
    config: Path | None = configfile.CONFIG,
    report_to: str | None = options.REPORT_TO,
    plan: bool = typer.Option(False, "--plan", help="print what would run (jobs by kind, how many cached) and the "
                              "estimated wall time on this machine and CPU-hours; run nothing"),
):
    """Re-test the claims: runs (shared and cached), verdicts with CIs, report.json + report.html."""
    from priorlab.lab.retest import retest as run  # imports torch (~1.5 s): only when the command runs

    def _terminate(*_):  # SIGTERM ends the workers too, like Ctrl-C; finished runs are kept
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, _terminate)
    if claims_from and map_claim is not None:
        from priorlab.claims import load_file

        for f in claims_from:
            load_file(f)

    if map_claim is not None or axis:
        from priorlab.lab.maps import parse_axis, run_map

        if map_claim is None:
            raise ValueError("--axis needs --map CLAIM (the claim whose protocol is mapped)")
        if claims is not None:
            raise ValueError("--claims and --map: a map runs one claim; run the retest and the map separately")
        axes = [parse_axis(a) for a in axis or []]
        if plan:
            from priorlab.lab.maps import plan_map

            p = plan_map(map_claim, axes, preset, seeds, out, workers=workers, prior_seeds=prior_seeds)
            render.plan_table(p, f"map {map_claim}, preset {preset} -> {out}")
            return
        m = run_map(map_claim, axes, preset, seeds, out, engine=engine, ray_address=ray_address, workers=workers,
                    protocol_file=protocol, prior_seeds=prior_seeds, progress=not quiet, log=log)
        render.map_table(m)
        console.print(f"wrote {out}/maps/{map_claim}.json, {out}/{m['heatmap']['png']} and {out}/report.html")
        return
    if plan:
        from priorlab.lab.retest import plan as plan_retest

        p = plan_retest(claims, preset, seeds, out, workers=workers, prior_seeds=prior_seeds, claims_from=claims_from)
        what = claims or (", ".join(map(str, claims_from)) if claims_from else "all claims")
        render.plan_table(p, f"retest {what}, preset {preset} -> {out}")
        return
    rep = run(claims, preset, seeds, out, engine=engine, ray_address=ray_address, workers=workers,
              protocol_file=protocol, prior_seeds=prior_seeds, progress=not quiet, log=log, force=force,
              claims_from=claims_from)
    render.retest_table(rep)
    console.print(f"wrote {out}/report.json and {out}/report.html")
