"""Fit the sweep cost model (lab.costs) on finished retests, and check its estimate against their wall time.

    python bench/cost_model.py --large runs/quick --small runs/smoke

Each folder is a `priorlab retest --out` folder (report.json + jobs/). Per job kind, the rate (seconds
per token-parameter product) is the median of elapsed / work over the --large retest's jobs, where the
work dwarfs the fixed costs; the fixed seconds are the median of elapsed - rate x work over the --small
retest's jobs, where it does not. Then, for each retest, the plan's estimated wall time (the local
engine's schedule with its workers) is compared with the wall time its report.json recorded, as a ratio.
Prints one JSON object; the fitted numbers are what lab.costs' FIXED_S and DEFAULT_RATES hold.
"""

from __future__ import annotations

import argparse
import json
import statistics
from pathlib import Path

from priorlab.lab import costs
from priorlab.lab.costs import CostModel, finished_jobs, work


def fit(large: Path, small: Path) -> tuple[dict, dict]:
    rates, fixed = {}, {}
    by_kind: dict[str, list] = {}
    for kind, cfg, size, elapsed in finished_jobs(large / "jobs"):
        by_kind.setdefault(kind, []).append(elapsed / work(kind, cfg, size))
    rates = {k: statistics.median(v) for k, v in by_kind.items()}
    small_by_kind: dict[str, list] = {}
    for kind, cfg, size, elapsed in finished_jobs(small / "jobs"):
        if kind in rates:
            small_by_kind.setdefault(kind, []).append(elapsed - rates[kind] * work(kind, cfg, size))
    fixed = {k: max(0.0, statistics.median(v)) for k, v in small_by_kind.items()}
    return rates, fixed


def check(out: Path, model: CostModel) -> dict:
    """The plan of `out`'s retest, as if nothing were cached, against the wall time its report recorded."""
    from priorlab.claims import get_claim
    from priorlab.claims.base import Budget, Lab
    from priorlab.lab.plan import make_plan

    rep = json.loads((out / "report.json").read_text())
    b = rep["budget"]
    budget = Budget(**{k: tuple(v) if isinstance(v, list) else v for k, v in b.items()})
    lab, seeds = Lab(budget), rep["seeds"]
    jobs = [j for c in rep["claims"] for j in get_claim(c["id"]).jobs(lab, seeds)]
    plan = make_plan(jobs, Path("/nonexistent-cache"), workers=2, model=model)
    return {"retest": str(out), "preset": rep["preset"], "jobs": plan.jobs, "measured_s": rep["elapsed_s"],
            "estimated_s": plan.wall_s, "ratio_estimate_to_measured": plan.wall_s / rep["elapsed_s"]}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--large", type=Path, required=True, help="a retest folder with large jobs (e.g. --preset quick)")
    ap.add_argument("--small", type=Path, required=True, help="a retest folder with small jobs (--preset smoke)")
    args = ap.parse_args()
    rates, fixed = fit(args.large, args.small)
    model = CostModel()
    model.rates.update(rates)
    saved = dict(costs.FIXED_S)
    costs.FIXED_S.update(fixed)
    try:
        checks = [check(p, model) for p in (args.large, args.small)]
    finally:
        costs.FIXED_S.clear()
        costs.FIXED_S.update(saved)
    print(json.dumps({"rates": rates, "fixed_s": fixed, "checks": checks}, indent=1))


if __name__ == "__main__":
    main()
