import dataclasses
import json
import pickle

import pytest

from priorlab.evals.snapshot import SnapshotConfig
from priorlab.lab import sweep
from priorlab.lab.sweep import Job, closure, run_jobs
from priorlab.pretrain import PretrainConfig
from priorlab.rl.loop import RLConfig
from tests.conftest import TINY_MIXTURE


def _pretrain_config(tmp_path) -> PretrainConfig:
    mix = tmp_path / "tiny.yaml"
    mix.write_text(TINY_MIXTURE)
    return PretrainConfig(mixture=str(mix), size="xs", tokens=16 * 64 * 30, seed=0, batch_size=16, seq_len=64)


def _jobs(tmp_path):
    pt = Job("pretrain", _pretrain_config(tmp_path))
    rls = [Job("rl", RLConfig(steps=2, seed=s, prompts_per_step=4, group_size=4, minibatches=2, max_new_tokens=32,
                              difficulty="2x1", eval_every=2, eval_problems=6, eval_samples=2, ckpt_every=2),
               deps=(pt,))
           for s in (0, 1)]
    return pt, rls


def test_keys_dedupe_and_closure_orders_dependencies(tmp_path):
    pt, rls = _jobs(tmp_path)
    again = Job("pretrain", _pretrain_config(tmp_path), label="another label")
    assert again.key == pt.key and rls[0].key != rls[1].key
    order = closure([rls[1], rls[0], again])
    assert [j.key for j in order] == [rls[1].deps[0].key, rls[1].key, rls[0].key]


def test_a_job_checks_its_kind_config_and_dependencies(tmp_path):
    pt, rls = _jobs(tmp_path)
    with pytest.raises(ValueError, match="unknown job kind"):
        Job("meditate", pt.config)
    with pytest.raises(TypeError, match="config must be a RLConfig, got PretrainConfig"):
        Job("rl", pt.config, deps=(pt,))
    with pytest.raises(ValueError, match="starts from 1 job"):
        Job("eval", SnapshotConfig())
    with pytest.raises(ValueError, match="leave config.init empty"):
        Job("rl", RLConfig(init="runs/elsewhere"), deps=(pt,))


def test_key_hashes_the_config_and_the_dependencies(tmp_path):
    pt, rls = _jobs(tmp_path)
    rl = rls[0]
    assert Job("rl", dataclasses.replace(rl.config, lr=1e-4), deps=(pt,)).key != rl.key
    other_pt = Job("pretrain", dataclasses.replace(pt.config, seed=1))
    assert Job("rl", rl.config, deps=(other_pt,)).key != rl.key
    # tuples (RLConfig.overrides) serialise as JSON lists, so the key and job.json agree on them
    clipped = Job("rl", dataclasses.replace(rl.config, overrides=(("clip", False),)), deps=(pt,))
    assert clipped.params["overrides"] == [["clip", False]] and clipped.key != rl.key
    assert json.loads(json.dumps(clipped.params)) == clipped.params


def test_jobs_survive_pickling_with_their_key(tmp_path):
    _, rls = _jobs(tmp_path)
    key = rls[0].key
    back = pickle.loads(pickle.dumps(rls[0]))
    assert back == rls[0] and back.key == key and back.config == rls[0].config and back.deps[0] == rls[0].deps[0]


def test_init_is_filled_from_the_dependency_at_run_time(tmp_path):
    pt, rls = _jobs(tmp_path)
    dep = tmp_path / "jobs" / pt.dirname
    assert rls[0].config.init == ""
    assert sweep.resolved_config(rls[0], [dep]) == dataclasses.replace(rls[0].config, init=str(dep))
    ev = Job("eval", SnapshotConfig(problems=4, samples=2), deps=(rls[0],))
    assert sweep.resolved_config(ev, [dep]) is ev.config  # no init field: the model dir is passed on its own
    assert sweep.resolved_config(pt, []) is pt.config


def test_finished_jobs_are_reused(tmp_path, monkeypatch):
    pt, rls = _jobs(tmp_path)
    run_jobs(rls, tmp_path / "jobs", workers=2, progress=False)
    job_json = json.loads((tmp_path / "jobs" / rls[0].dirname / "job.json").read_text())
    assert job_json["params"] == rls[0].params and job_json["deps"] == [pt.dirname]
    run_config = json.loads((tmp_path / "jobs" / rls[0].dirname / "config.json").read_text())
    assert run_config["init"] == str(tmp_path / "jobs" / pt.dirname)  # filled in from the dependency
    first = {j.key: (tmp_path / "jobs" / j.dirname / "job.json").stat().st_mtime_ns for j in [pt, *rls]}
    calls = []
    monkeypatch.setitem(sweep.RUNNERS, "rl", lambda *a: calls.append(a))
    run_jobs(rls, tmp_path / "jobs", workers=2, progress=False)
    assert not calls  # nothing re-ran
    assert first == {j.key: (tmp_path / "jobs" / j.dirname / "job.json").stat().st_mtime_ns for j in [pt, *rls]}


def test_local_and_ray_engines_give_identical_runs(tmp_path):
    pytest.importorskip("ray", reason="Ray is in the test extra; install priorlab[test]")
    pt, rls = _jobs(tmp_path)
    run_jobs(rls, tmp_path / "local", engine="local", workers=2, progress=False)
    run_jobs(rls, tmp_path / "ray", engine="ray", workers=2, progress=False)
    for j in [pt, *rls]:
        a = (tmp_path / "local" / j.dirname / "model.safetensors").read_bytes()
        b = (tmp_path / "ray" / j.dirname / "model.safetensors").read_bytes()
        assert a == b, j.name


def test_unknown_engine(tmp_path):
    with pytest.raises(ValueError, match="--engine"):
        run_jobs([], tmp_path, engine="slurm")


def test_progress_prints_a_line_per_finished_run_when_not_a_terminal(capsys, monkeypatch):
    from types import SimpleNamespace

    clock = iter([100.0, 130.0, 190.0])  # start, then two finishes
    monkeypatch.setattr(sweep.time, "perf_counter", lambda: next(clock))
    a, b, c = (SimpleNamespace(name=n, cost=cost) for n, cost in (("pretrain-a", 1.0), ("rl-b", 3.0), ("eval-c", 2.0)))
    bar = sweep._Progress(True, [a, b, c], [b, c])  # a was done before: 1 of 3 runs
    bar.start(b)
    bar.finish(b)
    bar.start(c)
    bar.finish(c)
    bar.stop()
    lines = [x for x in capsys.readouterr().out.splitlines() if "runs done" in x]
    # b: 30 s for 3 of 5 cost units -> 20 s left; c: 90 s for all of it -> 0 left
    assert lines == ["2/3 runs done (rl-b) | elapsed 0:00:30 | eta 0:00:20",
                     "3/3 runs done (eval-c) | elapsed 0:01:30 | eta 0:00:00"]
    assert sweep._clock(3725) == "1:02:05"


@pytest.mark.slow
def test_a_ray_cluster_started_apart_gives_the_local_engines_runs(tmp_path, monkeypatch):
    """`--ray-address`: a Ray head started with `ray start` (3 worker CPUs, its own processes, token
    authentication as Ray 2.60's `ray start` sets up) runs the jobs; every run equals the local engine's bitwise
    (the cluster sees OUT at the same path, as on a shared disk)."""
    import secrets
    import shutil
    import socket
    import subprocess
    import sys
    from pathlib import Path

    ray_cli = str(Path(sys.executable).with_name("ray"))
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    auth = {"RAY_AUTH_MODE": "token", "RAY_AUTH_TOKEN": secrets.token_hex(32)}  # the cluster's token, not ~/.ray's
    for k, v in auth.items():
        monkeypatch.setenv(k, v)  # this process is the cluster's client
    pytest.importorskip("ray", reason="Ray is in the test extra; install priorlab[test]")  # reads them at import
    env = {**__import__("os").environ, "RAY_USAGE_STATS_ENABLED": "0"}
    temp = Path("/tmp") / f"ray-{port}"  # Ray's socket paths must stay short: not under pytest's tmp_path
    subprocess.run([ray_cli, "start", "--head", f"--port={port}", "--num-cpus=3", "--include-dashboard=false",
                    f"--temp-dir={temp}", "--disable-usage-stats"], check=True, env=env, capture_output=True, timeout=120)
    try:
        pt, rls = _jobs(tmp_path)
        run_jobs(rls, tmp_path / "local", engine="local", workers=2, progress=False)
        run_jobs(rls, tmp_path / "ray", engine="ray", ray_address=f"127.0.0.1:{port}", progress=False)
        for j in [pt, *rls]:
            a = (tmp_path / "local" / j.dirname / "model.safetensors").read_bytes()
            b = (tmp_path / "ray" / j.dirname / "model.safetensors").read_bytes()
            assert a == b, j.name
    finally:
        subprocess.run([ray_cli, "stop", "--force"], env=env, capture_output=True, timeout=120)
        shutil.rmtree(temp, ignore_errors=True)
