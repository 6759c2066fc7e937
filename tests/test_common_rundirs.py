"""Run directories: claimed (locked) for a run, a failed start leaves nothing, two writers never share one."""

import json
import subprocess
import sys
import time

import pytest

from priorlab.common import rundirs, runfiles
from tests.conftest import run_cli


def fail_inside(out, *, resume=False, before=lambda out: None, begin=False):
    with pytest.raises(RuntimeError, match="boom"):
        with rundirs.claim(out, resume=resume, log=print) as run:
            before(out)
            if begin:
                run.begin()
            raise RuntimeError("boom")


def write_step(out, step):
    (out / "config.json").write_text("{}")
    (out / "checkpoints" / f"step_{step:08d}").mkdir(parents=True)


def test_a_run_that_fails_before_it_starts_training_leaves_nothing(tmp_path):
    fail_inside(tmp_path / "new", before=lambda out: write_step(out, 0))
    assert not (tmp_path / "new").exists()
    (tmp_path / "empty").mkdir()
    fail_inside(tmp_path / "empty", before=lambda out: write_step(out, 0))
    assert list((tmp_path / "empty").iterdir()) == []  # the user's empty folder stays, emptied


def test_a_started_run_or_an_existing_folder_is_kept_on_failure(tmp_path):
    fail_inside(tmp_path / "started", before=lambda out: write_step(out, 0), begin=True)
    assert sorted(p.name for p in (tmp_path / "started").iterdir()) == ["checkpoints", "config.json"]
    (tmp_path / "old").mkdir()
    (tmp_path / "old" / "notes.txt").write_text("mine")
    fail_inside(tmp_path / "old", resume=True, before=lambda out: write_step(out, 0))
    assert (tmp_path / "old" / "notes.txt").read_text() == "mine"


def test_a_finished_run_is_published_without_checkpoints_or_lock(tmp_path):
    src = tmp_path / "run"
    with rundirs.claim(src, resume=False, log=print):
        write_step(src, 4)
        (src / "model.safetensors").write_bytes(b"w")
        (src / "summary.json").write_text("{}")
        rundirs.publish(src, tmp_path / "cache" / "k")
    assert sorted(p.name for p in (tmp_path / "cache" / "k").iterdir()) == ["config.json", "model.safetensors",
                                                                           "summary.json"]
    (src / "model.safetensors").write_bytes(b"other")
    rundirs.publish(src, tmp_path / "cache" / "k")  # already published: kept, never replaced under a reader
    assert (tmp_path / "cache" / "k" / "model.safetensors").read_bytes() == b"w"
    assert [p.name for p in (tmp_path / "cache").iterdir()] == ["k"]


def test_two_resumes_of_one_run_at_once_the_second_fails_at_once(tmp_path, tiny_mixture):
    # the first run is far longer than the test: it is still running, whatever the machine's speed, when the
    # second starts, and is then killed (a lock left by a killed process: test_common_runlock)
    args = ["pretrain", "--mixture", tiny_mixture, "--size", "xs", "--tokens", 16 * 64 * 100_000, "--batch-size", 16,
            "--seq-len", 64, "--ckpt-every", 4, "--eval-every", 8, "--no-cache", "--quiet", "--out", tmp_path / "pt",
            "--resume"]
    first = subprocess.Popen([sys.executable, "-m", "priorlab.cli", *map(str, args)], stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
    try:
        lock = tmp_path / "pt" / ".lock"
        deadline = time.time() + 120
        while time.time() < deadline and not (lock.exists() and lock.read_text()):
            time.sleep(0.05)
        holder = json.loads(lock.read_text())
        second = run_cli(*args, check=False)
        assert first.poll() is None, first.stderr.read()
        assert second.returncode == 2 and "Traceback" not in second.stderr
        assert second.stderr.strip() == (
            f"error: --out {tmp_path}/pt: in use by another priorlab process (pid {first.pid} on {holder['host']}, "
            f"`{holder['command']}`, since {holder['since']}); wait for it to end, or stop it")
    finally:
        first.kill()
        first.wait(60)
    steps = [r["step"] for r in runfiles.MetricsLog(tmp_path / "pt" / "metrics.jsonl").read()]
    assert steps == list(range(1, len(steps) + 1))  # one writer: each step logged once, in order


def test_claiming_a_run_removes_a_killed_writers_temporaries(tmp_path):
    out = tmp_path / "run"
    out.mkdir()
    write_step(out, 4)
    (out / ".config.json.abc123.tmp").write_text("half")
    (out / "checkpoints" / ".step_00000008.xyz.tmp").mkdir()
    with rundirs.claim(out, resume=True, log=print):
        assert sorted(p.name for p in out.iterdir()) == [".lock", "checkpoints", "config.json"]
        assert [p.name for p in (out / "checkpoints").iterdir()] == ["step_00000004"]
