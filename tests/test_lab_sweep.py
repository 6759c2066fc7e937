import pytest

from priorlab.lab import sweep
from priorlab.lab.sweep import Job, closure, run_jobs
from tests.conftest import TINY_MIXTURE


def _jobs(tmp_path):
    mix = tmp_path / "tiny.yaml"
    mix.write_text(TINY_MIXTURE)
    pt = Job.make("pretrain", mixture=str(mix), size="xs", tokens=16 * 64 * 30, seed=0, batch_size=16, seq_len=64)
    rls = [Job.make("rl", deps=(pt,), steps=2, seed=s, prompts_per_step=4, group_size=4, minibatches=2,
                    max_new_tokens=32, difficulty="2x1", eval_every=2, eval_problems=6, eval_samples=2, ckpt_every=2)
           for s in (0, 1)]
    return pt, rls


def test_keys_dedupe_and_closure_orders_dependencies(tmp_path):
    pt, rls = _jobs(tmp_path)
    again = Job.make("pretrain", mixture=pt.p["mixture"], size="xs", tokens=16 * 64 * 30, seed=0, batch_size=16,
                     seq_len=64)
    assert again.key == pt.key and rls[0].key != rls[1].key
    order = closure([rls[1], rls[0], again])
    assert [j.key for j in order] == [rls[1].deps[0].key, rls[1].key, rls[0].key]
    with pytest.raises(ValueError, match="unknown job kind"):
        Job.make("meditate")


def test_finished_jobs_are_reused(tmp_path, monkeypatch):
    pt, rls = _jobs(tmp_path)
    run_jobs(rls, tmp_path / "jobs", workers=2, progress=False)
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
