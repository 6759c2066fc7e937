"""Every CLI option says what it does, and `priorlab --version` prints the version."""

import click
import typer.main

import priorlab
from priorlab.cli import app
from tests.conftest import run_cli


def test_every_option_of_every_command_has_help_text():
    cmd = typer.main.get_command(app)
    assert len(cmd.commands) >= 10
    missing = [f"{name or 'priorlab'} {'/'.join(p.opts)}" for name, sub in [("", cmd), *cmd.commands.items()]
               for p in sub.params if isinstance(p, click.Option) and not (p.help or "").strip()]
    assert missing == []
    assert all((sub.help or "").strip() for sub in cmd.commands.values())


def test_version():
    proc = run_cli("--version")
    assert proc.stdout.strip() == f"priorlab {priorlab.__version__}"
