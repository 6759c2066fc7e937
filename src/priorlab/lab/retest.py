"""`priorlab retest`: re-test the claims with seeds, confidence intervals and verdicts.

    priorlab retest --preset quick --out runs/retest          # all built-in claims
    priorlab retest --claims one-shot,calibration --preset smoke --seeds 2 --out /tmp/rt
    priorlab retest --map spurious-rewards --axis lr=1e-5,3e-5 --preset smoke --out /tmp/rt   # lab.maps

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
from typing import Any

import priorlab
from priorlab.claims import get_claim, load_file, parse_claims
from priorlab.claims.base import PRESETS, Lab, Results
from priorlab.claims.protocol import load_overrides
from priorlab.common import codeversion, logs, runfiles
from priorlab.common.stats import holm
from priorlab.lab.maps import kept_maps
from priorlab.lab.plan import Plan, make_plan
from priorlab.lab.questions import disagreements, groups
from priorlab.lab.report import write_html
from priorlab.lab.sweep import default_workers, run_jobs


def versions() -> dict:
    """The versions a report records: priorlab's version and code version, torch, numpy, Python, the platform."""
    import numpy
    import torch


    return {"priorlab": priorlab.__version__, "code": codeversion.code_version(), "torch": torch.__version__,
            "numpy": numpy.__version__, "python": sys.version.split()[0], "platform": platform.platform()}


def budget_for(preset: str, seeds: int | None, prior_seeds: int | None = None):
    """The preset's budget, with --seeds (RL seeds per condition) and --prior-seeds (pretraining seeds per prior)."""
    if preset not in PRESETS:
        raise ValueError(f"--preset {preset!r}: valid: {', '.join(PRESETS)}")
    b = PRESETS[preset]
    for flag, field, value in (("--seeds", "seeds", seeds), ("--prior-seeds", "prior_seeds", prior_seeds)):
        if value is not None:
            if value < 1:
                raise ValueError(f"{flag} must be >= 1, got {value}")
            kw: dict[str, Any] = {field: value}
            b = dataclasses.replace(b, **kw)
    return b


def protocols_for(modules: dict, protocol_file: str | Path | None) -> dict:
    """Each claim's PROTOCOL, with the --protocol file's overrides applied (None for claims without one)."""
    overrides = load_overrides(protocol_file, list(modules)) if protocol_file else {}
    out = {}
    for cid, m in modules.items():
        proto = getattr(m, "PROTOCOL", None)
        if cid in overrides:
            if proto is None:
                raise ValueError(f"--protocol: claim {cid} has no pre-registered protocol to override")
            proto = proto.override(overrides[cid])
        out[cid] = proto
    return out


def holm_verdicts(entries: list[dict], alpha: float = 0.025) -> None:
    """Add `verdict_holm` to each entry: the verdict rule with Holm-adjusted one-sided bootstrap p-values over
    the claims of this retest whose gates passed (family-wise level `alpha` per side, the one-sided level
    of the 95% intervals): reproduced if p(effect <= 0) survives and the estimate is >= delta; not
    reproduced if p(effect >= delta) survives; untestable stays untestable."""
    live = [e for e in entries if e["verdict"] != "untestable" and e.get("p_le_0") is not None]
    adj_pos = holm([e["p_le_0"] for e in live])
    adj_neg = holm([e["p_ge_delta"] for e in live])
    for e in entries:
        e["verdict_holm"] = e["verdict"] if e["verdict"] == "untestable" else "inconclusive"
    for e, pp, pn in zip(live, adj_pos, adj_neg):
        e["p_le_0_holm"], e["p_ge_delta_holm"] = pp, pn
        if pp < alpha and e["effect"] >= e["delta"]:
            e["verdict_holm"] = "reproduced"
        elif pn < alpha:
            e["verdict_holm"] = "not reproduced"


def with_files(claims: str | None, claims_from) -> str | None:
    """Register the claims of each file in `claims_from` (`priorlab.claims.load_file`); the claim selection:
    `claims` if given, else the files' claims (None, all claims, without files)."""
    added = [cid for f in claims_from or () for cid in load_file(f)]
    return claims if claims is not None or not added else ",".join(added)


def retest_jobs(claims: str | None, preset: str, seeds: int | None = None, prior_seeds: int | None = None):
    """(claim ids, budget, lab, seed list, jobs) of a retest of `claims` at `preset`."""
    ids = parse_claims(claims)
    budget = budget_for(preset, seeds, prior_seeds)
    lab, seed_list = Lab(budget), list(range(budget.seeds))
    jobs = [j for i in ids for j in get_claim(i).jobs(lab, seed_list)]
    return ids, budget, lab, seed_list, jobs


def plan(claims: str | None = None, preset: str = "quick", seeds: int | None = None, out: str | Path = "runs/retest",
         workers: int | None = None, prior_seeds: int | None = None, claims_from=None) -> Plan:
    """What `retest` with these arguments would run and how long it would take (`lab.plan`); runs nothing."""
    jobs = retest_jobs(with_files(claims, claims_from), preset, seeds, prior_seeds)[-1]
    return make_plan(jobs, Path(out) / "jobs", default_workers(workers))


def retest(claims: str | None = None, preset: str = "quick", seeds: int | None = None, out: str | Path = "runs/retest",
           engine: str = "local", ray_address: str | None = None, workers: int | None = None,
           protocol_file: str | Path | None = None, prior_seeds: int | None = None, progress: bool = True,
           log=None, force: bool = False, claims_from=None) -> dict:
    """Run the selected claims' jobs at `preset` and write report.json / report.html into `out`; the report.

    claims: comma list of ids (None: all, or the claims of the `claims_from` files: paths of Python files
    of your own claims, see `priorlab.claims`)."""
    log = logs.to(log, __name__)
    t0 = time.perf_counter()
    ids, budget, lab, seed_list, jobs = retest_jobs(with_files(claims, claims_from), preset, seeds, prior_seeds)
    out = Path(out)
    modules = {i: get_claim(i) for i in ids}
    protocols = protocols_for(modules, protocol_file)
    est = make_plan(jobs, out / "jobs", default_workers(workers))
    log(f"retest: {len(ids)} claims, preset {preset}, {budget.seeds} seeds, {budget.prior_seeds} pretraining seeds "
        f"per prior -> {out}; {est.summary()}")
    run_jobs(jobs, out / "jobs", engine=engine, workers=workers, ray_address=ray_address, progress=progress,
             force=force)
    res = Results(out / "jobs", out / "plots")
    (out / "plots").mkdir(parents=True, exist_ok=True)
    entries = [modules[i].analyze(lab, res, seed_list) if protocols[i] is None
               else modules[i].analyze(lab, res, seed_list, protocols[i]) for i in ids]
    holm_verdicts(entries)
    for e in entries:
        e["plots"] = [str(Path(p).relative_to(out)) if Path(p).is_relative_to(out) else p for p in e["plots"]]
    report = {"preset": preset, "elapsed_s": time.perf_counter() - t0, "versions": versions(),
              "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "engine": engine,
              "budget": dataclasses.asdict(budget), "seeds": seed_list,
              "protocol_file": None if protocol_file is None else str(protocol_file), "claims": entries,
              "groups": [{"question": q, "claims": ids} for q, ids in groups([e["id"] for e in entries])],
              "disagreements": disagreements(entries)}
    maps = kept_maps(out)  # regime maps written into this OUT before stay in its report
    if maps:
        report["maps"] = maps
    runfiles.atomic_write_json(out / "report.json", report)

    write_html(report, out)
    return report
