"""A plan before a sweep: what `retest` (or `--map`) would run, what is cached, and how long it would take.

    plan = make_plan(jobs, root, workers=2)      # nothing runs
    plan.wall_s, plan.cpu_s, plan.by_kind

The wall time is that of the local engine's own schedule (`lab.sweep._run_local`: jobs taken in
dependency order, each started as soon as a worker is free and its dependencies are done), simulated
with every job's seconds from the cost model (`lab.costs`), fitted on the jobs already finished under
`root` and any other job folders given. The CPU time is what a Ray cluster would spend, summed.
"""

from __future__ import annotations

import heapq
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path

from priorlab.lab.costs import CostModel, size_of
from priorlab.lab.sweep import Job, closure, is_done


@dataclass
class KindPlan:
    jobs: int = 0
    cached: int = 0
    cpu_s: float = 0.0  # of the jobs to run


@dataclass
class Plan:
    jobs: int
    cached: int
    workers: int
    wall_s: float  # estimated, this machine, `workers` local workers
    cpu_s: float  # estimated, the jobs to run, one core each
    by_kind: dict = field(default_factory=dict)  # kind -> KindPlan
    source: str = ""  # where the cost model's rates come from

    def summary(self) -> str:
        """'312 runs, 12 cached; estimated 41 min with 2 workers' (one line for a sweep's start)."""
        return (f"{self.jobs} runs, {self.cached} cached; estimated {self.wall_s / 60:.0f} min with {self.workers} "
                f"worker(s)")

    def to_json(self) -> dict:
        """The plan as JSON-ready data (jobs, cached, wall and CPU seconds by kind, the cost model's source)."""
        return {"jobs": self.jobs, "cached": self.cached, "to_run": self.jobs - self.cached, "workers": self.workers,
                "wall_s": self.wall_s, "cpu_s": self.cpu_s, "cost_model": self.source,
                "by_kind": {k: vars(v) for k, v in self.by_kind.items()}}


def make_plan(jobs: list[Job], root: str | Path, workers: int, model: CostModel | None = None) -> Plan:
    """The plan of running `jobs` (and their dependencies) into `root` with `workers` local workers."""
    root = Path(root)
    model = model or CostModel.fit(root)
    order = closure(jobs)
    done = {j.key for j in order if is_done(root, j)}
    seconds = {j.key: model.seconds(j.kind, j.config, size_of(j)) for j in order if j.key not in done}
    by_kind: dict[str, KindPlan] = {}
    for j in order:
        k = by_kind.setdefault(j.kind, KindPlan())
        k.jobs += 1
        if j.key in done:
            k.cached += 1
        else:
            k.cpu_s += seconds[j.key]
    todo = [j for j in order if j.key not in done]
    return Plan(jobs=len(order), cached=len(done), workers=workers, wall_s=simulate(todo, seconds, workers, done),
                cpu_s=sum(seconds.values()), by_kind=by_kind, source=model.source())


def simulate(todo: list[Job], seconds: dict[str, float], workers: int, done: Collection[str] = frozenset()) -> float:
    """Wall time of the local engine's schedule: jobs in `todo`'s order, a job started when a worker is
    free and its dependencies are done, each taking seconds[key]."""
    if workers < 1:
        raise ValueError(f"workers must be >= 1, got {workers}")
    finished = set(done)
    pending = list(todo)
    running: list[tuple[float, int, str]] = []  # (end time, tie-break, key)
    now, n = 0.0, 0
    while pending or running:
        for j in list(pending):
            if len(running) >= workers:
                break
            if all(d.key in finished for d in j.deps):
                heapq.heappush(running, (now + seconds[j.key], n, j.key))
                n += 1
                pending.remove(j)
        if not running:
            raise ValueError("dependency cycle or a dependency outside the plan")
        now, _, key = heapq.heappop(running)
        finished.add(key)
    return now
