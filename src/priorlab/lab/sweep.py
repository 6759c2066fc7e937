"""Sweeps: runs as jobs in a dependency graph, computed once, cached on disk, run locally or on Ray.

A `Job` is a stage (pretrain, rl, sft, srl, eval) with its typed config (the stage's frozen dataclass,
`CONFIGS[kind]`) and the jobs it starts from. Its key hashes all of that plus the code version, so the
same condition asked for by two claims is one job, and a retest that was interrupted reuses every
finished job (and resumes the unfinished ones from their checkpoints). Every job runs in its own process
with one thread, so the local engine and the Ray engine give bitwise-identical results.

A stage that starts from a model (every kind but pretrain) has one dependency; where its config has an
`init` field, the job leaves it at its default and `execute` fills it with the dependency's directory.

    pt = Job("pretrain", PretrainConfig(mixture="code-prior", size="xs"))
    rl = Job("rl", RLConfig(reward="random:0.5", steps=30), deps=(pt,))
    paths = run_jobs([rl], root="out/jobs", engine="local", workers=2)   # dependencies are pulled in
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import os
import shutil
import time
from collections.abc import Callable
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from priorlab.common import codeversion, memory, rundirs, runfiles, runlock
from priorlab.common.failures import describe, first_line
from priorlab.evals.snapshot import SnapshotConfig, run_snapshot
from priorlab.lab import footprint
from priorlab.lab.costs import CostModel, size_of
from priorlab.model.gpt import config_for_size
from priorlab.pretrain import BLOCK_SIZE, PretrainConfig, pretrain
from priorlab.rl.loop import RLConfig, train
from priorlab.sft.loop import SFTConfig
from priorlab.sft.loop import train as train_sft
from priorlab.sft.srl import SRLConfig
from priorlab.sft.srl import train as train_srl
from priorlab.world.mixtures import load_mixture
from priorlab.world.tokenizer import Tokenizer

ENGINES = ("local", "ray")
CONFIGS: dict[str, type] = {
    "pretrain": PretrainConfig, "rl": RLConfig, "eval": SnapshotConfig, "sft": SFTConfig, "srl": SRLConfig,
}


@dataclass(frozen=True)
class Job:
    kind: str
    config: Any  # an instance of CONFIGS[kind]
    deps: tuple = ()  # Jobs this one starts from, in the order the runner expects
    label: str = field(default="", compare=False)

    def __post_init__(self) -> None:
        if self.kind not in CONFIGS:
            raise ValueError(f"unknown job kind {self.kind!r}; valid: {', '.join(CONFIGS)}")
        if type(self.config) is not CONFIGS[self.kind]:
            raise TypeError(f"job kind {self.kind!r}: config must be a {CONFIGS[self.kind].__name__}, "
                            f"got {type(self.config).__name__}")
        object.__setattr__(self, "deps", tuple(self.deps))
        n_deps = 0 if self.kind == "pretrain" else 1
        if len(self.deps) != n_deps:
            raise ValueError(f"job kind {self.kind!r} starts from {n_deps} job(s), got {len(self.deps)}")
        if getattr(self.config, "init", "") != "":
            raise ValueError(f"job kind {self.kind!r}: leave config.init empty (it is filled from the dependency's "
                             "directory at run time)")

    @cached_property
    def key(self) -> str:
        """Hash of kind, config, dependencies and code version; computed once per Job object (a worker
        receives it with the pickled job), so editing the sources during a sweep cannot re-key a job."""
        version = codeversion.code_version("pretrain" if self.kind == "pretrain" else "all")
        blob = json.dumps([self.kind, self.params, [d.key for d in self.deps], version])
        return hashlib.sha256(blob.encode()).hexdigest()[:16]

    @property
    def params(self) -> dict:
        """The config's fields as JSON-ready values (nested dataclasses and tuples included)."""
        return runfiles.to_jsonable(dataclasses.asdict(self.config))

    @property
    def dirname(self) -> str:
        """The job's directory name under OUT/jobs: `<kind>-<key>`."""
        return f"{self.kind}-{self.key}"

    @property
    def name(self) -> str:
        """A readable name for logs and progress: `<kind>:<label>`."""
        return f"{self.kind}:{self.label or self.key[:8]}"

    @property
    def cost(self) -> float:
        """Estimated seconds on one core with the built-in cost model (`lab.costs`)."""
        return CostModel().seconds(self.kind, self.config, size_of(self))

    @property
    def memory(self) -> dict[str, int]:
        """The large terms of its peak memory in bytes (`lab.footprint`)."""
        if self.kind == "pretrain":
            return footprint.pretrain(self.config, load_mixture(self.config.mixture))
        g = config_for_size(size_of(self), Tokenizer().vocab_size, BLOCK_SIZE)
        if self.kind == "eval":
            c = self.config
            return footprint.evaluation(g, c.problems, c.difficulty, c.samples, c.max_new_tokens,
                                        c.eval_config().batch_size)
        return getattr(footprint, self.kind)(self.config, g)


def resolved_config(job: Job, deps: list[Path]):
    """The config a job runs with: an `init` field is set to the dependency's directory."""
    if any(f.name == "init" for f in dataclasses.fields(job.config)):
        return dataclasses.replace(job.config, init=str(deps[0]))
    return job.config


# ------------------------------------------------------------------------------------------ runners
def _run_pretrain(cfg: PretrainConfig, out: Path, deps: list[Path]) -> None:

    pretrain(cfg, out, resume=True, use_cache=True, progress=False, log=lambda *_: None)


def _run_rl(cfg: RLConfig, out: Path, deps: list[Path]) -> None:

    train(cfg, out, resume=True, progress=False, log=lambda *_: None)


def _run_eval(cfg: SnapshotConfig, out: Path, deps: list[Path]) -> None:

    run_snapshot(deps[0], out, cfg)


def _run_sft(cfg: SFTConfig, out: Path, deps: list[Path]) -> None:

    train_sft(cfg, out, resume=True, progress=False, log=lambda *_: None)


def _run_srl(cfg: SRLConfig, out: Path, deps: list[Path]) -> None:

    train_srl(cfg, out, resume=True, progress=False, log=lambda *_: None)


RUNNERS: dict[str, Callable[[Any, Path, list[Path]], None]] = {
    "pretrain": _run_pretrain, "rl": _run_rl, "eval": _run_eval, "sft": _run_sft, "srl": _run_srl,
}


def job_dir(root: Path, job: Job) -> Path:
    """Where a job lives (or will) under `root`."""
    return Path(root) / job.dirname


def is_done(root: Path, job: Job) -> bool:
    """Whether the job under `root` finished (its job.json is written last)."""
    return (job_dir(root, job) / "job.json").is_file()


def execute(job: Job, root: str | Path) -> str:
    """Run one job (its dependencies must be done) in this process; idempotent. Returns its directory."""
    import torch

    torch.set_num_threads(1)
    root = Path(root)
    out = job_dir(root, job)
    if is_done(root, job):
        return str(out)
    # another sweep on the same folder may be running this job: wait for it, then reuse its result
    with runlock.hold(out, wait=True, what="job"):
        if is_done(root, job):
            return str(out)
        if job.kind == "eval" and rundirs.has_entries(out):
            for p in out.iterdir():  # evaluations have no checkpoints: redo a partial one
                if p.name != runlock.LOCK_NAME:
                    shutil.rmtree(p) if p.is_dir() else p.unlink()
        t0 = time.perf_counter()
        deps = [job_dir(root, d) for d in job.deps]
        RUNNERS[job.kind](resolved_config(job, deps), out, deps)
        if os.environ.get("PRIORLAB_REPORT_TO"):  # --report-to: this job's tracked run ends with it
            from priorlab.common import tracking

            tracking.close_all()
        runfiles.atomic_write_json(out / "job.json", {"kind": job.kind, "params": job.params, "key": job.key,
                                                  "label": job.label, "deps": [d.dirname for d in job.deps],
                                                  "elapsed_s": time.perf_counter() - t0})
    return str(out)


def closure(jobs: list[Job]) -> list[Job]:
    """All jobs and their dependencies, each once, dependencies first."""
    order, seen = [], set()

    def visit(j: Job) -> None:
        if j.key in seen:
            return
        for d in j.deps:
            visit(d)
        seen.add(j.key)
        order.append(j)

    for j in jobs:
        visit(j)
    return order


class JobFailed(RuntimeError):
    pass


def default_workers(workers: int | None = None) -> int:
    """--workers, or this machine's cores (at most 8)."""
    return workers or max(1, min(os.cpu_count() or 1, 8))


def run_jobs(jobs: list[Job], root: str | Path, *, engine: str = "local", workers: int | None = None,
             ray_address: str | None = None, progress: bool = True, force: bool = False) -> dict[str, Path]:
    """Run every job not yet done; returns {job key: directory}. The largest job times the workers that may
    run at once must fit in memory (`common.memory.check`; `force` runs anyway)."""
    if engine not in ENGINES:
        raise ValueError(f"--engine {engine!r}: valid: {', '.join(ENGINES)}")
    root = Path(root)
    order = closure(jobs)
    todo = [j for j in order if not is_done(root, j)]
    workers = default_workers(workers)
    if todo and not force:
        sizes = {j.name: sum(j.memory.values()) for j in todo}
        largest, n = max(sizes, key=lambda name: sizes[name]), min(workers, len(todo))
        memory.check({f"{n} x {largest} (the largest job)": n * sizes[largest]}, f"{len(todo)} runs", force=force,
                     hint="lower --workers, or take a smaller --preset")
    root.mkdir(parents=True, exist_ok=True)
    model = CostModel.fit(root) if progress else None
    bar = _Progress(progress, order, todo, model and (lambda j: model.seconds(j.kind, j.config, size_of(j))))
    try:
        if todo:
            (_run_local if engine == "local" else _run_ray)(todo, root, workers, ray_address, bar)
    finally:
        bar.stop()
    return {j.key: job_dir(root, j) for j in order}


def _run_local(todo: list[Job], root: Path, workers: int, _addr, bar) -> None:
    import multiprocessing as mp

    pending = {j.key: j for j in todo}
    done_keys: set[str] = set()
    running: dict[Future, Job] = {}
    pool = ProcessPoolExecutor(max_workers=workers, mp_context=mp.get_context("spawn"))
    try:
        while pending or running:
            for key, j in list(pending.items()):
                if len(running) >= workers:
                    break
                if all(d.key in done_keys or is_done(root, d) for d in j.deps):
                    running[pool.submit(execute, j, str(root))] = j
                    del pending[key]
                    bar.start(j)
            if not running:
                raise JobFailed("dependency cycle or a dependency that never ran")
            finished, _ = wait(list(running), return_when=FIRST_COMPLETED)
            for f in finished:
                j = running.pop(f)
                try:
                    f.result()
                except Exception as e:  # noqa: BLE001 - re-raised with the job's name
                    raise JobFailed(f"job {j.name} ({job_dir(root, j)}) failed: {describe(e)[0]}") from e
                done_keys.add(j.key)
                bar.finish(j)
    except BaseException:
        # An error, Ctrl-C or SIGTERM: stop the workers now rather than leaving them to finish their jobs
        # (finished jobs are kept; the interrupted ones resume from their checkpoints on the next run).
        for proc in list(getattr(pool, "_processes", {}).values()):
            proc.terminate()
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown(wait=True)


def _run_ray(todo: list[Job], root: Path, workers: int, address: str | None, bar) -> None:
    try:
        import ray
    except ImportError:
        raise ValueError("--engine ray needs Ray: pip install 'priorlab[ray]'") from None
    started_here = not ray.is_initialized()
    if started_here:
        if address:
            try:
                ray.init(address=address, log_to_driver=False)
            except (ConnectionError, RuntimeError) as e:
                raise ValueError(
                    f"--ray-address {address}: cannot connect ({type(e).__name__}: {first_line(e)[:200]}); a cluster started "
                    "with `ray start` on a recent Ray uses token authentication: set RAY_AUTH_MODE=token and the "
                    "cluster's token (RAY_AUTH_TOKEN, or ~/.ray/auth_token from the head node) here") from None
        else:
            ray.init(num_cpus=workers, include_dashboard=False, log_to_driver=False)
    try:
        remote = ray.remote(num_cpus=1, max_retries=0)(_ray_entry)
        refs: dict[str, Any] = {}  # job key -> Ray object ref
        by_ref: dict[Any, Job] = {}
        for j in todo:
            dep_refs = [refs[d.key] for d in j.deps if d.key in refs]
            refs[j.key] = remote.remote(j, str(root), *dep_refs)
            by_ref[refs[j.key]] = j
            bar.start(j)
        remaining = list(refs.values())
        while remaining:
            ready, remaining = ray.wait(remaining, num_returns=1)
            j = by_ref[ready[0]]
            try:
                ray.get(ready[0])
            except Exception as e:  # noqa: BLE001
                raise JobFailed(f"job {j.name} ({job_dir(root, j)}) failed on Ray: {describe(e)[0]}") from e
            bar.finish(j)
    finally:
        if started_here:
            ray.shutdown()


def _ray_entry(job: Job, root: str, *_deps_done) -> str:
    return execute(job, root)


class _Progress:
    """An overall bar weighted by estimated cost (so its time estimate means something) + running jobs.

    Where the output is not a terminal (redirected to a log file, CI), a bar cannot redraw, so a plain
    line is printed each time a run finishes instead: runs done, which one, elapsed time and estimate.
    """

    def __init__(self, enabled: bool, order: list[Job], todo: list[Job], cost=None):
        """cost: job -> estimated seconds (default: the job's `cost`, the built-in cost model)."""
        self.p: Any = None  # a rich Progress while enabled
        if not enabled:
            return
        from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn, TimeRemainingColumn

        self.p = Progress(TextColumn("[bold]{task.description}"), BarColumn(), TextColumn("{task.fields[jobs]}"),
                          TimeElapsedColumn(), TextColumn("eta"), TimeRemainingColumn())
        self.plain = not self.p.console.is_terminal
        self.p.start()
        self.done = len(order) - len(todo)
        self.total = len(order)
        self.running: list[str] = []
        self.cost = cost or (lambda j: j.cost)
        self.cost_total, self.cost_done, self.t0 = sum(map(self.cost, todo)) or 1.0, 0.0, time.perf_counter()
        self.task = self.p.add_task("retest", total=self.cost_total, jobs=f"{self.done}/{self.total} runs")

    def start(self, j: Job) -> None:
        if self.p:
            self.running.append(j.name)
            self._show()

    def finish(self, j: Job) -> None:
        if self.p:
            self.done += 1
            if j.name in self.running:
                self.running.remove(j.name)
            self.p.advance(self.task, self.cost(j))
            self.cost_done += self.cost(j)
            self._show()
            if self.plain:
                elapsed = time.perf_counter() - self.t0
                left = elapsed * (self.cost_total - self.cost_done) / self.cost_done if self.cost_done > 0 else 0.0
                self.p.console.print(f"{self.done}/{self.total} runs done ({j.name}) | elapsed {_clock(elapsed)} "
                                     f"| eta {_clock(left)}", highlight=False, markup=False, soft_wrap=True)

    def _show(self) -> None:
        now = ", ".join(self.running[:3]) + (" ..." if len(self.running) > 3 else "")
        self.p.update(self.task, jobs=f"{self.done}/{self.total} runs | running: {now or '-'}")

    def stop(self) -> None:
        if self.p:
            self.p.stop()


def _clock(seconds: float) -> str:
    """Seconds as h:mm:ss."""
    s = int(round(seconds))
    return f"{s // 3600}:{s // 60 % 60:02d}:{s % 60:02d}"
