"""The `priorlab` command as a whole: its commands, the `--help` panels, a quiet import, one-line errors,
and the order in which `rl`'s algorithm overrides reach the config."""

import re
import subprocess
import sys
from itertools import takewhile

from priorlab.cli.rl import algo_overrides
from tests.conftest import run_cli

COMMANDS = ("world", "pretrain", "eval", "rl", "sft", "srl", "retest", "report", "diff", "plot", "grade")
OVERRIDE_ORDER = ("baseline", "sign", "w_lambda", "clip", "eps_low", "eps_high", "agg", "kl_beta", "entropy_coef",
                  "dynamic_sampling", "hicra_alpha")


def panel_lines(help_text: str) -> dict[str, list[str]]:
    """{panel title: the lines inside its box} of a rich `--help` screen."""
    out, title = {}, None
    for line in help_text.splitlines():
        if m := re.match(r"\s*╭─ (.+?) ─", line):
            title = m.group(1)
            out[title] = []
        elif line.lstrip().startswith("╰"):
            title = None
        elif title is not None:
            out[title].append(line.strip(" │"))
    return out


def panels(help_text: str) -> dict[str, list[str]]:
    """{panel title: the options it lists, in order} of a rich `--help` screen: the flags at the start of
    each line (`--init,--model`, `--clip  --no-clip`), not those a help text mentions."""
    def flags(line: str) -> list[str]:
        return list(takewhile(lambda w: w.startswith("--"), line.removeprefix("*").replace(",", " ").split()))

    return {title: [f for line in lines for f in flags(line)] for title, lines in panel_lines(help_text).items()}


def test_help_lists_every_command_in_order():
    commands = panel_lines(run_cli("--help").stdout)["Commands"]
    assert tuple(line.split()[0] for line in commands) == COMMANDS


def test_rl_help_groups_options_by_path():
    got = panels(run_cli("rl", "--help").stdout)
    assert list(got) == ["Options", "Run", "Controlled world", "Hugging Face models and data files",
                         "Algorithm overrides"]
    assert got["Options"] == ["--help"]
    assert {"--init", "--out", "--reward", "--algo", "--steps", "--lr", "--resume", "--store-rollouts",
            "--label-samples"} <= set(got["Run"])  # one loop: rollouts and labels work for both paths
    assert got["Controlled world"] == ["--difficulty", "--train-problems", "--one-shot-rule", "--ref-reset-every"]
    assert {"--data", "--eval-data", "--template", "--device", "--top-p"} <= set(got["Hugging Face models and data files"])
    assert [o for o in got["Algorithm overrides"] if not o.startswith("--no-")] == [
        "--" + name.replace("_", "-") for name in OVERRIDE_ORDER]


def test_eval_and_sft_help_have_the_world_and_hf_panels():
    for cmd, world_opt, hf_opt in (("eval", "--difficulty", "--backend"), ("sft", "--teacher-format", "--max-length")):
        got = panels(run_cli(cmd, "--help").stdout)
        assert list(got) == ["Options", "Run", "Controlled world", "Hugging Face models and data files"], cmd
        assert world_opt in got["Controlled world"] and hf_opt in got["Hugging Face models and data files"], cmd


def test_importing_the_cli_prints_nothing_and_loads_no_torch():
    code = "import sys, priorlab.cli; assert 'torch' not in sys.modules, 'priorlab.cli imported torch'"
    for _ in range(2):  # the second interpreter finds the bytecode cached by the first
        proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


def test_unknown_reward_is_one_error_line_and_exit_2(tmp_path):
    proc = run_cli("rl", "--init", tmp_path / "nowhere", "--reward", "bogus", "--out", tmp_path / "rl", check=False)
    assert proc.returncode == 2
    assert proc.stdout == ""
    lines = proc.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: unknown reward 'bogus'"), proc.stderr
    assert not (tmp_path / "rl").exists()


def test_algo_overrides_keeps_the_given_options_in_the_documented_order():
    assert algo_overrides() == ()
    # given out of order, and falsy values (False, 0.0) are given values, not "unset"
    assert algo_overrides(hicra_alpha=0.0, clip=False, baseline="none", kl_beta=0.01) == (
        ("baseline", "none"), ("clip", False), ("kl_beta", 0.01), ("hicra_alpha", 0.0))
    every = dict(zip(reversed(OVERRIDE_ORDER), range(len(OVERRIDE_ORDER))))
    assert algo_overrides(**every) == tuple((name, every[name]) for name in OVERRIDE_ORDER)
