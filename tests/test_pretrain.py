import dataclasses
import os
import signal
import subprocess
import sys
import time

import pytest

from priorlab.common import rundirs, runfiles
from priorlab.model.checkpoint import load_model
from priorlab.pretrain import PretrainConfig, lr_at, pretrain
from tests.conftest import run_cli

TINY = dict(size="xs", tokens=16 * 64 * 24, batch_size=16, seq_len=64, eval_every=8, ckpt_every=4)


def _weights(run_dir):
    return (run_dir / "model.safetensors").read_bytes()


def test_lr_schedule_warmup_and_cosine():
    cfg = PretrainConfig(tokens=32 * 128 * 200, lr=1e-3, warmup_steps=10, min_lr_ratio=0.1)
    assert lr_at(0, cfg) == pytest.approx(1e-4)  # (0+1)/10 of the peak
    assert lr_at(9, cfg) == pytest.approx(1e-3)
    assert lr_at(10, cfg) == pytest.approx(1e-3)  # cosine starts at the peak
    assert lr_at(105, cfg) == pytest.approx(1e-3 * (0.1 + 0.9 * 0.5))  # half-way: cos = 0
    assert lr_at(200, cfg) == pytest.approx(1e-4)


def test_same_seed_gives_identical_weights_and_resume_is_bitwise(tmp_path, tiny_mixture):
    cfg = PretrainConfig(mixture=str(tiny_mixture), **TINY)
    a, b = tmp_path / "a", tmp_path / "b"
    pretrain(cfg, a, use_cache=False, progress=False, log=lambda *_: None)
    pretrain(cfg, b, use_cache=False, progress=False, log=lambda *_: None)
    assert _weights(a) == _weights(b)
    assert (a / "checkpoints" / "step_00000000" / "model.safetensors").exists()  # step 0 is kept
    for name in ("config.json", "metrics.jsonl", "summary.json", "model.safetensors"):
        assert (a / name).exists()
    rows = runfiles.MetricsLog(a / "metrics.jsonl").read()
    assert [r["step"] for r in rows] == list(range(1, cfg.steps + 1))
    model, meta = load_model(a)
    assert meta["step"] == cfg.steps and model.num_params() > 0
    # resuming under other settings is refused, listing them; more tokens cannot extend a cosine schedule
    with pytest.raises(runfiles.RunError, match=r"started with other settings \(lr: 0.003 -> 0.001\)"):
        pretrain(dataclasses.replace(cfg, lr=1e-3), a, resume=True, use_cache=False, progress=False, log=print)
    with pytest.raises(runfiles.RunError, match=r"\(steps: 24 -> 48; tokens: 24576 -> 49152\); resuming would make "
                                                r"it two runs; pretraining's learning rate follows a cosine"):
        pretrain(dataclasses.replace(cfg, tokens=2 * cfg.tokens), a, resume=True, use_cache=False, progress=False,
                 log=print)


def test_kill_minus_nine_then_resume_matches_an_uninterrupted_run(tmp_path, tiny_mixture):
    # 48 steps, killed once step 8's checkpoint exists: the 40 steps left keep a slow (loaded) machine from
    # finishing the run between two polls
    args = ["pretrain", "--mixture", tiny_mixture, "--size", "xs", "--tokens", 16 * 64 * 48, "--batch-size", 16,
            "--seq-len", 64, "--ckpt-every", 4, "--eval-every", 8, "--no-cache", "--quiet"]
    ref = tmp_path / "ref"
    run_cli(*args, "--out", ref)
    killed = tmp_path / "killed"
    proc = subprocess.Popen([sys.executable, "-m", "priorlab.cli", *map(str, args), "--out", str(killed)],
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.time() + 120
    while time.time() < deadline and not (killed / "checkpoints" / "step_00000008").exists():
        time.sleep(0.05)
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    assert not rundirs.is_finished(killed), "the run finished before it could be killed"
    resumed = run_cli(*args, "--out", killed, "--resume")
    assert "taking over the lock left by pid" in resumed.stdout  # the killed run's lock file was left behind
    assert _weights(killed) == _weights(ref)
    timing = ("elapsed_s", "tok_per_s", "resumed_from")
    summaries = [{k: v for k, v in runfiles.read_json(d / "summary.json").items() if k not in timing}
                 for d in (killed, ref)]
    assert summaries[0] == summaries[1]  # loss/train and loss/val come from metrics.jsonl, not the last process
    steps = [r["step"] for r in runfiles.MetricsLog(killed / "metrics.jsonl").read()]
    assert steps == list(range(1, 49))


def test_cache_reuses_a_finished_prior(tmp_path, tiny_mixture):
    cfg = PretrainConfig(mixture=str(tiny_mixture), **TINY)
    logs = []
    pretrain(cfg, tmp_path / "first", progress=False, log=logs.append)
    t = time.perf_counter()
    pretrain(cfg, tmp_path / "second", progress=False, log=logs.append)
    assert time.perf_counter() - t < 5 and any("reused cached" in str(m) for m in logs)
    assert _weights(tmp_path / "first") == _weights(tmp_path / "second")
    proc = run_cli("pretrain", "--mixture", tiny_mixture, "--size", "xs", "--tokens", TINY["tokens"],
                   "--batch-size", 16, "--seq-len", 64, "--no-cache", "--quiet", "--out", tmp_path / "third")
    assert "reused" not in proc.stdout


def test_bad_inputs_give_one_line_errors(tmp_path):
    for args, needle in [
        (["pretrain", "--size", "xxl", "--out", tmp_path / "x"], "--size 'xxl'"),
        (["pretrain", "--mixture", "nope", "--out", tmp_path / "x"], "mixture 'nope'"),
        (["pretrain", "--batch-size", 0, "--out", tmp_path / "x"], "--batch-size"),
        (["eval", "--model", tmp_path / "missing"], "no model.safetensors"),
    ]:
        proc = run_cli(*args, check=False)
        assert proc.returncode == 2, proc.stderr
        assert needle in proc.stderr and "Traceback" not in proc.stderr
        assert len(proc.stderr.strip().splitlines()) <= 2
    assert not (tmp_path / "x").exists()


def test_out_dir_not_empty_without_resume(tmp_path, tiny_mixture):
    out = tmp_path / "busy"
    out.mkdir()
    (out / "file").write_text("x")
    proc = run_cli("pretrain", "--mixture", tiny_mixture, "--out", out, check=False)
    assert proc.returncode == 2 and "not empty" in proc.stderr
