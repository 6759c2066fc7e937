"""Fault tests: a run killed between a checkpoint's write and its rename, a full disk in the writer, two
retests at once on one cache, a retest killed and rerun. Each ends with the results of an uninterrupted run.
Faults are injected by `tests.faults` (the CLI in a fresh interpreter)."""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from priorlab.common import rundirs, runfiles
from tests.conftest import run_cli
from tests.faults import run_faulty

# 48 steps of 16 x 64 tokens, a checkpoint every 4
PRETRAIN = ("pretrain", "--size", "xs", "--tokens", 16 * 64 * 48, "--batch-size", 16, "--seq-len", 64,
            "--ckpt-every", 4, "--eval-every", 8, "--no-cache", "--quiet")
RETEST = ("retest", "--claims", "one-shot", "--preset", "smoke", "--seeds", 1, "--workers", 1, "--quiet")


@pytest.fixture(scope="module")
def reference(tmp_path_factory):
    """An uninterrupted pretraining run, and its mixture."""
    d = tmp_path_factory.mktemp("ref")
    from tests.conftest import TINY_MIXTURE

    (d / "tiny.yaml").write_text(TINY_MIXTURE)
    run_cli(*PRETRAIN, "--mixture", d / "tiny.yaml", "--out", d / "pt", env={"PRIORLAB_CACHE": str(d / "cache")})
    return d / "pt", d / "tiny.yaml"


def same_run(out, ref):
    assert (out / "model.safetensors").read_bytes() == (ref / "model.safetensors").read_bytes()
    steps = [r["step"] for r in runfiles.MetricsLog(out / "metrics.jsonl").read()]
    assert steps == list(range(1, 49))


@pytest.mark.slow
def test_kill_between_a_checkpoints_write_and_its_rename_then_resume_is_bitwise(tmp_path, reference):
    ref, mixture = reference
    out = tmp_path / "pt"
    proc = run_faulty("kill:checkpoints/step_00000008", *PRETRAIN, "--mixture", mixture, "--out", out)
    assert proc.returncode == -signal.SIGKILL
    assert [p.name for p in (out / "checkpoints").iterdir() if p.name.startswith(".step_00000008.")], \
        "the killed run should leave its complete, unrenamed step 8"
    resumed = run_cli(*PRETRAIN, "--mixture", mixture, "--out", out, "--resume")
    assert f"resuming {out} from step 4" in resumed.stdout
    same_run(out, ref)
    assert not list(out.rglob(".*.tmp"))  # the leftover was removed on resume


@pytest.mark.slow
def test_full_disk_in_the_writer_then_resume_once_space_returns(tmp_path, reference):
    ref, mixture = reference
    out = tmp_path / "pt"
    proc = run_faulty("enospc:step_00000008/model.safetensors", *PRETRAIN, "--mixture", mixture, "--out", out)
    assert proc.returncode == 2 and "Traceback" not in proc.stderr
    assert proc.stderr.strip() == (f"error: --out {out}: no space left on device "
                                   f"({out}/checkpoints/step_00000008/model.safetensors)")
    assert not list(out.rglob("*.tmp")) and not (out / "checkpoints" / "step_00000008").exists()  # no partial file
    assert (out / "checkpoints" / "step_00000004" / "state.pt").exists()  # training had begun: kept
    run_cli(*PRETRAIN, "--mixture", mixture, "--out", out, "--resume")
    same_run(out, ref)


def numbers(report_dir):
    """report.json without what differs between two runs of one retest (times, dates)."""
    rep = json.loads((report_dir / "report.json").read_text())
    return {k: v for k, v in rep.items() if k not in ("elapsed_s", "created")}


def retest(out, cache, **kw):
    return subprocess.Popen([sys.executable, "-m", "priorlab.cli", *map(str, RETEST), "--out", str(out)],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env={**os.environ, "PRIORLAB_CACHE": str(cache)}, **kw)


@pytest.mark.slow
def test_two_retests_at_once_on_one_cache_then_a_killed_retest_rerun(tmp_path):
    cache = tmp_path / "cache"
    a, b = retest(tmp_path / "rt", cache), retest(tmp_path / "rt", cache)
    for p in (a, b):
        assert p.wait(1200) == 0, p.stderr.read()
    assert json.loads((tmp_path / "rt" / "report.json").read_text())["claims"]
    # each job computed once: one writer per job folder, each step logged once
    for d in (tmp_path / "rt" / "jobs").iterdir():
        steps = [r["step"] for r in runfiles.MetricsLog(d / "metrics.jsonl").read()] if (d / "metrics.jsonl").exists() \
            else []
        assert len(steps) == len(set(steps)), d
    entries = list((cache / "pretrain").iterdir())
    assert entries and all(rundirs.is_finished(e) for e in entries)  # no partial or temporary cache entry
    reference = numbers(tmp_path / "rt")

    # killed mid-run (the whole process group, as kill -9 of a terminal's job), then the same command again
    killed = retest(tmp_path / "rt2", tmp_path / "cache2", start_new_session=True)
    deadline = time.time() + 600
    while time.time() < deadline and len(list((tmp_path / "rt2").glob("jobs/*/job.json"))) < 2:
        time.sleep(0.2)
    os.killpg(killed.pid, signal.SIGKILL)
    killed.wait()
    assert not (tmp_path / "rt2" / "report.json").exists(), "the retest finished before it could be killed"
    rerun = retest(tmp_path / "rt2", tmp_path / "cache2")
    assert rerun.wait(1200) == 0, rerun.stderr.read()
    assert numbers(tmp_path / "rt2") == reference
