"""Every CLI option says what it does, and `priorlab --version` prints the version."""

import typer.main

import priorlab
from priorlab.cli import app
from tests.conftest import run_cli


def test_every_option_of_every_command_has_help_text():
    cmd = typer.main.get_command(app)
    assert len(cmd.commands) >= 10
    options = [(name or "priorlab", p) for name, sub in [("", cmd), *cmd.commands.items()] for p in sub.params
               if p.param_type_name == "option"]
    assert len(options) > 100  # every command's options were found (typer vendors its own click)
    missing = [f"{name} {'/'.join(p.opts)}" for name, p in options if not (p.help or "").strip()]
    assert missing == []
    assert all((sub.help or "").strip() for sub in cmd.commands.values())


def test_version():
    proc = run_cli("--version")
    assert proc.stdout.strip() == f"priorlab {priorlab.__version__}"
