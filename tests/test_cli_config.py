"""--config FILE: a run's own config.json repeats it bitwise; flags override the file; bad files get one error."""

import json

import pytest

from tests.conftest import run_cli

PT = ["--mixture", "code-prior", "--size", "xs", "--tokens", 16 * 64 * 30, "--batch-size", 16, "--seq-len", 64,
      "--eval-every", 10, "--ckpt-every", 10, "--no-cache", "--quiet"]
SMALL_RL = ["--steps", 3, "--prompts-per-step", 2, "--group-size", 2, "--eval-every", 3, "--eval-problems", 4,
            "--ckpt-every", 3, "--minibatches", 1, "--quiet"]


def settings(run) -> dict:
    cfg = json.loads((run / "config.json").read_text())
    cfg.pop("code_version", None)
    return cfg


@pytest.fixture(scope="module")
def prior(tmp_path_factory):
    out = tmp_path_factory.mktemp("cfg") / "pt"
    run_cli("pretrain", *PT, "--out", out)
    return out


def test_pretrain_and_rl_rerun_from_their_config_json_bitwise(prior, tmp_path):
    again = tmp_path / "pt-again"
    run_cli("pretrain", "--config", prior / "config.json", "--no-cache", "--quiet", "--out", again)
    assert (again / "model.safetensors").read_bytes() == (prior / "model.safetensors").read_bytes()
    assert settings(again) == settings(prior)
    rl1, rl2 = tmp_path / "rl1", tmp_path / "rl2"
    run_cli("rl", "--init", prior, *SMALL_RL, "--eps-high", 0.3, "--reward", "random:0.5", "--out", rl1)
    run_cli("rl", "--config", rl1 / "config.json", "--quiet", "--out", rl2)
    assert (rl2 / "model.safetensors").read_bytes() == (rl1 / "model.safetensors").read_bytes()
    assert settings(rl2) == settings(rl1) and settings(rl2)["overrides"] == [["eps_high", 0.3]]


def test_flags_override_the_file_and_fields_without_a_flag_come_from_it(prior, tmp_path):
    f = tmp_path / "rl.yaml"
    f.write_text(f"init: {prior}\nsteps: 3\nprompts_per_step: 2\ngroup_size: 2\neval_every: 3\neval_problems: 4\n"
                 "ckpt_every: 3\nminibatches: 1\nlr: 0.0001\ngrad_clip: 0.5\nadam: {betas: [0.8, 0.9], eps: 1.0e-6}\n"
                 "overrides: [[kl_beta, 0.05]]\n")
    out = tmp_path / "rl"
    run_cli("rl", "--config", f, "--steps", 2, "--quiet", "--out", out)
    cfg = settings(out)
    assert cfg["steps"] == 2 and cfg["lr"] == 1e-4 and cfg["grad_clip"] == 0.5  # the flag won; the file's others
    assert cfg["adam"] == {"betas": [0.8, 0.9], "eps": 1e-6} and cfg["overrides"] == [["kl_beta", 0.05]]


def test_retest_takes_a_config_file(tmp_path):
    f = tmp_path / "rt.yaml"
    f.write_text("claims: one-shot\npreset: smoke\nplan: true\n")
    proc = run_cli("retest", "--config", f, "--out", tmp_path / "o")
    assert "plan: retest one-shot, preset smoke" in proc.stdout and not (tmp_path / "o").exists()


@pytest.mark.parametrize("text, message", [
    ("lrr: 1\n", "unknown setting 'lrr' for `rl`"),
    ("[1, 2]\n", "expected a mapping of settings, got list"),
    ("a: [\n", "not valid YAML"),
])
def test_bad_config_files(tmp_path, text, message):
    f = tmp_path / "c.yaml"
    f.write_text(text)
    proc = run_cli("rl", "--config", f, "--out", tmp_path / "o", check=False)
    assert proc.returncode == 2 and message in " ".join(proc.stderr.split()) and "Traceback" not in proc.stderr
    missing = run_cli("rl", "--config", tmp_path / "none.yaml", "--out", tmp_path / "o", check=False)
    assert missing.returncode == 2 and "no such file" in missing.stderr
