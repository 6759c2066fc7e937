"""`priorlab retest`: re-test the claims with seeds, confidence intervals and verdicts.

    priorlab retest --preset quick --out runs/retest          # all twelve claims
    priorlab retest --claims one-shot,calibration --preset smoke --seeds 2 --out /tmp/rt

Collects the jobs of every selected claim (shared conditions are one job), runs the ones not finished
yet (locally in worker processes, or on Ray), then lets each claim analyse its results and writes
`report.json` and a self-contained `report.html`. Rerunning the same command after an interruption
reuses every finished run.
"""

from __future__ import annotations

import dataclasses
import platform
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

import priorlab
from priorlab.claims import get_claim, parse_claims
from priorlab.claims.base import PRESETS, Lab, Results
from priorlab.common import codeversion, runfiles
from priorlab.lab.report import write_html
from priorlab.lab.sweep import run_jobs


def versions() -> dict:
    import numpy
    import torch


    return {"priorlab": priorlab.__version__, "code": codeversion.code_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "python": sys.version.split()[0], "platform": platform.platform()}


def budget_for(preset: str, seeds: int | None):
    if preset not in PRESETS:
        raise ValueError(f"--preset {preset!r}: valid: {', '.join(PRESETS)}")
    b = PRESETS[preset]
    if seeds is not None:
        if seeds < 1:
            raise ValueError(f"--seeds must be >= 1, got {seeds}")
        b = dataclasses.replace(b, seeds=seeds)
    return b


def retest(claims: str | None = None, preset: str = "quick", seeds: int | None = None, out: str | Path = "runs/retest",
           engine: str = "local", ray_address: str | None = None, workers: int | None = None,
           progress: bool = True, log=print, force: bool = False) -> dict:
    t0 = time.perf_counter()
    ids = parse_claims(claims)
    budget = budget_for(preset, seeds)
    out = Path(out)
    lab, seed_list = Lab(budget), list(range(budget.seeds))
    modules = {i: get_claim(i) for i in ids}
    jobs = [j for m in modules.values() for j in m.jobs(lab, seed_list)]
    log(f"retest: {len(ids)} claims, preset {preset}, {budget.seeds} seeds -> {out}")
    run_jobs(jobs, out / "jobs", engine=engine, workers=workers, ray_address=ray_address, progress=progress,
             force=force)
    res = Results(out / "jobs", out / "plots")
    (out / "plots").mkdir(parents=True, exist_ok=True)
    entries = [modules[i].analyze(lab, res, seed_list) for i in ids]
    for e in entries:
        e["plots"] = [str(Path(p).relative_to(out)) if Path(p).is_relative_to(out) else p for p in e["plots"]]
    report = {"preset": preset, "elapsed_s": time.perf_counter() - t0, "versions": versions(),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "engine": engine,
              "budget": dataclasses.asdict(budget), "seeds": seed_list, "claims": entries}
    runfiles.atomic_write_json(out / "report.json", report)

    write_html(report, out)
    return report
