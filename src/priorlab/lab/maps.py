"""Regime maps: a claim's protocol run at every point of a grid of knobs, to see where it holds and where not.

    priorlab retest --map spurious-rewards --preset smoke                      # the claim's default map
    priorlab retest --map update-sparsity --axis lr=1e-5,3e-5,1e-4 --axis rl_steps=10,30 --preset quick

Each grid point is a `Lab` with knobs (`claims.knobs`: the dials and where each acts), so the claim's own
`jobs` and `analyze` run unchanged there. The jobs of every cell are collected first and run together
through `run_jobs`, into the same `OUT/jobs` as a retest: a condition shared by cells (or with a retest
in the same OUT) is one job, and an interrupted map resumes from the cache. An axis that changes none of
the claim's jobs (the claim fixes that dial, or does not use it) is an error, not a map of noise.

Writes `OUT/maps/CLAIM.json` (`axes`; `cells`, one per grid point: `at` {axis: value}, effect, ci_low,
ci_high, verdict, reason, every gate's value and the failed ones), the heatmap `OUT/maps/CLAIM-heatmap.
{png,svg,json}` (`lab.plots.plot_map`), each cell's own figures under `OUT/maps/CLAIM/<cell>/`, and adds
the map to `OUT/report.json` ("maps") and `report.html` (under the claim). A cell's verdict is the
claim's own rule at that point, unadjusted for the number of cells: a map is read as a pattern (where
the mechanism is active, where the effect appears), not as a family of independent tests.
"""

from __future__ import annotations

import itertools
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from priorlab.claims import get_claim
from priorlab.claims.base import Lab, Results
from priorlab.claims.knobs import KNOBS, freeze
from priorlab.common import logs, runfiles
from priorlab.lab.plan import Plan, make_plan
from priorlab.lab.plots import plot_map
from priorlab.lab.report import write_html
from priorlab.lab.sweep import closure, default_workers, run_jobs

MAX_AXES = 2  # a heatmap's two dimensions

# The default map of each claim: the dial(s) its mechanism should be most sensitive to.
DEFAULT_MAPS: dict[str, tuple[str, ...]] = {
    "spurious-rewards": ("updates_per_batch", "prior_share"),  # clipping needs ratio off 1; a latent format
    "one-shot": ("rl_steps",),  # one example needs long training (post-saturation generalisation)
    "catalyst": ("rl_steps",),  # does more RL close the gap a weaker prior leaves?
    "format-collapse": ("lr",),  # collapse speed is a step-size effect
    "passk-boundary": ("rl_steps",),  # the crossover k moves with RL length
    "distillation-expands": ("rl_steps",),
    "update-sparsity": ("lr", "rl_steps"),  # bf16-visible change depends on step size and count
    "hard-samples": ("difficulty",),  # how hard is "overly hard"
    "calibration": ("lr",),
    "negative-reinforcement": ("rl_steps",),
    "imitation-then-rl": ("rl_steps",),
    "two-phase": ("rl_steps",),
    "composition": ("rl_steps",),  # is composition created with more RL, or never?
    "self-correction": ("rl_steps",),  # amplification grows with RL length if it is there at all
    "cot-passk": ("rl_steps",),  # as passk-boundary, its pair
    "contamination": ("contamination", "updates_per_batch"),  # memorisation vs clipping, the two explanations
    "prolonged-rl": ("rl_steps", "kl_beta"),  # ProRL's two dials: length and KL control
}
# Values of each axis in a default map, per preset (`full` takes `quick`'s where it names none): few
# enough that the map costs a small multiple of the claim's own retest.
DEFAULT_VALUES: dict[str, dict[str, tuple]] = {
    "contamination": {"smoke": (0.25, 0.5), "quick": (0.25, 0.5, 0.75)},
    "updates_per_batch": {"smoke": (1, 4), "quick": (1, 4, 8), "full": (1, 2, 4, 8, 16)},
    "prior_share": {"smoke": (0.1, 0.35), "quick": (0.1, 0.35, 0.6), "full": (0.05, 0.1, 0.2, 0.35, 0.6)},
    "lr": {"smoke": (1e-5, 1e-4), "quick": (1e-5, 3e-5, 1e-4), "full": (3e-6, 1e-5, 3e-5, 1e-4)},
    "rl_steps": {"smoke": (2, 4), "quick": (10, 30, 60), "full": (50, 150, 300)},
    "group_size": {"smoke": (2, 4), "quick": (4, 8, 16)},
    "size": {"smoke": ("xs", "s"), "quick": ("xs", "s", "m")},
    "tokens": {"smoke": (61_440, 122_880), "quick": (2_000_000, 6_000_000, 12_000_000)},
    "difficulty": {"smoke": ("3x1", "5x1"), "quick": ("4x1", "5x1", "6x1"), "full": ("3x1", "4x1", "5x1", "6x1")},
    "kl_beta": {"smoke": (0.0, 0.1), "quick": (0.0, 0.01, 0.1)},
    "entropy_coef": {"smoke": (0.0, 0.01), "quick": (0.0, 0.001, 0.01)},
    "temperature": {"smoke": (0.7, 1.0), "quick": (0.6, 1.0, 1.4)},
}


@dataclass(frozen=True)
class Axis:
    name: str
    values: tuple  # parsed (`claims.knobs`), in the order given

    def to_json(self) -> dict:
        """The axis as report data: name, values and what the dial does."""
        return {"name": self.name, "values": list(self.values), "doc": KNOBS[self.name].doc}


def parse_axis(spec: str) -> Axis:
    """'NAME=v1,v2,...' -> Axis with the values parsed and checked; ValueError naming --axis otherwise."""
    name, sep, values = str(spec).partition("=")
    name = name.strip()
    if not sep or not name:
        raise ValueError(f"--axis {spec!r}: expected NAME=v1,v2,... (names: {', '.join(KNOBS)})")
    raw = [v.strip() for v in values.split(",") if v.strip()]
    if not raw:
        raise ValueError(f"--axis {name}: no values (expected {name}=v1,v2,...)")
    return _axis(name, raw)


def _axis(name: str, raw) -> Axis:
    if name not in KNOBS:
        raise ValueError(f"--axis {name}: unknown; valid: {', '.join(KNOBS)}")
    vals = tuple(KNOBS[name].parse(r) for r in raw)
    if len(set(vals)) != len(vals):
        raise ValueError(f"--axis {name}: values repeat ({', '.join(map(str, vals))})")
    return Axis(name, vals)


def default_axes(claim: str, preset: str) -> list[Axis]:
    """The claim's default map at `preset`."""
    if claim not in DEFAULT_MAPS:
        raise ValueError(f"--map {claim}: no default map; name the dials with --axis NAME=v1,v2,...")
    return [_axis(n, DEFAULT_VALUES[n].get(preset) or DEFAULT_VALUES[n]["quick"]) for n in DEFAULT_MAPS[claim]]


def check_axes(axes: list[Axis]) -> None:
    """ValueError unless a map has one or two axes with distinct names."""
    if not 1 <= len(axes) <= MAX_AXES:
        raise ValueError(f"--axis: a map has 1 or {MAX_AXES} axes, got {len(axes)}")
    names = [a.name for a in axes]
    if len(set(names)) != len(names):
        raise ValueError(f"--axis: {names[0] if names[0] in names[1:] else names[1]} is given twice")


def grid(axes: list[Axis]) -> list[dict]:
    """Every grid point as {axis: value}; the first axis varies slowest."""
    return [dict(zip([a.name for a in axes], vs)) for vs in itertools.product(*(a.values for a in axes))]


def _keys(module, lab: Lab, seeds) -> frozenset:
    return frozenset(j.key for j in closure(module.jobs(lab, seeds)))


def check_used(claim: str, module, budget, axes: list[Axis], seeds) -> None:
    """Each axis must change some job of the claim between its values (else the dial is not connected)."""
    for a in axes:
        sets = {_keys(module, Lab(budget, {a.name: v}), seeds) for v in a.values}
        if len(sets) == 1:
            raise ValueError(f"--axis {a.name}: changes no run of {claim} (the claim fixes it or does not use it); "
                             f"{a.name} acts on {KNOBS[a.name].acts_on} ({KNOBS[a.name].doc})")


def slug(at: dict) -> str:
    """A cell's directory name: 'lr=1e-05,prior_share=0.2'."""
    return ",".join(f"{k}={v:g}" if isinstance(v, float) else f"{k}={v}" for k, v in at.items())


def cell_of(at: dict, e: dict) -> dict:
    """A map cell from a claim's report entry at grid point `at`."""
    gates = [{k: g[k] for k in ("name", "value", "op", "threshold", "passed")} for g in e.get("gates", [])]
    return {"at": at, "effect": e.get("effect"), "ci_low": e.get("ci_low"), "ci_high": e.get("ci_high"),
            "verdict": e["verdict"], "reason": e.get("reason", ""), "mechanism_active": e.get("mechanism_active"),
            "gates": gates, "failed_gates": [g["name"] for g in gates if not g["passed"]], "mde": e.get("mde"),
            "effect_greedy": e.get("effect_greedy"), "plots": e.get("plots", []), "metrics": e.get("metrics", {})}


def map_jobs(claim: str, axes: list[Axis] | None, preset: str, seeds: int | None = None,
             prior_seeds: int | None = None):
    """(module, budget, axes, seed list, grid points, a Lab per point, jobs) of a map of `claim`; the axes
    default to the claim's default map and are checked."""
    from priorlab.lab.retest import budget_for  # lab.retest imports this module

    module = get_claim(claim)
    budget = budget_for(preset, seeds, prior_seeds)
    axes = list(axes) if axes else default_axes(claim, preset)
    check_axes(axes)
    seed_list = list(range(budget.seeds))
    check_used(claim, module, budget, axes, seed_list)
    points = grid(axes)
    labs = [Lab(budget, freeze(at)) for at in points]
    return module, budget, axes, seed_list, points, labs, [j for lab in labs for j in module.jobs(lab, seed_list)]


def plan_map(claim: str, axes: list[Axis] | None = None, preset: str = "quick", seeds: int | None = None,
             out: str | Path = "runs/retest", workers: int | None = None, prior_seeds: int | None = None) -> Plan:
    """What `run_map` with these arguments would run and how long it would take (`lab.plan`); runs nothing."""
    jobs = map_jobs(claim, axes, preset, seeds, prior_seeds)[-1]
    return make_plan(jobs, Path(out) / "jobs", default_workers(workers))


def run_map(claim: str, axes: list[Axis] | None = None, preset: str = "quick", seeds: int | None = None,
            out: str | Path = "runs/retest", engine: str = "local", ray_address: str | None = None,
            workers: int | None = None, protocol_file: str | Path | None = None, prior_seeds: int | None = None,
            progress: bool = True, log=None) -> dict:
    """Run `claim`'s protocol at every grid point of `axes` (default: the claim's default map) and write the
    map, its heatmap and the report entry into `out`; returns the map."""
    log = logs.to(log, __name__)
    from priorlab.lab.retest import protocols_for, versions  # lab.retest imports this module

    t0 = time.perf_counter()
    module, budget, axes, seed_list, points, labs, jobs = map_jobs(claim, axes, preset, seeds, prior_seeds)
    protocol = protocols_for({claim: module}, protocol_file)[claim]
    out = Path(out)
    est = make_plan(jobs, out / "jobs", default_workers(workers))
    log(f"map {claim}: {' x '.join(f'{a.name} ({len(a.values)})' for a in axes)} = {len(points)} cells, preset "
        f"{preset}, {budget.seeds} seeds -> {out}; {est.summary()}")
    run_jobs(jobs, out / "jobs", engine=engine, workers=workers, ray_address=ray_address, progress=progress)

    cells = []
    for at, lab in zip(points, labs):
        res = Results(out / "jobs", out / "maps" / claim / slug(at))
        res.plots.mkdir(parents=True, exist_ok=True)
        try:
            e = module.analyze(lab, res, seed_list) if protocol is None else module.analyze(lab, res, seed_list, protocol)
        except Exception as err:  # noqa: BLE001 - one cell's failed analysis must not lose the others
            log(f"map {claim}: analysis of cell {slug(at)} failed: {type(err).__name__}: {err}")
            e = {"verdict": "error", "reason": f"analysis failed: {type(err).__name__}: {err}"}
        e["plots"] = [_rel(p, out) for p in e.get("plots", [])]
        cells.append(cell_of(at, e))

    info = module.INFO
    m = {"claim": claim, "preset": preset, "seeds": seed_list, "axes": [a.to_json() for a in axes],
         "metric": protocol.metric if protocol else info.metric, "delta": protocol.delta if protocol else info.delta,
         "protocol_sha256": protocol.sha256() if protocol else None, "cells": cells,
         "created": datetime.now(timezone.utc).isoformat(timespec="seconds"), "engine": engine,
         "elapsed_s": time.perf_counter() - t0, "versions": versions()}
    stem = out / "maps" / f"{claim}-heatmap"
    m["heatmap"] = {k: _rel(v, out) for k, v in plot_map(m, stem).items() if k != "json"}
    runfiles.atomic_write_json(out / "maps" / f"{claim}.json", m)
    add_to_report(out, m, budget)
    return m


def _rel(p, root: Path) -> str:
    return str(Path(p).relative_to(root)) if Path(p).is_relative_to(root) else str(p)


def report_entry(m: dict) -> dict:
    """What report.json's "maps" list holds of a map: where its files are and a summary of its verdicts."""
    verdicts = [c["verdict"] for c in m["cells"]]
    return {"claim": m["claim"], "file": f"maps/{m['claim']}.json", "heatmap": m["heatmap"], "preset": m["preset"],
            "axes": [{"name": a["name"], "values": a["values"]} for a in m["axes"]], "cells": len(m["cells"]),
            "verdicts": {v: verdicts.count(v) for v in dict.fromkeys(verdicts)}}


def add_to_report(out: Path, m: dict, budget) -> None:
    """Put the map into OUT/report.json ("maps": this claim's replaced) and re-render report.html; a map run
    into an OUT without a retest starts a report with no claims."""
    import dataclasses

    path = out / "report.json"
    if path.is_file():
        rep = runfiles.read_json(path)
    else:
        rep = {"preset": m["preset"], "elapsed_s": m["elapsed_s"], "versions": m["versions"], "created": m["created"],
               "engine": m["engine"], "budget": dataclasses.asdict(budget), "seeds": m["seeds"],
               "protocol_file": None, "claims": []}
    rep["maps"] = [e for e in rep.get("maps", []) if e["claim"] != m["claim"]] + [report_entry(m)]
    runfiles.atomic_write_json(path, rep)
    write_html(rep, out)


def kept_maps(out: Path) -> list[dict]:
    """The maps of an existing OUT/report.json whose files are still there (a retest into OUT keeps them)."""
    path = Path(out) / "report.json"
    if not path.is_file():
        return []
    try:
        maps = runfiles.read_json(path).get("maps", [])
    except ValueError:
        return []
    return [e for e in maps if (Path(out) / e["file"]).is_file()]
