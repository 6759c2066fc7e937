"""Library output goes through `logging` (silent by default, routable); the CLI prints it unless `priorlab -q`."""

import logging

from priorlab.pretrain import PretrainConfig, pretrain
from tests.conftest import run_cli

CFG = PretrainConfig(mixture="code-prior", size="xs", tokens=16 * 64 * 4, batch_size=16, seq_len=64, eval_every=4,
                     ckpt_every=4)


def test_library_functions_log_to_their_module_logger_and_print_nothing(tmp_path, monkeypatch, caplog, capsys):
    monkeypatch.setenv("PRIORLAB_CACHE", str(tmp_path / "cache"))
    pretrain(CFG, tmp_path / "a", progress=False)
    with caplog.at_level(logging.INFO, logger="priorlab"):
        pretrain(CFG, tmp_path / "b", progress=False)
    assert [r.name for r in caplog.records if "reused cached pretrained model" in r.getMessage()] == ["priorlab.pretrain"]
    assert capsys.readouterr().out == ""
    seen = []
    pretrain(CFG, tmp_path / "c", progress=False, log=seen.append)  # a callback still takes it
    assert any("reused cached pretrained model" in m for m in seen)


def test_cli_quiet_drops_the_library_lines_but_not_the_result(tmp_path):
    env = {"PRIORLAB_CACHE": str(tmp_path / "cache")}
    args = ["pretrain", "--mixture", "code-prior", "--size", "xs", "--tokens", 16 * 64 * 4, "--batch-size", 16,
            "--seq-len", 64, "--eval-every", 4, "--ckpt-every", 4, "--quiet"]
    run_cli(*args, "--out", tmp_path / "a", env=env)
    loud = run_cli(*args, "--out", tmp_path / "b", env=env)
    quiet = run_cli("-q", *args, "--out", tmp_path / "c", env=env)
    assert "reused cached pretrained model" in loud.stdout
    assert "reused cached pretrained model" not in quiet.stdout and "pretrained" in quiet.stdout
    both = run_cli("-q", "-v", *args, "--out", tmp_path / "d", env=env, check=False)
    assert both.returncode == 2 and "exclude each other" in both.stderr
