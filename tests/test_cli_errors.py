"""The CLI's error boundary, command by command: a failure from an input or the environment is one `error:`
line naming the flag or path and the cause, exit status 2, no traceback; with --debug the traceback."""

import pytest

from tests.conftest import run_cli
from tests.faults import run_faulty

PRETRAIN = ("pretrain", "--size", "xs", "--tokens", "4000", "--quiet")


def one_error_line(proc, code: int = 2) -> str:
    """The single stderr line of a failed command (asserted: the exit status, nothing else printed)."""
    assert proc.returncode == code, (proc.returncode, proc.stdout, proc.stderr)
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), proc.stderr
    assert "Traceback" not in proc.stdout
    return lines[0]


@pytest.fixture
def pretrained(tmp_path, tiny_mixture):
    out = tmp_path / "pt"
    run_cli("pretrain", "--mixture", tiny_mixture, "--size", "xs", "--tokens", "4000", "--eval-every", "1000",
            "--quiet", "--out", out)
    return out


def test_out_under_a_regular_file_names_the_flag(tmp_path):
    (tmp_path / "f").write_text("x")
    line = one_error_line(run_cli(*PRETRAIN, "--out", tmp_path / "f" / "run", check=False))
    assert line == f"error: --out {tmp_path}/f/run: a parent is a file, not a directory"


def test_out_that_cannot_be_created_names_the_flag_not_an_errno(tmp_path):
    line = one_error_line(run_cli(*PRETRAIN, "--out", "/proc/priorlab-test/run", check=False))
    assert line == "error: --out /proc/priorlab-test/run: no such file or directory (/proc/priorlab-test)"


def test_binary_mixture_file_is_not_utf8(tmp_path):
    (tmp_path / "bin.yaml").write_bytes(bytes(range(128, 256)))
    line = one_error_line(run_cli(*PRETRAIN, "--mixture", tmp_path / "bin.yaml", "--out", tmp_path / "o", check=False))
    assert line.startswith(f"error: mixture {tmp_path}/bin.yaml: not UTF-8 text (invalid start byte at byte 0)")
    assert not (tmp_path / "o").exists()


def test_truncated_safetensors_given_to_rl_init(tmp_path, pretrained):
    blob = (pretrained / "model.safetensors").read_bytes()
    (pretrained / "model.safetensors").write_bytes(blob[: len(blob) // 2])
    line = one_error_line(run_cli("rl", "--init", pretrained, "--steps", "1", "--out", tmp_path / "rl", check=False))
    assert line.startswith(f"error: {pretrained}/model.safetensors: not a readable safetensors file, truncated or "
                           "corrupt (")


def test_full_disk_while_writing_weights_is_one_line_and_no_partial_file(tmp_path, tiny_mixture):
    out = tmp_path / "pt"
    proc = run_faulty("enospc:model.safetensors", *PRETRAIN, "--mixture", tiny_mixture, "--out", out)
    line = one_error_line(proc)
    assert line == (f"error: --out {out}: no space left on device "
                    f"({out}/checkpoints/step_00000000/model.safetensors)")
    assert not list(tmp_path.rglob("*.tmp")) and not list(tmp_path.rglob("model.safetensors"))
    assert not out.exists()  # a failed start leaves nothing: the same command runs again
    run_cli(*PRETRAIN, "--mixture", tiny_mixture, "--out", out)
    assert (out / "summary.json").exists()


def test_debug_shows_the_traceback(tmp_path):
    (tmp_path / "f").write_text("x")
    for args, env in ((("--debug", *PRETRAIN), None), (PRETRAIN, {"PRIORLAB_DEBUG": "1"})):
        proc = run_cli(*args, "--out", tmp_path / "f" / "run", env=env, check=False)
        assert proc.returncode != 0
        assert "Traceback" in proc.stderr and "NotADirectoryError" in proc.stderr


def test_resume_refuses_a_state_that_would_run_code(tmp_path, pretrained, tiny_mixture):
    import torch

    from tests.test_common_checkpoints import RunsCode

    marker = tmp_path / "ran"
    (pretrained / "summary.json").unlink()  # as if killed after its last checkpoint
    state = pretrained / "checkpoints" / "step_00000001" / "state.pt"
    torch.save({"optimizer": RunsCode(marker), "step": 1}, state)
    line = one_error_line(run_cli("pretrain", "--mixture", tiny_mixture, "--size", "xs", "--tokens", "4000",
                                  "--eval-every", "1000", "--quiet", "--out", pretrained, "--resume", check=False))
    assert line.startswith(f"error: {state}: refused: it calls exec when loaded, which could run code")
    assert not marker.exists()


def test_non_finite_settings_are_refused_naming_the_flag(tmp_path):
    for args, flag in ((("pretrain", "--lr", "inf"), "--lr"), (("rl", "--init", tmp_path, "--temperature", "nan"),
                                                               "--temperature"),
                       (("rl", "--init", tmp_path, "--kl-beta", "nan"), "--kl-beta")):
        line = one_error_line(run_cli(*args, "--out", tmp_path / "o", check=False))
        assert line.startswith(f"error: {flag} must be a finite number, got "), line
    assert not (tmp_path / "o").exists()


def test_a_huge_learning_rate_stops_at_the_first_non_finite_step_and_caches_nothing(tmp_path, tiny_mixture):
    out = tmp_path / "pt"
    proc = run_cli("pretrain", "--mixture", tiny_mixture, "--size", "xs", "--tokens", "8000", "--lr", "1e30",
                   "--quiet", "--out", out, check=False)
    line = one_error_line(proc)
    assert line.startswith("error: non-finite ") and line.endswith(
        f"; lower --lr; stopped, last good checkpoint: {out}/checkpoints/step_00000000"), line
    assert not (out / "model.safetensors").exists() and not (out / "summary.json").exists()
    assert not (tmp_path / "cache" / "pretrain").exists() or not any((tmp_path / "cache" / "pretrain").iterdir())


def test_jobs_that_cannot_fit_in_memory_are_refused_before_they_start(tmp_path, tiny_mixture, pretrained):
    huge = tmp_path / "huge.yaml"
    huge.write_text(tiny_mixture.read_text().replace("documents: 3000", "documents: 1000000000000"))
    cases = ((("pretrain", "--mixture", huge, "--size", "xs"), "pretrain", "corpus"),
             (("pretrain", "--mixture", tiny_mixture, "--size", "xs", "--batch-size", "1000000"), "pretrain",
              "activations"),
             (("eval", "--model", pretrained, "--samples", "1000000", "--problems", "1000000"), "eval", "samples kept"))
    for args, what, largest in cases:
        line = one_error_line(run_cli(*args, "--out", tmp_path / "o", check=False))
        assert line.startswith(f"error: {what} would need about ") and f"of memory ({largest} " in line, line
        assert line.endswith("--force runs it anyway"), line
    assert not (tmp_path / "o").exists()


def test_force_runs_a_job_over_the_memory_budget(tmp_path, tiny_mixture):
    args = (*PRETRAIN, "--mixture", tiny_mixture, "--out", tmp_path / "o")
    budget = {"PRIORLAB_MEMORY_BYTES": "1000"}
    assert one_error_line(run_cli(*args, env=budget, check=False)).startswith("error: pretrain would need about ")
    run_cli(*args, "--force", env=budget)
    assert (tmp_path / "o" / "summary.json").exists()


def test_typer_exits_and_usage_errors_pass_through_the_boundary():
    import typer

    from priorlab.cli.errors import cli_errors

    @cli_errors
    def exits():
        raise typer.Exit(3)

    @cli_errors
    def bad():
        raise typer.BadParameter("x")

    with pytest.raises(typer.Exit):
        exits()
    with pytest.raises(typer.BadParameter):
        bad()
